#pragma once
// BertConfig: the architecture of a BERT model, read from and written to HuggingFace's
// config.json (the keys and defaults of transformers.BertConfig).
#include <cstdint>
#include <string>
#include <vector>

namespace pkd::model {

struct BertConfig {
  std::int64_t vocab_size = 30522;
  std::int64_t hidden_size = 768;
  std::int64_t num_hidden_layers = 12;
  std::int64_t num_attention_heads = 12;
  std::int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";  // gelu (exact erf), gelu_new / gelu_pytorch_tanh, relu
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  std::int64_t max_position_embeddings = 512;
  std::int64_t type_vocab_size = 2;
  double initializer_range = 0.02;  // std of the normal initialisation
  double layer_norm_eps = 1e-12;
  std::int64_t pad_token_id = 0;
  double classifier_dropout = -1;   // < 0: use hidden_dropout_prob (HF's null)
  std::int64_t num_labels = 2;      // 1 = regression
  std::vector<std::string> labels;  // id2label in id order; "LABEL_i" when the file has none
  std::string problem_type;         // "", "regression", "single_label_classification"

  bool is_regression() const { return num_labels == 1 || problem_type == "regression"; }
  std::int64_t head_size() const { return hidden_size / num_attention_heads; }

  // Parses config.json text; `origin` names the file in errors. Checks every value.
  static BertConfig from_json(const std::string& json_text, const std::string& origin);
  static BertConfig load(const std::string& path);
  // HuggingFace config.json for BertForSequenceClassification.
  std::string to_json() const;
  // Throws Error naming the key for impossible values (e.g. hidden_size % heads != 0), values
  // outside the bounds of check_bounds and architectures of more than 2^33 parameters.
  void validate(const std::string& origin) const;
  // Each integer key within its bound (e.g. vocab_size 1..2^22, max_position_embeddings
  // 1..2^20, num_labels 1..2^16; bert_config.cpp lists them): checked before anything is sized.
  void check_bounds(const std::string& origin) const;
  // Parameters of BertForSequenceClassification with this config (as a double: no overflow).
  double num_parameters() const;
};

}  // namespace pkd::model
