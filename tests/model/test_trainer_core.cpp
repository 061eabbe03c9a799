// The trainer core in-process, without shards on disk: StepRunner's optimizer step with a toy
// objective on batches built in memory — gradient accumulation is exact, loss sums are what the
// objective returned, the trainer (not the objective) decides precision, a rank without
// examples is harmless, training learns — and the row-sparse gradient's rows.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "model/init.h"
#include "model/runtime.h"
#include "mpi/comm.h"
#include "parallel/gradient_reducer.h"
#include "parallel/row_sparse.h"
#include "train/step.h"

namespace pkd::train {
namespace {

// Cross-entropy on the first logit vs the rest, plus a named part: the batch's token count.
class ToyObjective : public Objective {
 public:
  std::string name() const override { return "toy"; }
  std::vector<std::string> part_names() const override { return {"tokens"}; }
  LossSums loss(model::BertForSequenceClassification& m, const data::Batch& b) override {
    ++calls;
    const auto out = m(b.input_ids, b.token_type_ids, b.attention_mask);
    logits_dtype = out.logits.scalar_type();
    return {task_loss_sum(out.logits, b.labels, false), {b.attention_mask.sum().to(torch::kFloat)}};
  }
  int calls = 0;
  torch::ScalarType logits_dtype = torch::kFloat;
};

model::BertForSequenceClassification tiny_model() {
  torch::manual_seed(7);
  model::ClassifierInit init;
  init.from = "random";
  init.random = {16, 2, 2, 32, 32, 0.0, 0.0};  // no dropout: steps are deterministic
  return model::build_classifier(init, {40, false, {"a", "b"}}, "test");
}

// Examples whose label is whether token 5 occurs: something a 2-layer model learns quickly.
data::Batch make_batch(std::int64_t first, std::int64_t n) {
  std::vector<std::int64_t> ids, labels;
  for (std::int64_t i = first; i < first + n; ++i) {
    const bool yes = i % 2 == 0;
    for (std::int64_t t = 0; t < 6; ++t) ids.push_back(t == 3 && yes ? 5 : 10 + (i * 7 + t) % 25);
    labels.push_back(yes ? 1 : 0);
  }
  data::Batch b;
  b.input_ids = torch::tensor(ids, torch::kLong).reshape({n, 6});
  b.token_type_ids = torch::zeros({n, 6}, torch::kLong);
  b.attention_mask = torch::ones({n, 6}, torch::kLong);
  b.labels = torch::tensor(labels, torch::kLong);
  return b;
}

struct Fixture {
  explicit Fixture(const std::string& precision = "float32") {
    model::RuntimeConfig rc;
    rc.precision = precision;
    rc.intra_op_threads = 1;
    runtime = std::make_unique<model::Runtime>(rc, 1);
    reducer = parallel::GradientReducer::create({}, mpi::Comm::world());
    oc.learning_rate = 1e-3;
  }
  std::unique_ptr<model::Runtime> runtime;
  std::unique_ptr<parallel::GradientReducer> reducer;
  OptimizerConfig oc;
};

TEST(TrainerCore, AccumulatedMicroBatchesEqualOneBatch) {
  Fixture f;
  auto whole = tiny_model(), split = tiny_model();
  ToyObjective o1, o2;
  StepRunner r1(f.oc, *f.runtime, *f.reducer, mpi::Comm::world(), whole, o1, 1);
  StepRunner r2(f.oc, *f.runtime, *f.reducer, mpi::Comm::world(), split, o2, 1);
  StepProfile profile;
  for (std::int64_t step = 0; step < 3; ++step) {
    const auto a = r1.step(
        step, 8, 1, [&](std::size_t) { return make_batch(8 * step, 8); }, 1e-3, profile);
    const auto b = r2.step(
        step, 8, 2,
        [&](std::size_t j) { return make_batch(8 * step + 4 * static_cast<std::int64_t>(j), 4); },
        1e-3, profile);
    EXPECT_EQ(a.examples, 8);
    // Loss sums: the total and the part the objective returned, summed over micro-batches.
    EXPECT_NEAR(a.sums[0].item<double>(), b.sums[0].item<double>(), 1e-4);
    EXPECT_DOUBLE_EQ(a.sums[1].item<double>(), 48.0);  // 8 examples x 6 tokens
    EXPECT_DOUBLE_EQ(b.sums[1].item<double>(), 48.0);
  }
  EXPECT_EQ(o1.calls, 3);
  EXPECT_EQ(o2.calls, 6);
  const auto pa = model::model_state(whole), pb = model::model_state(split);
  for (const auto& [name, t] : pa) EXPECT_TRUE(torch::allclose(t, pb.at(name), 1e-5, 1e-6)) << name;
  // And the step did move the weights.
  auto initial = tiny_model();
  EXPECT_FALSE(torch::equal(pa.at("classifier.weight"),
                            model::model_state(initial).at("classifier.weight")));
}

TEST(TrainerCore, TheTrainerDecidesPrecision) {
  Fixture f("bfloat16");
  auto m = tiny_model();
  ToyObjective o;
  StepRunner r(f.oc, *f.runtime, *f.reducer, mpi::Comm::world(), m, o, 1);
  StepProfile profile;
  r.step(
      0, 4, 1, [&](std::size_t) { return make_batch(0, 4); }, 1e-3, profile);
  EXPECT_EQ(o.logits_dtype, torch::kBFloat16);  // the forward ran under the runtime's autocast
  for (const auto& p : m->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat);
}

TEST(TrainerCore, ARankWithoutExamplesAndLearning) {
  Fixture f;
  auto m = tiny_model();
  ToyObjective o;
  StepRunner r(f.oc, *f.runtime, *f.reducer, mpi::Comm::world(), m, o, 1);
  StepProfile profile;
  // No micro-batch on this rank: zero loss sums, and the step still completes.
  const auto none = r.step(
      0, 4, 2, [](std::size_t) { return std::optional<data::Batch>(); }, 1e-3, profile);
  EXPECT_EQ(none.sums[0].item<double>(), 0.0);
  EXPECT_EQ(o.calls, 0);
  double first = 0, last = 0;
  for (std::int64_t step = 1; step <= 60; ++step) {
    const auto s = r.step(
        step, 16, 1, [&](std::size_t) { return make_batch(16 * (step % 4), 16); }, 3e-3, profile);
    const double mean = s.sums[0].item<double>() / 16;
    if (step == 1) first = mean;
    last = mean;
  }
  EXPECT_LT(last, 0.5 * first) << "the toy task was not learned: first " << first << ", last "
                               << last;
}

TEST(RowSparseGradient, MarksRowsAndSumsOnlyThem) {
  auto table = torch::zeros({10, 3});
  parallel::RowSparseGradient g(table);
  g.mark(torch::tensor(std::vector<std::int64_t>{4, 2, 4}, torch::kLong));
  g.mark(torch::tensor(std::vector<std::int64_t>{7}, torch::kLong));
  auto rows = g.agreed_rows(mpi::Comm::world());
  EXPECT_TRUE(torch::equal(rows, torch::tensor(std::vector<std::int64_t>{2, 4, 7}, torch::kLong)));
  g.clear();
  EXPECT_EQ(g.agreed_rows(mpi::Comm::world()).numel(), 0);
  EXPECT_THROW(g.mark(torch::tensor(std::vector<std::int64_t>{10}, torch::kLong)), Error);
}

}  // namespace
}  // namespace pkd::train
