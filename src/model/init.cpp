#include "model/init.h"

#include "core/error.h"
#include "core/log.h"

namespace pkd::model {

std::int64_t TaskHead::outputs() const {
  return regression ? 1 : static_cast<std::int64_t>(label_names.size());
}

BertForSequenceClassification build_classifier(const ClassifierInit& init, const TaskHead& task,
                                               const std::string& table) {
  const std::int64_t outputs = task.outputs();
  auto fit_task = [&](BertConfig& cfg) {
    cfg.num_labels = outputs;
    cfg.labels = task.regression ? std::vector<std::string>{"LABEL_0"} : task.label_names;
    cfg.problem_type = task.regression ? "regression" : "single_label_classification";
    if (init.dropout >= 0)
      cfg.hidden_dropout_prob = cfg.attention_probs_dropout_prob = init.dropout;
  };
  if (init.from == "random") {
    const RandomInitConfig& r = init.random;
    BertConfig cfg;
    cfg.vocab_size = task.vocab_size;
    cfg.hidden_size = r.hidden_size;
    cfg.num_hidden_layers = r.num_hidden_layers;
    cfg.num_attention_heads = r.num_attention_heads;
    cfg.intermediate_size = r.intermediate_size;
    cfg.max_position_embeddings = r.max_position_embeddings;
    cfg.hidden_dropout_prob = r.hidden_dropout_prob;
    cfg.attention_probs_dropout_prob = r.attention_probs_dropout_prob;
    fit_task(cfg);
    cfg.validate(table + ".random_init");
    BertForSequenceClassification m(cfg);
    m->init_weights();
    return m;
  }
  BertConfig cfg = BertConfig::load(init.from + "/config.json");
  fit_task(cfg);
  StateDict weights = normalize_names(read_checkpoint_dir(init.from));
  if (init.layers > 0) {
    if (init.layers > cfg.num_hidden_layers)
      usage_fail(table, ": '", init.from, "' has ", cfg.num_hidden_layers, " layers; ", init.layers,
                 " were asked for");
    std::vector<std::int64_t> first(static_cast<std::size_t>(init.layers));
    for (std::int64_t l = 0; l < init.layers; ++l) first[static_cast<std::size_t>(l)] = l;
    weights = select_layers(weights, first);
    cfg.num_hidden_layers = init.layers;
  }
  BertForSequenceClassification m(cfg);
  m->init_weights();
  for (const char* name : {"classifier.weight", "classifier.bias"}) {
    auto it = weights.find(name);
    if (it != weights.end() && it->second.size(0) != outputs) {
      log_warn("'", init.from, "' has a ", it->second.size(0), "-way classifier; the task needs ",
               outputs, ": it is drawn anew");
      weights.erase(it);
    }
  }
  log_info("initialised from '", init.from,
           "': ", load_state_dict(m, weights, "'" + init.from + "'").summary());
  return m;
}

StateDict model_state(BertForSequenceClassification& m) {
  StateDict s;
  for (const auto& p : m->named_parameters()) s[p.key()] = p.value();
  for (const auto& b : m->named_buffers()) s[b.key()] = b.value();
  return s;
}

}  // namespace pkd::model
