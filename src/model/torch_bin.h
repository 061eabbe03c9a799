#pragma once
// Reader of `pytorch_model.bin`: the zip archive torch.save writes (PyTorch >= 1.6), holding a
// pickled state dict and one record per tensor storage. LibTorch 1.13's own unpickler turns
// collections.OrderedDict (every state_dict) into None, so pkd reads the pickle itself: only the
// opcodes and globals torch.save emits for a state dict, every read bounds-checked, so a
// truncated or corrupted file is an Error, never a crash.
#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

namespace pkd::model {

enum class TorchBinFormat { zip, legacy, unknown };
// From the first bytes: "PK\x03\x04" (zip) or the legacy pickle's protocol + magic number.
TorchBinFormat detect_torch_bin_format(const std::string& path);

// Name -> tensor in file order. Tensors that shared a storage in Python still share it.
std::vector<std::pair<std::string, at::Tensor>> read_torch_bin(const std::string& path);

}  // namespace pkd::model
