#pragma once
// [distill] and [distill.loss]: the settings of `pkd distill`, torch-free so that `pkd sweep` and
// `pkd report` write and read them through these structs (distill/distill.h runs them,
// distill/pkd_loss.h computes the loss).
#include <cstdint>
#include <string>

#include "train/loop_config.h"

namespace pkd::distill {

// How the KD term averages KL(p_t || p_s): per example (the seed's batchmean), or also over the
// classes (the official code's KLDivLoss(reduction='mean')).
enum class KdReduction { kBatchMean, kElementwiseMean };

// How attention maps are compared: squared error of the probabilities (TinyBERT's form) or
// KL(teacher row || student row) per query (MiniLM's).
enum class AttentionLoss { kMse, kKl };

struct PkdLossConfig {
  double alpha = 0.5;       // weight of the soft (KD) loss; 1 - alpha weighs the hard loss
  double beta = 100;        // weight of the patient (PT) loss
  double temperature = 10;  // T of the softmaxes
  std::string kd_reduction = "batchmean";  // batchmean | elementwise_mean (KdReduction)
  bool kd_t_squared = true;        // multiply KD by T^2 (keeps its gradient scale independent of T)
  bool pt_normalize = true;        // L2-normalise [CLS] vectors before the PT distance
  std::string layer_map = "skip";  // skip | last | "2,4,6,8,10" (docs: distill/layer_map.h)
  // Beyond [CLS] (distill/token_losses.h): weights of the token-level terms, 0 = off.
  double hidden_weight = 0;            // every token's hidden state, student layers 1..k
  double embedding_weight = 0;         // every token's embeddings output (layer 0)
  double attention_weight = 0;         // attention probabilities, student layers 1..k
  std::string attention_loss = "mse";  // mse | kl (AttentionLoss)

  template <class V>
  void visit(V& v) {
    v.field("alpha", alpha, "weight of the KD loss (1 - alpha: the cross-entropy); 0 = no KD");
    v.field("beta", beta, "weight of the patient loss over intermediate [CLS] vectors; 0 = off");
    v.field("temperature", temperature, "softmax temperature T of the KD loss");
    v.field(
        "kd_reduction", kd_reduction,
        "batchmean (KL per example, the seed) or elementwise_mean (also / classes, official code)");
    v.field("kd_t_squared", kd_t_squared, "multiply the KD loss by T^2");
    v.field("pt_normalize", pt_normalize, "L2-normalise [CLS] vectors before the patient loss");
    v.field("layer_map", layer_map,
            "teacher layers for student layers 1..k-1: skip, last, or a list like \"2,4,6,8,10\"; "
            "the token-level terms add student layer k -> teacher layer L");
    v.field(
        "hidden_weight", hidden_weight,
        "weight of the token-level hidden-state MSE of student layers 1..k against their mapped "
        "teacher layers (TinyBERT); 0 = off");
    v.field("embedding_weight", embedding_weight,
            "weight of the token-level MSE between the embeddings outputs (layer 0); 0 = off");
    v.field("attention_weight", attention_weight,
            "weight of the attention-probability loss of student layers 1..k against their "
            "mapped teacher layers; 0 = off");
    v.field("attention_loss", attention_loss,
            "mse (squared error of the probabilities, TinyBERT) or kl (KL(teacher || student) per "
            "query row, MiniLM)");
  }
  void validate() const;
  KdReduction reduction() const;    // kd_reduction parsed; UsageError naming the key when unknown
  AttentionLoss attention() const;  // attention_loss parsed, likewise
  bool needs_teacher() const {
    return alpha > 0 || beta > 0 || hidden_weight > 0 || embedding_weight > 0 ||
           attention_weight > 0;
  }
  // Any term that compares hidden states, which need a projection for a narrower student.
  bool compares_hidden() const { return beta > 0 || hidden_weight > 0 || embedding_weight > 0; }
};

struct DistillConfig {
  std::string teacher;   // the teacher's HF directory (checked against the features; online)
  std::string features;  // FEATURES/<train split> from `pkd cache-teacher`
  bool online_teacher = false;
  std::string student_init =
      "teacher";  // an HF directory (the paper: pretrained BERT) | teacher | random
  std::int64_t student_layers = 6;
  // student_init = random only: the student's width (-1 = the teacher's), feed-forward size
  // (-1 = 4 x hidden, BERT's ratio) and attention heads (-1 = the teacher's).
  std::int64_t student_hidden_size = -1;
  std::int64_t student_intermediate_size = -1;
  std::int64_t student_heads = -1;
  double student_dropout = -1;  // hidden + attention dropout of the student; -1 = the init's
  train::LoopConfig loop;  // train, dev, test, output_dir, epochs, batch_size, ... (same table)
  PkdLossConfig loss;      // [distill.loss]

  template <class V>
  void visit(V& v) {
    v.field("teacher", teacher,
            "the teacher's HuggingFace directory: checked against the features' fingerprint, run "
            "by online_teacher, and the default student initialisation");
    v.field("features", features,
            "teacher features of the train split (pkd cache-teacher --out), e.g. "
            "features/SST-2/train");
    v.field("online_teacher", online_teacher,
            "run the teacher every step instead of reading features (the seed's way; slow)");
    v.field("student_init", student_init,
            "where the student's embeddings and first k layers come from: a pretrained "
            "HuggingFace directory such as bert-base-uncased (the paper's and the official "
            "code's initialisation, classifier drawn anew), teacher (the fine-tuned teacher's; "
            "not the paper's, a warmer start), or random (the teacher's architecture, k layers)");
    v.field("student_layers", student_layers, "k: the student's number of layers");
    v.field("student_hidden_size", student_hidden_size,
            "student_init = random: the student's hidden size, e.g. 312 or 384 (-1 = the "
            "teacher's); a narrower student learns hidden states through a learned projection");
    v.field("student_intermediate_size", student_intermediate_size,
            "student_init = random: the student's feed-forward size (-1 = 4 x hidden size)");
    v.field("student_heads", student_heads,
            "student_init = random: the student's attention heads (-1 = the teacher's)");
    v.field("student_dropout", student_dropout,
            "hidden and attention dropout of the student (-1 = as in the init's config)");
    loop.visit(v);
    v.table("loss", loss,
            "The loss: L = (1 - alpha) CE + alpha KD + beta PT + hidden_weight HID + "
            "embedding_weight EMB + attention_weight ATT");
  }
  void validate() const;
};

}  // namespace pkd::distill
