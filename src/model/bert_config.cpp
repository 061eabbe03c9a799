#include "model/bert_config.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"

namespace pkd::model {
using nlohmann::json;

namespace {

template <class T>
void read_key(const json& j, const char* key, T& value, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;  // keep the default, as transformers does
  try {
    value = it->get<T>();
  } catch (const json::exception&) {
    fail(origin, ": key '", key, "' has value ", it->dump(), " of the wrong type");
  }
}

}  // namespace

BertConfig BertConfig::from_json(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail(origin, " is not valid JSON: ", e.what());
  }
  if (!j.is_object()) fail(origin, " is not a JSON object");
  if (j.contains("model_type") && j["model_type"] != "bert")
    fail(origin, ": model_type is ", j["model_type"].dump(), ", expected \"bert\"");
  if (j.contains("position_embedding_type") && j["position_embedding_type"] != "absolute")
    fail(origin, ": position_embedding_type ", j["position_embedding_type"].dump(),
         " is not supported (only \"absolute\", BERT's)");
  BertConfig c;
  read_key(j, "vocab_size", c.vocab_size, origin);
  read_key(j, "hidden_size", c.hidden_size, origin);
  read_key(j, "num_hidden_layers", c.num_hidden_layers, origin);
  read_key(j, "num_attention_heads", c.num_attention_heads, origin);
  read_key(j, "intermediate_size", c.intermediate_size, origin);
  read_key(j, "hidden_act", c.hidden_act, origin);
  read_key(j, "hidden_dropout_prob", c.hidden_dropout_prob, origin);
  read_key(j, "attention_probs_dropout_prob", c.attention_probs_dropout_prob, origin);
  read_key(j, "max_position_embeddings", c.max_position_embeddings, origin);
  read_key(j, "type_vocab_size", c.type_vocab_size, origin);
  read_key(j, "initializer_range", c.initializer_range, origin);
  read_key(j, "layer_norm_eps", c.layer_norm_eps, origin);
  read_key(j, "pad_token_id", c.pad_token_id, origin);
  read_key(j, "classifier_dropout", c.classifier_dropout, origin);
  read_key(j, "problem_type", c.problem_type, origin);
  // Labels: id2label when present (its size is num_labels), else num_labels, else 2.
  if (j.contains("id2label") && j["id2label"].is_object() && !j["id2label"].empty()) {
    const json& m = j["id2label"];
    c.num_labels = static_cast<std::int64_t>(m.size());
    for (std::int64_t i = 0; i < c.num_labels; ++i) {
      auto it = m.find(std::to_string(i));
      if (it == m.end() || !it->is_string())
        fail(origin, ": id2label has no string entry for id ", i, " (ids must be 0..",
             c.num_labels - 1, ")");
      c.labels.push_back(it->get<std::string>());
    }
  } else {
    read_key(j, "num_labels", c.num_labels, origin);
  }
  if (c.labels.empty())
    for (std::int64_t i = 0; i < c.num_labels; ++i)
      c.labels.push_back("LABEL_" + std::to_string(i));
  c.validate(origin);
  return c;
}

BertConfig BertConfig::load(const std::string& path) {
  if (!file_exists(path)) fail("model config '", path, "' does not exist");
  return from_json(read_file(path), "'" + path + "'");
}

void BertConfig::validate(const std::string& origin) const {
  auto positive = [&](const char* key, std::int64_t v) {
    if (v <= 0) fail(origin, ": ", key, " must be positive, got ", v);
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("intermediate_size", intermediate_size);
  positive("max_position_embeddings", max_position_embeddings);
  positive("type_vocab_size", type_vocab_size);
  positive("num_labels", num_labels);
  if (hidden_size % num_attention_heads != 0)
    fail(origin, ": hidden_size ", hidden_size, " is not a multiple of num_attention_heads ",
         num_attention_heads);
  if (hidden_act != "gelu" && hidden_act != "gelu_new" && hidden_act != "gelu_pytorch_tanh" &&
      hidden_act != "relu")
    fail(origin, ": hidden_act \"", hidden_act,
         "\" is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)");
  for (double p : {hidden_dropout_prob, attention_probs_dropout_prob})
    if (p < 0 || p >= 1) fail(origin, ": dropout probabilities must be in [0, 1), got ", p);
  if (layer_norm_eps <= 0) fail(origin, ": layer_norm_eps must be positive, got ", layer_norm_eps);
  if (pad_token_id < 0 || pad_token_id >= vocab_size)
    fail(origin, ": pad_token_id ", pad_token_id, " is outside the vocabulary (", vocab_size, ")");
  if (static_cast<std::int64_t>(labels.size()) != num_labels)
    fail(origin, ": ", labels.size(), " label names for num_labels = ", num_labels);
  if (!problem_type.empty() && problem_type != "regression" &&
      problem_type != "single_label_classification")
    fail(origin, ": problem_type \"", problem_type,
         "\" is not supported (regression, single_label_classification)");
}

std::string BertConfig::to_json() const {
  json id2label = json::object(), label2id = json::object();
  for (std::size_t i = 0; i < labels.size(); ++i) {
    id2label[std::to_string(i)] = labels[i];
    label2id[labels[i]] = i;
  }
  json j = {
      {"architectures", {"BertForSequenceClassification"}},
      {"model_type", "bert"},
      {"vocab_size", vocab_size},
      {"hidden_size", hidden_size},
      {"num_hidden_layers", num_hidden_layers},
      {"num_attention_heads", num_attention_heads},
      {"intermediate_size", intermediate_size},
      {"hidden_act", hidden_act},
      {"hidden_dropout_prob", hidden_dropout_prob},
      {"attention_probs_dropout_prob", attention_probs_dropout_prob},
      {"max_position_embeddings", max_position_embeddings},
      {"type_vocab_size", type_vocab_size},
      {"initializer_range", initializer_range},
      {"layer_norm_eps", layer_norm_eps},
      {"pad_token_id", pad_token_id},
      {"position_embedding_type", "absolute"},
      {"classifier_dropout", classifier_dropout < 0 ? json(nullptr) : json(classifier_dropout)},
      {"id2label", id2label},
      {"label2id", label2id},
      {"torch_dtype", "float32"}};
  if (!problem_type.empty()) j["problem_type"] = problem_type;
  return j.dump(2) + "\n";
}

}  // namespace pkd::model
