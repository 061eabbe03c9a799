#include "parallel/row_sparse.h"

#include "core/error.h"
#include "parallel/gradient_reducer.h"

namespace pkd::parallel {

RowSparseGradient::RowSparseGradient(torch::Tensor parameter)
    : parameter_(std::move(parameter)), used_(static_cast<std::size_t>(parameter_.size(0)), 0) {}

void RowSparseGradient::clear() {
  std::fill(used_.begin(), used_.end(), 0);
}

void RowSparseGradient::mark(const torch::Tensor& ids) {
  const auto contiguous = ids.contiguous();
  const auto* p = contiguous.data_ptr<std::int64_t>();
  const auto rows = static_cast<std::int64_t>(used_.size());
  for (std::int64_t t = 0; t < contiguous.numel(); ++t) {
    if (p[t] < 0 || p[t] >= rows)
      fail("internal: row ", p[t], " of a ", rows, "-row parameter (ids are checked on reading)");
    used_[static_cast<std::size_t>(p[t])] = 1;
  }
}

torch::Tensor RowSparseGradient::agreed_rows(mpi::Comm& comm) {
  comm.any_each(used_);
  std::vector<std::int64_t> ids;
  for (std::size_t t = 0; t < used_.size(); ++t)
    if (used_[t]) ids.push_back(static_cast<std::int64_t>(t));
  return torch::tensor(ids, torch::kLong).to(parameter_.device());
}

void GradientReducer::sum_gradients(const std::vector<torch::Tensor>& params,
                                    RowSparseGradient* sparse,
                                    const std::vector<torch::Tensor>& extra) {
  std::vector<torch::Tensor> flat;
  for (auto p : params) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    if (!(sparse && p.is_same(sparse->parameter()))) flat.push_back(p.grad());
  }
  torch::Tensor rows, row_grads;
  if (sparse) {
    rows = sparse->agreed_rows(comm_);
    row_grads = sparse->parameter().grad().index_select(0, rows);
    flat.push_back(row_grads);
  }
  flat.insert(flat.end(), extra.begin(), extra.end());
  allreduce_sum(flat);
  if (sparse) {
    auto grad = sparse->parameter().mutable_grad();
    grad.index_copy_(0, rows, row_grads);
  }
}

}  // namespace pkd::parallel
