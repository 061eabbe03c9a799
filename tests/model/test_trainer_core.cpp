// The trainer core in-process, without shards on disk: StepRunner's optimizer step with a toy
// objective on batches built in memory — gradient accumulation is exact, loss sums are what the
// objective returned, the trainer (not the objective) decides precision, float16's loss scaling
// skips an overflowed step and unscales the others, a rank without examples is harmless,
// training learns — the row-sparse gradient's rows, and the gradient sums
// overlapped with backward (bucket logic; the real Gloo collectives: tests/mpi/overlap_np2.sh).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "model/init.h"
#include "model/runtime.h"
#include "mpi/comm.h"
#include "parallel/gradient_reducer.h"
#include "parallel/overlapped_sum.h"
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

// float16's dynamic loss scaling (GradScaler semantics) in StepRunner, driven on the CPU through
// a scaler set by hand: a step whose scaled gradients overflow is skipped (weights, moments and
// Adam's step count untouched, gradients released, the scale halved, the skip counted), and a
// finite step with a power-of-two scale equals the unscaled step.
TEST(TrainerCore, LossScalingSkipsAnOverflowedStepAndUnscalesTheOthers) {
  Fixture f;
  auto plain = tiny_model(), scaled = tiny_model();
  auto fresh = tiny_model();
  const auto initial = model::model_state(fresh);
  ToyObjective o1, o2;
  StepRunner reference(f.oc, *f.runtime, *f.reducer, mpi::Comm::world(), plain, o1, 1);
  StepRunner runner(f.oc, *f.runtime, *f.reducer, mpi::Comm::world(), scaled, o2, 1);
  StepProfile profile;
  auto batch = [](std::int64_t step) {
    return [step](std::size_t) { return make_batch(8 * step, 8); };
  };
  // 1e48 / 8 is beyond float32: the scaled loss, and so every gradient, is inf or NaN.
  runner.scaler() = LossScaler(true, 1e48);
  const auto skipped = runner.step(0, 8, 1, batch(0), 1e-3, profile);
  EXPECT_TRUE(std::isfinite(skipped.sums[0].item<double>()));  // the loss itself, unscaled
  EXPECT_EQ(runner.scaler().skipped(), 1);
  EXPECT_DOUBLE_EQ(runner.scaler().scale(), 5e47);
  EXPECT_EQ(runner.scaler().growth_tracker(), 0);
  EXPECT_EQ(runner.optimizer().steps(), 0);
  for (const auto& p : scaled->parameters()) EXPECT_FALSE(p.grad().defined());
  for (const auto& [name, t] : model::model_state(scaled))
    EXPECT_TRUE(torch::equal(t, initial.at(name))) << name << " changed in a skipped step";
  for (const auto& [name, t] : runner.optimizer().state()) {
    if (name == "step") continue;
    EXPECT_EQ(t.abs().max().item<double>(), 0.0) << name;
  }

  // A power of two scales and unscales exactly: the same steps as without a scaler.
  runner.scaler().restore(1024.0, 0);
  for (std::int64_t step = 1; step <= 3; ++step) {
    const auto a = reference.step(step, 8, 1, batch(step), 1e-3, profile);
    const auto b = runner.step(step, 8, 1, batch(step), 1e-3, profile);
    EXPECT_NEAR(a.sums[0].item<double>(), b.sums[0].item<double>(), 1e-6);
  }
  EXPECT_EQ(runner.scaler().skipped(), 1);
  EXPECT_EQ(runner.scaler().growth_tracker(), 3);
  EXPECT_EQ(runner.optimizer().steps(), 3);
  const auto pa = model::model_state(plain);
  for (const auto& [name, t] : model::model_state(scaled))
    EXPECT_TRUE(torch::allclose(t, pa.at(name), 1e-5, 1e-7)) << name;
  EXPECT_FALSE(torch::equal(pa.at("classifier.weight"), initial.at("classifier.weight")));
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

// A reducer of one rank that "sums" as two ranks holding the same gradients would (x2), in the
// background: start_sum records what each bucket held when it started and doubles it only on
// wait(), so a bucket read before its sum was waited for shows up.
class DoublingReducer : public parallel::GradientReducer {
 public:
  DoublingReducer()
      : GradientReducer(mpi::Comm::world(), /*bucket_mb=*/0.001, /*device_native=*/false,
                        /*runs_alone=*/true) {}
  parallel::Backend backend() const override { return parallel::Backend::kMpi; }
  parallel::PendingSum start_sum(torch::Tensor& flat) override {
    started.push_back(flat.clone());
    return parallel::PendingSum([flat]() mutable { flat.mul_(2); });
  }
  std::vector<torch::Tensor> started;  // each bucket's contents when its sum started

 protected:
  void sum_flat(torch::Tensor& flat) override { flat.mul_(2); }
  void broadcast_flat(torch::Tensor&) override {}
  bool sums_in_background(torch::Device) const override { return true; }
};

torch::Tensor loss_of(model::BertForSequenceClassification& m, const data::Batch& b) {
  return task_loss_sum(m(b.input_ids, b.token_type_ids, b.attention_mask).logits, b.labels, false);
}

// Every parameter's gradient (zeros where there is none), in parameter order.
std::vector<torch::Tensor> grads_of(model::BertForSequenceClassification& m) {
  std::vector<torch::Tensor> g;
  for (const auto& p : m->parameters())
    g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  return g;
}

void release_grads(model::BertForSequenceClassification& m) {
  for (auto& p : m->parameters()) p.mutable_grad() = torch::Tensor();
}

TEST(OverlappedGradientSum, BucketsStartDuringBackwardAndSumEveryGradient) {
  auto m = tiny_model();
  const auto b1 = make_batch(0, 4), b2 = make_batch(4, 4);
  // The reference: the gradients of both micro-batches, accumulated by autograd.
  loss_of(m, b1).backward();
  loss_of(m, b2).backward();
  const auto reference = grads_of(m);
  release_grads(m);

  ASSERT_TRUE(DoublingReducer().overlaps_backward(torch::kCPU));
  DoublingReducer reducer;
  parallel::RowSparseGradient sparse(m->token_indexed_weight());
  parallel::OverlappedGradientSum overlap(reducer, mpi::Comm::world(), m->parameters(), &sparse);
  ASSERT_GT(overlap.buckets(), 5u);  // 1 KiB buckets: the model spans many
  for (int step = 0; step < 2; ++step) {
    reducer.started.clear();
    sparse.clear();
    sparse.mark(b1.input_ids);
    sparse.mark(b2.input_ids);
    loss_of(m, b1).backward();  // not armed: accumulates only
    EXPECT_TRUE(reducer.started.empty());
    overlap.arm();
    loss_of(m, b2).backward();
    // Every dense bucket started during backward, each with its final gradients.
    EXPECT_EQ(reducer.started.size(), overlap.buckets());
    auto extra = torch::tensor({1.5f, -2.0f});
    overlap.finish(&sparse, {extra});
    EXPECT_EQ(overlap.started_in_backward(), overlap.buckets());
    EXPECT_TRUE(torch::equal(extra, torch::tensor({3.0f, -4.0f})));
    const auto summed = grads_of(m);
    for (std::size_t i = 0; i < summed.size(); ++i)
      EXPECT_TRUE(torch::equal(summed[i], reference[i] * 2))
          << "parameter " << i << ", step " << step;
    release_grads(m);  // as the optimizer does
  }
  // Contents at start, over all buckets: exactly the dense final gradients, nothing missing.
  double started = 0, dense = 0;
  for (std::size_t k = 0; k < overlap.buckets(); ++k)
    started += reducer.started[k].abs().sum().item<double>();
  for (std::size_t i = 0; i < reference.size(); ++i)
    if (!m->parameters()[i].is_same(m->token_indexed_weight()))
      dense += reference[i].abs().sum().item<double>();
  EXPECT_NEAR(started, dense, 1e-6 * dense);

  // A rank without examples: no backward at all; its share is zeros, and the step completes.
  reducer.started.clear();
  sparse.clear();
  overlap.arm();
  overlap.finish(&sparse, {});
  EXPECT_EQ(overlap.started_in_backward(), 0u);
  EXPECT_EQ(reducer.started.size(), overlap.buckets());  // no rows used, no extra: no last sum
  for (const auto& g : grads_of(m)) EXPECT_EQ(g.abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace pkd::train
