#include "model/hf_weights.h"

#include <regex>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "model/safetensors.h"
#include "model/torch_bin.h"

namespace pkd::model {

StateDict read_safetensors(const std::string& path) {
  SafetensorsFile f = SafetensorsFile::open(path);
  StateDict out;
  for (const auto& e : f.entries()) {
    torch::ScalarType type;
    if (e.dtype == "F32")
      type = torch::kFloat;
    else if (e.dtype == "F16")
      type = torch::kHalf;
    else if (e.dtype == "BF16")
      type = torch::kBFloat16;
    else if (e.dtype == "F64")
      type = torch::kDouble;
    else
      fail("'", path, "': tensor '", e.name, "' has dtype ", e.dtype,
           "; model weights must be F32, F16 or BF16");
    // The mapping is read-only and dies with `f`: copy into owned memory.
    out[e.name] = torch::from_blob(const_cast<void*>(f.data(e)), e.shape, type).clone();
  }
  return out;
}

StateDict read_pytorch_bin(const std::string& path) {
  if (!file_exists(path)) fail("'", path, "' does not exist");
  StateDict out;
  for (auto& [name, tensor] : read_torch_bin(path)) out[name] = tensor.contiguous();
  return out;
}

StateDict read_checkpoint_dir(const std::string& dir) {
  if (!is_directory(dir)) fail("model directory '", dir, "' does not exist");
  if (file_exists(dir + "/model.safetensors")) return read_safetensors(dir + "/model.safetensors");
  if (file_exists(dir + "/pytorch_model.bin")) return read_pytorch_bin(dir + "/pytorch_model.bin");
  fail("'", dir, "' has neither model.safetensors nor pytorch_model.bin");
}

StateDict normalize_names(const StateDict& checkpoint) {
  StateDict out;
  for (const auto& [raw, tensor] : checkpoint) {
    std::string name = raw;
    if (name.find("LayerNorm") != std::string::npos) {  // TF-era names
      if (ends_with(name, ".gamma")) name = name.substr(0, name.size() - 6) + ".weight";
      if (ends_with(name, ".beta")) name = name.substr(0, name.size() - 5) + ".bias";
    }
    if (!starts_with(name, "bert.") && !starts_with(name, "classifier.") &&
        !starts_with(name, "cls."))
      name = "bert." + name;  // a BertModel checkpoint
    if (out.count(name))
      fail("checkpoint has both '", raw, "' and another tensor that maps to '", name, "'");
    out[name] = tensor;
  }
  return out;
}

std::string LoadReport::summary() const {
  std::string s;
  if (classifier_initialized) s += "classifier initialised anew; ";
  if (!ignored.empty()) s += cat(ignored.size(), " tensors ignored (", join(ignored, ", "), "); ");
  if (!unexpected.empty())
    s += cat(unexpected.size(), " unexpected tensors (", join(unexpected, ", "), "); ");
  return s.empty() ? "all tensors matched" : s.substr(0, s.size() - 2);
}

LoadReport load_state_dict(BertForSequenceClassification& model, const StateDict& checkpoint,
                           const std::string& origin) {
  StateDict ckpt = normalize_names(checkpoint);
  LoadReport report;
  std::vector<std::string> errors;
  torch::NoGradGuard no_grad;
  auto params = model->named_parameters(/*recurse=*/true);
  for (auto& p : params) {
    auto it = ckpt.find(p.key());
    if (it == ckpt.end()) {
      report.missing.push_back(p.key());
      continue;
    }
    if (it->second.sizes() != p.value().sizes()) {
      errors.push_back(cat(p.key(), " has shape ", it->second.sizes(),
                           " in the checkpoint, the model expects ", p.value().sizes()));
      continue;
    }
    p.value().copy_(it->second.to(p.value().scalar_type()));
  }
  for (const auto& [name, tensor] : ckpt) {
    if (params.contains(name)) continue;
    if (starts_with(name, "cls.") || ends_with(name, "position_ids")) {
      report.ignored.push_back(name);
    } else {
      report.unexpected.push_back(name);
      errors.push_back(cat(name, " is not a parameter of this model (",
                           model->config().num_hidden_layers, " layers, hidden ",
                           model->config().hidden_size, ")"));
    }
  }
  bool classifier_missing = false;
  std::vector<std::string> missing_encoder;
  for (const auto& m : report.missing) {
    if (starts_with(m, "classifier."))
      classifier_missing = true;
    else
      missing_encoder.push_back(m);
  }
  if (!missing_encoder.empty())
    errors.push_back(
        cat(missing_encoder.size(), " model parameters are missing: ",
            join(std::vector<std::string>(
                     missing_encoder.begin(),
                     missing_encoder.begin() + std::min<std::size_t>(8, missing_encoder.size())),
                 ", "),
            missing_encoder.size() > 8 ? ", ..." : ""));
  if (!errors.empty()) fail("checkpoint ", origin, " does not fit the model: ", join(errors, "; "));
  if (classifier_missing) {
    model->init_classifier();
    report.classifier_initialized = true;
  }
  return report;
}

StateDict select_layers(const StateDict& checkpoint, const std::vector<std::int64_t>& layers) {
  static const std::regex layer_re(R"(^bert\.encoder\.layer\.(\d+)\.(.*)$)");
  StateDict normalized = normalize_names(checkpoint), out;
  for (const auto& [name, tensor] : normalized) {
    std::smatch m;
    if (!std::regex_match(name, m, layer_re)) {
      out[name] = tensor;
      continue;
    }
    const std::int64_t source = std::stoll(m[1]);
    for (std::size_t i = 0; i < layers.size(); ++i)
      if (layers[i] == source) out[cat("bert.encoder.layer.", i, ".", m[2].str())] = tensor;
  }
  for (std::size_t i = 0; i < layers.size(); ++i)
    if (!out.count(cat("bert.encoder.layer.", i, ".attention.self.query.weight")))
      fail("cannot initialise student layer ", i, " from layer ", layers[i],
           ": the checkpoint has no such encoder layer");
  return out;
}

BertForSequenceClassification load_pretrained(const std::string& dir, LoadReport* report) {
  BertConfig config = BertConfig::load(dir + "/config.json");
  BertForSequenceClassification model(config);
  model->init_weights();
  LoadReport r = load_state_dict(model, read_checkpoint_dir(dir), "'" + dir + "'");
  log_debug("loaded ", dir, ": ", r.summary());
  if (report) *report = r;
  return model;
}

void export_pretrained(BertForSequenceClassification& model, const std::string& dir,
                       const std::string& vocab_path) {
  make_directories(dir);
  std::vector<torch::Tensor> owned;
  std::vector<SafetensorsTensor> tensors;
  for (const auto& p : model->named_parameters(/*recurse=*/true)) {
    owned.push_back(p.value().detach().to(torch::kCPU, torch::kFloat).contiguous());
    tensors.push_back({p.key(), "F32", owned.back().sizes().vec(), owned.back().data_ptr()});
  }
  write_safetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}});
  write_file_atomic(dir + "/config.json", model->config().to_json());
  if (!vocab_path.empty()) write_file_atomic(dir + "/vocab.txt", read_file(vocab_path));
}

void write_state_dict(const std::string& path, const StateDict& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<torch::Tensor> owned;
  std::vector<SafetensorsTensor> entries;
  for (const auto& [name, t] : tensors) {
    const bool f64 = t.scalar_type() == torch::kDouble;
    if (!f64 && t.scalar_type() != torch::kFloat)
      fail("internal: write_state_dict: '", name, "' is ", t.scalar_type(), ", not float32/64");
    owned.push_back(t.detach().to(torch::kCPU).contiguous());
    entries.push_back(
        {name, f64 ? "F64" : "F32", owned.back().sizes().vec(), owned.back().data_ptr()});
  }
  write_safetensors(path, entries, metadata);
}

std::string checkpoint_weights_file(const std::string& dir) {
  for (const char* name : {"model.safetensors", "pytorch_model.bin"})
    if (file_exists(dir + "/" + name)) return dir + "/" + name;
  fail("model directory '", dir, "' has neither model.safetensors nor pytorch_model.bin");
}

}  // namespace pkd::model
