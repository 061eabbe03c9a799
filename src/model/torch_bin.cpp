#include "model/torch_bin.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <fstream>

#include "core/error.h"
#include "model/state_dict_pickle.h"
#include "model/zip_directory.h"

namespace pkd::model {

TorchBinFormat detect_torch_bin_format(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char b[14] = {0};
  in.read(reinterpret_cast<char*>(b), sizeof b);
  if (in.gcount() >= 4 && std::memcmp(b, "PK\x03\x04", 4) == 0) return TorchBinFormat::zip;
  // PROTO 2, LONG1 of 10 bytes: torch's legacy magic number 0x1950a86a20f9469cfc6c.
  static const unsigned char legacy[14] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                           0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  if (in.gcount() == 14 && std::memcmp(b, legacy, 14) == 0) return TorchBinFormat::legacy;
  return TorchBinFormat::unknown;
}

std::vector<std::pair<std::string, at::Tensor>> read_torch_bin(const std::string& path) {
  switch (detect_torch_bin_format(path)) {
    case TorchBinFormat::legacy:
      fail("'", path,
           "' is a legacy (pre-1.6) torch.save file, which pkd cannot read. Convert it once "
           "in Python: `import torch; torch.save(torch.load('",
           path,
           "'), 'pytorch_model.bin')` (the "
           "zip format), or save model.safetensors instead");
    case TorchBinFormat::unknown:
      fail("'", path,
           "' is not a torch.save zip archive (expected the bytes PK\\x03\\x04 at the start)");
    case TorchBinFormat::zip:
      break;
  }
  check_zip_record_sizes(path);
  try {
    caffe2::serialize::PyTorchStreamReader zip(path);
    if (zip.hasRecord("byteorder")) {
      auto [data, size] = zip.getRecord("byteorder");
      if (std::string(static_cast<const char*>(data.get()), size) != "little")
        fail("'", path,
             "' was written on a big-endian machine; pkd reads little-endian checkpoints");
    }
    auto [pickle, size] = zip.getRecord("data.pkl");
    const char* begin = static_cast<const char*>(pickle.get());
    c10::IValue root = StateDictPickle(path, begin, begin + size, zip).run();
    if (!root.isGenericDict()) fail("'", path, "' does not hold a state dict (a dict of tensors)");
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& item : root.toGenericDict()) {
      if (!item.key().isString() || !item.value().isTensor())
        fail("'", path,
             "': the state dict has a non-string key or a non-tensor value (a training "
             "checkpoint? save model.state_dict() alone)");
      out.emplace_back(item.key().toStringRef(), item.value().toTensor());
    }
    return out;
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    fail("'", path, "' could not be read as a torch.save archive (truncated or corrupted?): ",
         e.what_without_backtrace());
  } catch (const std::exception& e) {
    fail("'", path,
         "' could not be read as a torch.save archive (truncated or corrupted?): ", e.what());
  }
}

}  // namespace pkd::model
