#include "model/bert_config.h"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"

namespace pkd::model {
using nlohmann::json;

namespace {

// Bounds of the architecture keys, checked before anything is allocated: a config.json is input,
// and one typo (max_position_embeddings = 2^40) must be a message, not an allocator abort. Each
// bound is far above any BERT (bert-large: vocab 30522, hidden 1024, 24 layers, 4096
// intermediate, 512 positions, 2 types) and well below what overflows or cannot be allocated.
struct IntBound {
  const char* key;
  std::int64_t BertConfig::*field;
  std::int64_t min, max;
  const char* why;
};
const IntBound kIntBounds[] = {
    {"vocab_size", &BertConfig::vocab_size, 1, std::int64_t{1} << 22, "2^22 tokens"},
    {"hidden_size", &BertConfig::hidden_size, 1, std::int64_t{1} << 16, "2^16"},
    {"num_hidden_layers", &BertConfig::num_hidden_layers, 1, 1024, "1024 layers"},
    {"num_attention_heads", &BertConfig::num_attention_heads, 1, 1024, "1024 heads"},
    {"intermediate_size", &BertConfig::intermediate_size, 1, std::int64_t{1} << 18, "2^18"},
    {"max_position_embeddings", &BertConfig::max_position_embeddings, 1, std::int64_t{1} << 20,
     "2^20 positions"},
    {"type_vocab_size", &BertConfig::type_vocab_size, 1, 1024, "2^10 segment types"},
    {"num_labels", &BertConfig::num_labels, 1, std::int64_t{1} << 16, "2^16 labels"},
};
// Parameters of the whole classifier: at most 2^33 (8.6e9; 32 GiB as float32, 4x that while
// training with AdamW). bert-large has 3.4e8.
constexpr double kMaxParameters = 8589934592.0;
// config.json is read whole; real ones are a few KiB (a big id2label map: a few MiB).
constexpr std::uintmax_t kMaxConfigBytes = 16u << 20;

// A JSON value for a message, without dumping a (possibly huge or deeply nested) container.
std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::array:
      return cat("an array of ", v.size());
    case json::value_t::object:
      return cat("an object of ", v.size(), " keys");
    case json::value_t::string: {
      const auto& str = v.get_ref<const std::string&>();
      // replace: a cut inside a UTF-8 sequence (or a bad one) must not throw from a message.
      const auto shown = str.size() <= 40 ? v : json(str.substr(0, 40));
      return shown.dump(-1, ' ', false, json::error_handler_t::replace) +
             (str.size() <= 40 ? "" : "...");
    }
    default:
      return v.dump();  // a number, true/false or null
  }
}

[[noreturn]] void wrong_type(const std::string& origin, const char* key, const json& v,
                             const std::string& expected) {
  fail(origin, ": key '", key, "' has a value of the wrong type: expected ", expected, ", found ",
       describe(v));
}

// An exact JSON integer: 64.5, 64.0, true and "64" are refused, not truncated or converted.
void read_int(const json& j, const char* key, std::int64_t& value, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;  // keep the default, as transformers does
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > std::uint64_t{INT64_MAX})
    fail(origin, ": key '", key, "' must be an integer below 2^63, found ", describe(*it));
  if (!it->is_number_integer()) wrong_type(origin, key, *it, "an integer");
  value = it->get<std::int64_t>();
}

// A JSON number (integers are fine: "layer_norm_eps": 1 is 1.0). JSON has no NaN or infinity,
// but a huge exponent (1e999) parses to infinity: refused here.
void read_double(const json& j, const char* key, double& value, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_number()) wrong_type(origin, key, *it, "a number");
  value = it->get<double>();
  if (!std::isfinite(value))
    fail(origin, ": key '", key, "' must be a finite number, found ", value);
}

void read_string(const json& j, const char* key, std::string& value, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_string()) wrong_type(origin, key, *it, "a string");
  value = it->get<std::string>();
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
    fail(origin, ": model_type is ", describe(j["model_type"]), ", expected \"bert\"");
  if (j.contains("position_embedding_type") && j["position_embedding_type"] != "absolute")
    fail(origin, ": position_embedding_type ", describe(j["position_embedding_type"]),
         " is not supported (only \"absolute\", BERT's)");
  BertConfig c;
  for (const auto& b : kIntBounds)
    if (std::string(b.key) != "num_labels") read_int(j, b.key, c.*b.field, origin);
  read_int(j, "pad_token_id", c.pad_token_id, origin);
  read_string(j, "hidden_act", c.hidden_act, origin);
  read_string(j, "problem_type", c.problem_type, origin);
  read_double(j, "hidden_dropout_prob", c.hidden_dropout_prob, origin);
  read_double(j, "attention_probs_dropout_prob", c.attention_probs_dropout_prob, origin);
  read_double(j, "initializer_range", c.initializer_range, origin);
  read_double(j, "layer_norm_eps", c.layer_norm_eps, origin);
  read_double(j, "classifier_dropout", c.classifier_dropout, origin);
  // Labels: id2label when present (its size is num_labels), else num_labels, else 2. The count
  // is bounded before any label name is made.
  const auto id2label = j.find("id2label");
  if (id2label != j.end() && id2label->is_object() && !id2label->empty()) {
    const json& m = *id2label;
    c.num_labels = static_cast<std::int64_t>(m.size());
    c.check_bounds(origin);
    for (std::int64_t i = 0; i < c.num_labels; ++i) {
      auto it = m.find(std::to_string(i));
      if (it == m.end() || !it->is_string())
        fail(origin, ": id2label has no string entry for id ", i, " (ids must be 0..",
             c.num_labels - 1, ")");
      c.labels.push_back(it->get<std::string>());
    }
  } else {
    read_int(j, "num_labels", c.num_labels, origin);
    c.check_bounds(origin);
  }
  if (c.labels.empty())
    for (std::int64_t i = 0; i < c.num_labels; ++i)
      c.labels.push_back("LABEL_" + std::to_string(i));
  c.validate(origin);
  return c;
}

BertConfig BertConfig::load(const std::string& path) {
  if (!file_exists(path)) fail("model config '", path, "' does not exist");
  std::error_code ec;
  const std::uintmax_t bytes = std::filesystem::file_size(path, ec);
  if (!ec && bytes > kMaxConfigBytes)
    fail("model config '", path, "' has ", bytes, " bytes; a config.json has at most ",
         kMaxConfigBytes, " (is this the right file?)");
  return from_json(read_file(path), "'" + path + "'");
}

void BertConfig::check_bounds(const std::string& origin) const {
  for (const auto& b : kIntBounds) {
    const std::int64_t v = this->*b.field;
    if (v < b.min || v > b.max)
      fail(origin, ": key '", b.key, "' must be in ", b.min, "..", b.max, " (", b.why, "), found ",
           v);
  }
}

double BertConfig::num_parameters() const {
  const double h = static_cast<double>(hidden_size), i = static_cast<double>(intermediate_size);
  const double embeddings =
      static_cast<double>(vocab_size + max_position_embeddings + type_vocab_size) * h + 2 * h;
  const double layer = 4 * (h * h + h) + 2 * h * i + i + h + 4 * h;  // attention, FFN, 2 LNs
  const double head = h * h + h + h * static_cast<double>(num_labels + 1);
  return embeddings + static_cast<double>(num_hidden_layers) * layer + head;
}

void BertConfig::validate(const std::string& origin) const {
  check_bounds(origin);
  if (hidden_size % num_attention_heads != 0)
    fail(origin, ": hidden_size ", hidden_size, " is not a multiple of num_attention_heads ",
         num_attention_heads);
  if (num_parameters() > kMaxParameters)
    fail(origin, ": this architecture has ", num_parameters(),
         " parameters; pkd refuses more than 2^33 (", kMaxParameters,
         ", 32 GiB as float32): check vocab_size, hidden_size, num_hidden_layers, "
         "intermediate_size and max_position_embeddings");
  if (hidden_act != "gelu" && hidden_act != "gelu_new" && hidden_act != "gelu_pytorch_tanh" &&
      hidden_act != "relu")
    fail(origin, ": hidden_act \"", hidden_act,
         "\" is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)");
  // Written so that NaN fails every check (a config built in code never went through read_*).
  auto probability = [&](const char* key, double p) {
    if (!(p >= 0 && p < 1)) fail(origin, ": key '", key, "' must be in [0, 1), found ", p);
  };
  probability("hidden_dropout_prob", hidden_dropout_prob);
  probability("attention_probs_dropout_prob", attention_probs_dropout_prob);
  if (!(classifier_dropout < 0))  // < 0: HF's null (use hidden_dropout_prob); NaN is checked
    probability("classifier_dropout", classifier_dropout);
  if (!(layer_norm_eps > 0 && layer_norm_eps <= 1))
    fail(origin, ": key 'layer_norm_eps' must be in (0, 1], found ", layer_norm_eps);
  if (!(initializer_range >= 0 && initializer_range <= 1))
    fail(origin, ": key 'initializer_range' must be in [0, 1], found ", initializer_range);
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
