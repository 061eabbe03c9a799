#include "parallel/overlapped_sum.h"

#include "core/error.h"

namespace pkd::parallel {
namespace {

// Parameter `p`'s part of a bucket's flat buffer, shaped like `p`.
torch::Tensor slice_of(const torch::Tensor& flat, std::int64_t offset, const torch::Tensor& p) {
  return flat.narrow(0, offset, p.numel()).view(p.sizes());
}

}  // namespace

OverlappedGradientSum::OverlappedGradientSum(GradientReducer& reducer, mpi::Comm& comm,
                                             const std::vector<torch::Tensor>& params,
                                             const RowSparseGradient* sparse)
    : reducer_(reducer), comm_(comm) {
  for (const auto& p : params)
    if (!(sparse && p.is_same(sparse->parameter()))) params_.push_back(p);
  bucket_.resize(params_.size());
  offset_.resize(params_.size());
  arrived_.assign(params_.size(), 0);
  // Reverse order: backward produces the last layers' gradients first.
  double bytes = 0;
  for (std::size_t k = params_.size(); k-- > 0;) {
    const torch::Tensor& p = params_[k];
    if (p.scalar_type() != torch::kFloat)
      fail("internal: gradient sums take float32 parameters, parameter ", k, " is ",
           p.scalar_type());
    const double size = static_cast<double>(p.numel()) * 4.0;
    if (buckets_.empty() || bytes + size > reducer.bucket_bytes()) {
      buckets_.emplace_back();
      bytes = 0;
    }
    Bucket& b = buckets_.back();
    offset_[k] = b.numel;
    b.numel += p.numel();
    b.members.push_back(k);
    bucket_[k] = buckets_.size() - 1;
    bytes += size;
  }
  for (auto& b : buckets_) {
    b.flat = torch::zeros({b.numel}, params_[0].options().requires_grad(false));
    b.waiting = b.members.size();
  }
  for (std::size_t k = 0; k < params_.size(); ++k)
    hooks_.push_back(params_[k].register_hook([this, k](torch::Tensor grad) { arrived(k, grad); }));
}

OverlappedGradientSum::~OverlappedGradientSum() {
  for (std::size_t k = 0; k < hooks_.size(); ++k) params_[k].remove_hook(hooks_[k]);
}

void OverlappedGradientSum::arrived(std::size_t i, const torch::Tensor& grad) {
  if (!armed_ || arrived_[i]) return;
  torch::NoGradGuard no_grad;
  Bucket& b = buckets_[bucket_[i]];
  const torch::Tensor& p = params_[i];
  torch::Tensor slice = slice_of(b.flat, offset_[i], p);
  // What autograd is about to store: the earlier micro-batches' gradient plus this one
  // (float addition commutes: bitwise its sum).
  slice.copy_(grad);
  if (p.grad().defined()) slice.add_(p.grad());
  arrived_[i] = 1;
  if (--b.waiting > 0) return;
  while (next_ < buckets_.size() && buckets_[next_].waiting == 0) {
    buckets_[next_].sum = reducer_.start_sum(buckets_[next_].flat);
    ++next_;
  }
}

void OverlappedGradientSum::finish(RowSparseGradient* sparse,
                                   const std::vector<torch::Tensor>& extra) {
  armed_ = false;
  torch::NoGradGuard no_grad;
  started_in_backward_ = next_;
  // The buckets backward did not complete, in bucket order: what each parameter holds.
  for (; next_ < buckets_.size(); ++next_) {
    Bucket& b = buckets_[next_];
    for (const std::size_t i : b.members) {
      if (arrived_[i]) continue;
      const torch::Tensor& p = params_[i];
      torch::Tensor slice = slice_of(b.flat, offset_[i], p);
      if (p.grad().defined())
        slice.copy_(p.grad());
      else
        slice.zero_();
    }
    b.sum = reducer_.start_sum(b.flat);
  }
  // Last, in one more sum: the token-indexed rows some rank used and the extra tensors
  // (sum_gradients' way). It goes the buckets' way too: a backend may keep them on a stream or
  // thread of their own, in order.
  std::vector<torch::Tensor> last;
  torch::Tensor rows, row_grads;
  if (sparse) {
    torch::Tensor p = sparse->parameter();
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    rows = sparse->agreed_rows(comm_);
    row_grads = p.grad().index_select(0, rows);
    last.push_back(row_grads.view({-1}));
  }
  for (const auto& t : extra) {
    if (t.scalar_type() != torch::kFloat)
      fail("internal: an extra gradient-sum tensor is ", t.scalar_type(), ", not float32");
    last.push_back(t.reshape({-1}));
  }
  torch::Tensor last_flat;
  PendingSum last_sum;
  if (!last.empty()) last_flat = torch::cat(last);
  // Every rank alike: the rows are agreed, the extra tensors the same shapes on every rank.
  if (last_flat.defined() && last_flat.numel() > 0) last_sum = reducer_.start_sum(last_flat);
  for (auto& b : buckets_) {
    b.sum.wait();
    for (const std::size_t i : b.members) {
      torch::Tensor p = params_[i];
      torch::Tensor slice = slice_of(b.flat, offset_[i], p);
      if (p.grad().defined())
        p.mutable_grad().copy_(slice);
      else
        p.mutable_grad() = slice.clone();
    }
    b.waiting = b.members.size();
  }
  last_sum.wait();
  reducer_.wait_all();
  std::int64_t offset = 0;
  if (sparse) {
    sparse->parameter().mutable_grad().index_copy_(
        0, rows, last_flat.narrow(0, 0, row_grads.numel()).view_as(row_grads));
    offset = row_grads.numel();
  }
  for (auto t : extra) {
    t.copy_(last_flat.narrow(0, offset, t.numel()).view_as(t));
    offset += t.numel();
  }
  std::fill(arrived_.begin(), arrived_.end(), 0);
  next_ = 0;
}

}  // namespace pkd::parallel
