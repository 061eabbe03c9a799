#pragma once
// The central directory of a zip archive (torch.save's pytorch_model.bin), checked before LibTorch
// reads any record: torch-free, so the check costs no LibTorch compile and no LibTorch call.
#include <string>

namespace pkd::model {

// Throws Error naming `path` when a record claims more bytes than the file holds (LibTorch would
// allocate the claimed size: a zip bomb or a corrupted size), or the directory is malformed.
// torch.save stores records uncompressed; zip64 sizes are read from their extra field.
void check_zip_record_sizes(const std::string& path);

}  // namespace pkd::model
