#pragma once
// LibTorch version tests for the code that differs between Debian's LibTorch 1.13 (CI) and the
// CUDA LibTorch 2.x of the PyTorch wheels (GPU machines). tests/build/torch2_headers_check.py
// recompiles every translation unit that uses these against LibTorch 2.x headers.
#include <torch/version.h>

// True when this LibTorch is version major.minor or newer.
#define PKD_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||      \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))
