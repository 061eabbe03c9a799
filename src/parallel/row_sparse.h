#pragma once
// A parameter whose gradient is zero outside the rows its inputs index — an embedding table
// indexed by token ids. Summing it over ranks row by row, only the rows some rank used, is exact
// and saves most of a BERT's gradient bytes (the 30522 x 768 word embedding; a GLUE batch uses
// a few hundred rows). The model says which parameter this is; the trainer marks the ids of each
// micro-batch; GradientReducer::sum_gradients agrees on the rows and sums them.
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "mpi/comm.h"

namespace pkd::parallel {

class RowSparseGradient {
 public:
  explicit RowSparseGradient(torch::Tensor parameter);
  const torch::Tensor& parameter() const { return parameter_; }
  // Forget the rows of the previous step.
  void clear();
  // Rows `ids` (int64 on the CPU, any shape, each in [0, rows)) have a gradient on this rank.
  void mark(const torch::Tensor& ids);
  // Collective: the rows any rank marked, ascending, as int64 on the parameter's device.
  torch::Tensor agreed_rows(mpi::Comm& comm);

 private:
  torch::Tensor parameter_;
  std::vector<std::uint8_t> used_;  // one flag per row
};

}  // namespace pkd::parallel
