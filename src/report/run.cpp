#include "report/run.h"

#include <filesystem>

#include "core/strings.h"

namespace pkd::report {

const char* to_string(RunKind kind) {
  switch (kind) {
    case RunKind::teacher:
      return "teacher";
    case RunKind::fine_tuned:
      return "ft";
    case RunKind::kd:
      return "kd";
    case RunKind::pkd:
      return "pkd";
  }
  return "?";
}

const char* to_string(RunStatus status) {
  switch (status) {
    case RunStatus::complete:
      return "complete";
    case RunStatus::unfinished:
      return "unfinished";
    case RunStatus::no_dev:
      return "no dev split";
    case RunStatus::unreadable:
      return "unreadable";
  }
  return "?";
}

RunKind classify(const std::string& command, std::int64_t init_layers, double alpha, double beta,
                 bool token_terms) {
  if (command == "finetune") return init_layers > 0 ? RunKind::fine_tuned : RunKind::teacher;
  if (beta > 0) return RunKind::pkd;
  return alpha > 0 || token_terms ? RunKind::kd : RunKind::fine_tuned;
}

std::string layer_map_label(const std::string& layer_map) {
  const std::string map = to_lower_ascii(trim(layer_map));
  if (map == "skip") return "Skip";
  if (map == "last") return "Last";
  std::string list;
  for (const auto& part : split(map, ','))
    list += (list.empty() ? "" : ",") + std::string(trim(part));
  return "[" + list + "]";
}

std::string row_label(RunKind kind, std::int64_t layers, const std::string& layer_map) {
  const std::string bert = "BERT" + (layers > 0 ? std::to_string(layers) : std::string("?"));
  switch (kind) {
    case RunKind::teacher:
      return bert + " (teacher)";
    case RunKind::fine_tuned:
      return bert + "-FT";
    case RunKind::kd:
      return bert + "-KD";
    case RunKind::pkd:
      return bert + "-PKD-" + layer_map_label(layer_map);
  }
  return bert;
}

std::string Run::row() const {
  std::string terms;
  if (hp.hidden_weight > 0) terms += "+HID";
  if (hp.embedding_weight > 0) terms += "+EMB";
  if (hp.attention_weight > 0) terms += hp.attention_loss == "kl" ? "+ATT-KL" : "+ATT";
  std::string row = row_label(kind, layers, hp.layer_map);
  // KD's row without KD (alpha = 0): the token-level terms alone name it.
  if (kind == RunKind::kd && !(hp.alpha > 0) && !terms.empty())
    row = row.substr(0, row.size() - 3) + "-" + terms.substr(1);
  else
    row += terms;
  if (hp.student_hidden_size > 0) {  // "BERT4-..." -> "BERT4x312-..."
    const auto dash = row.find('-');
    row.insert(dash == std::string::npos ? row.size() : dash,
               "x" + std::to_string(hp.student_hidden_size));
  }
  return row;
}

std::string Run::dev_split() const {
  std::filesystem::path p = std::filesystem::path(dev).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // "tokens/SST-2/dev/"
  return p.filename().string();
}

}  // namespace pkd::report
