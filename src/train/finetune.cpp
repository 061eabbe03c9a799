#include "train/finetune.h"

#include "config/document.h"
#include "core/error.h"
#include "core/log.h"
#include "inference/predict.h"
#include "model/hf_weights.h"

namespace pkd::train {

model::BertForSequenceClassification build_classifier(const std::string& init, std::int64_t layers,
                                                      double dropout, const model::RandomInitConfig& r,
                                                      const shards::TokenShardHeader& tokens,
                                                      const std::string& table) {
  const std::int64_t outputs =
      tokens.regression ? 1 : static_cast<std::int64_t>(tokens.label_names.size());
  auto fit_task = [&](model::BertConfig& cfg) {
    cfg.num_labels = outputs;
    cfg.labels = tokens.regression ? std::vector<std::string>{"LABEL_0"} : tokens.label_names;
    cfg.problem_type = tokens.regression ? "regression" : "single_label_classification";
    if (dropout >= 0) cfg.hidden_dropout_prob = cfg.attention_probs_dropout_prob = dropout;
  };
  if (init == "random") {
    model::BertConfig cfg;
    cfg.vocab_size = tokens.vocab_size;
    cfg.hidden_size = r.hidden_size;
    cfg.num_hidden_layers = r.num_hidden_layers;
    cfg.num_attention_heads = r.num_attention_heads;
    cfg.intermediate_size = r.intermediate_size;
    cfg.max_position_embeddings = r.max_position_embeddings;
    cfg.hidden_dropout_prob = r.hidden_dropout_prob;
    cfg.attention_probs_dropout_prob = r.attention_probs_dropout_prob;
    fit_task(cfg);
    cfg.validate(table + ".random_init");
    model::BertForSequenceClassification m(cfg);
    m->init_weights();
    return m;
  }
  model::BertConfig cfg = model::BertConfig::load(init + "/config.json");
  fit_task(cfg);
  model::StateDict weights = model::normalize_names(model::read_checkpoint_dir(init));
  if (layers > 0) {
    if (layers > cfg.num_hidden_layers)
      usage_fail(table, ": '", init, "' has ", cfg.num_hidden_layers, " layers; ", layers,
                 " were asked for");
    std::vector<std::int64_t> first(static_cast<std::size_t>(layers));
    for (std::int64_t l = 0; l < layers; ++l) first[static_cast<std::size_t>(l)] = l;
    weights = model::select_layers(weights, first);
    cfg.num_hidden_layers = layers;
  }
  model::BertForSequenceClassification m(cfg);
  m->init_weights();
  for (const char* name : {"classifier.weight", "classifier.bias"}) {
    auto it = weights.find(name);
    if (it != weights.end() && it->second.size(0) != outputs) {
      log_warn("'", init, "' has a ", it->second.size(0), "-way classifier; the task needs ",
               outputs, ": it is drawn anew");
      weights.erase(it);
    }
  }
  log_info("initialised from '", init,
           "': ", model::load_state_dict(m, weights, "'" + init + "'").summary());
  return m;
}

void FinetuneConfig::validate() const {
  if (init.empty())
    usage_fail("finetune.init is required: a HuggingFace model directory or \"random\" (--init)");
  if (init_layers < 0) usage_fail("finetune.init_layers must be >= 0, got ", init_layers);
  loop.validate("finetune");
}

TrainResult run_finetune(const FinetuneConfig& c, const OptimizerConfig& oc,
                         const model::RuntimeConfig& rc, const parallel::ReduceConfig& reduce,
                         mpi::Comm& comm) {
  c.validate();
  oc.validate();
  model::Runtime runtime(rc, mpi::local_rank_count());
  torch::manual_seed(static_cast<std::uint64_t>(c.loop.seed));  // same initialisation everywhere

  data::SplitIndex index = data::index_split(c.loop.train);
  auto m = build_classifier(c.init, c.init_layers, -1, c.random_init, index.header, "finetune");
  inference::check_model_fits_tokens(m->config(), index.header, c.init, c.loop.train);
  check_eval_splits(c.loop, index, m->config(), c.init);
  m->to(runtime.device());
  auto reducer = parallel::GradientReducer::create(reduce, comm, runtime.device());

  const bool regression = index.header.regression;
  LossFunction loss = [regression](model::BertForSequenceClassification& model,
                                   const data::Batch& b) {
    auto logits = model(b.input_ids, b.token_type_ids, b.attention_mask).logits;
    torch::Tensor sum =
        regression ? torch::mse_loss(logits.squeeze(-1), b.labels, at::Reduction::Sum)
                   : torch::nn::functional::cross_entropy(
                         logits, b.labels,
                         torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    return LossSums{sum, {}};
  };
  FinetuneConfig table = c;
  TrainerSetup setup =
      make_setup("finetune", config::to_toml("finetune", table), oc, rc, reduce, c.loop.train);
  return run_training(c.loop, oc, runtime, *reducer, comm, m, index, loss, setup);
}

}  // namespace pkd::train
