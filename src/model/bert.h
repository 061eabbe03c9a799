#pragma once
// BERT as LibTorch modules with HuggingFace semantics (transformers' BertModel and
// BertForSequenceClassification): post-LN blocks, GELU, additive attention mask, tanh pooler.
// Module names equal HuggingFace parameter paths, so named_parameters() of a
// BertForSequenceClassification are exactly the keys of its HF checkpoint
// ("bert.encoder.layer.0.attention.self.query.weight", ..., "classifier.bias").
#include <torch/nn.h>

#include <vector>

#include "model/bert_config.h"

namespace pkd::model {

class BertEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit BertEmbeddingsImpl(const BertConfig& c);
  // input_ids, token_type_ids: [B, T] int64.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids);

  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr},
      token_type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(BertEmbeddings);

class BertSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit BertSelfAttentionImpl(const BertConfig& c);
  // x: [B, T, H]; mask: additive [B, 1, 1, T] (0 for tokens, a large negative for padding).
  // cls_only: only row 0 ([CLS]) attends, giving [B, 1, H] (keys and values still use all rows).
  // probs: when not null, receives the attention probabilities [B, heads, T, T] (before dropout;
  // exactly 0 at padded keys), what attention distillation compares.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, bool cls_only = false,
                        torch::Tensor* probs = nullptr);

  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
  torch::nn::Dropout dropout{nullptr};
  std::int64_t heads, head_size;
};
TORCH_MODULE(BertSelfAttention);

// Dense + dropout + residual + LayerNorm: BertSelfOutput and BertOutput share this shape.
class BertResidualOutputImpl : public torch::nn::Module {
 public:
  BertResidualOutputImpl(const BertConfig& c, std::int64_t in_features);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& residual);

  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(BertResidualOutput);

class BertAttentionImpl : public torch::nn::Module {
 public:
  explicit BertAttentionImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, bool cls_only = false,
                        torch::Tensor* probs = nullptr);

  BertSelfAttention self{nullptr};
  BertResidualOutput output{nullptr};
};
TORCH_MODULE(BertAttention);

class BertIntermediateImpl : public torch::nn::Module {
 public:
  explicit BertIntermediateImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear dense{nullptr};
  std::string activation;
};
TORCH_MODULE(BertIntermediate);

class BertLayerImpl : public torch::nn::Module {
 public:
  explicit BertLayerImpl(const BertConfig& c);
  // [B, T, H] -> [B, T, H], or [B, 1, H] (the [CLS] row only) when cls_only; `probs` as in
  // BertSelfAttention.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, bool cls_only = false,
                        torch::Tensor* probs = nullptr);

  BertAttention attention{nullptr};
  BertIntermediate intermediate{nullptr};
  BertResidualOutput output{nullptr};
};
TORCH_MODULE(BertLayer);

class BertEncoderImpl : public torch::nn::Module {
 public:
  explicit BertEncoderImpl(const BertConfig& c);
  BertLayerImpl& at(std::size_t i) { return *layer[i]->as<BertLayerImpl>(); }
  std::size_t size() const { return layer->size(); }

  torch::nn::ModuleList layer{nullptr};  // "encoder.layer.N"
};
TORCH_MODULE(BertEncoder);

class BertPoolerImpl : public torch::nn::Module {
 public:
  explicit BertPoolerImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& hidden);  // tanh(dense(hidden[:, 0]))

  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(BertPooler);

// Which hidden states forward() returns besides the logits.
enum class HiddenStates {
  none,
  cls,  // the [CLS] vector of the embeddings output and of every layer: [B, H] each
  all,  // the full [B, T, H] embeddings output and every layer's output
};

struct BertOutput {
  torch::Tensor logits;  // [B, num_labels]
  torch::Tensor pooled;  // [B, H]
  // num_hidden_layers + 1 entries: row 0 = embeddings output, row l = layer l (HiddenStates).
  std::vector<torch::Tensor> hidden_states;
  // With attentions requested: num_hidden_layers entries, entry l-1 = layer l's attention
  // probabilities [B, heads, T, T] (before dropout, 0 at padded keys).
  std::vector<torch::Tensor> attentions;
};

// The [CLS] vectors of `layers` (rows of BertOutput::hidden_states, 0 = embeddings output) from
// a forward with HiddenStates::cls or ::all, as float32 [layers.size(), B, H]: what PKD's patient
// loss compares, for the student (its layers 1..k-1) and the online teacher (the mapped layers)
// alike.
torch::Tensor cls_rows(const BertOutput& out, const std::vector<std::int64_t>& layers);

class BertModelImpl : public torch::nn::Module {
 public:
  explicit BertModelImpl(const BertConfig& c);
  // attention_mask: [B, T], 1 for tokens and 0 for padding. `attentions`: also return every
  // layer's attention probabilities (BertOutput::attentions).
  BertOutput forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                     const torch::Tensor& attention_mask, HiddenStates hidden = HiddenStates::none,
                     bool attentions = false);

  BertEmbeddings embeddings{nullptr};
  BertEncoder encoder{nullptr};
  BertPooler pooler{nullptr};
};
TORCH_MODULE(BertModel);

class BertForSequenceClassificationImpl : public torch::nn::Module {
 public:
  explicit BertForSequenceClassificationImpl(const BertConfig& c);
  BertOutput forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                     const torch::Tensor& attention_mask, HiddenStates hidden = HiddenStates::none,
                     bool attentions = false);
  // HuggingFace's _init_weights: Linear/Embedding ~ N(0, initializer_range), zero biases and
  // padding row, LayerNorm (1, 0). Draws from LibTorch's global generator (seed it first).
  void init_weights();
  // Re-draws only the classifier (a new task head on a pretrained encoder).
  void init_classifier();

  const BertConfig& config() const { return config_; }
  // The parameter indexed by input_ids — its gradient is zero outside the rows a batch's tokens
  // use, which data-parallel training sums row by row (parallel/row_sparse.h).
  torch::Tensor token_indexed_weight() const { return bert->embeddings->word_embeddings->weight; }

  BertModel bert{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear classifier{nullptr};

 private:
  BertConfig config_;
};
TORCH_MODULE(BertForSequenceClassification);

}  // namespace pkd::model
