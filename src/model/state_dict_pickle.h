#pragma once
// The pickle inside a torch.save zip archive (torch_bin.h), read by pkd itself: only the opcodes
// and globals torch.save emits for a state dict, every read bounds-checked, nesting bounded, every
// tensor view checked against its storage. Internal to pkd_model: read_torch_bin is the API.
// state_dict_pickle.cpp reads opcodes; state_dict_objects.cpp builds containers and tensors.
#include <ATen/core/ivalue.h>
#include <caffe2/serialize/inline_container.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace pkd::model {

class StateDictPickle {
 public:
  // The pickle is [begin, end) of `path`'s record data.pkl; tensor storages are `zip`'s records.
  StateDictPickle(const std::string& path, const char* begin, const char* end,
                  caffe2::serialize::PyTorchStreamReader& zip)
      : path_(path), p_(begin), end_(end), zip_(zip) {}

  // The unpickled object (a state dict is a dict of tensors). Errors name the file.
  c10::IValue run();

 private:
  using IValue = c10::IValue;
  // A GLOBAL opcode pushes "module.name"; it is kept on the stack as a string with this prefix,
  // which no pickled str of a state dict starts with.
  static constexpr char kGlobal = '\x01';
  // Objects nest at most this deep. A state dict nests 3 deep (the _metadata dict of dicts of
  // ints; a tensor's argument tuple of size tuples); a deeper pickle is hostile or not a state
  // dict, and destroying a million-deep object recurses a million frames (a stack overflow).
  static constexpr int kMaxDepth = 1000;
  // A tensor of more dimensions is not a model weight (BERT's have at most 2).
  static constexpr std::size_t kMaxRank = 64;

  // --- reading (state_dict_pickle.cpp) ---
  [[noreturn]] void bad(const std::string& what) const;
  const char* take(std::size_t n);
  template <class T>
  T read() {
    T v;
    std::memcpy(&v, take(sizeof(T)), sizeof(T));  // little-endian, as pickle's binary ints
    return v;
  }
  std::string line();
  std::int64_t read_long1();
  IValue pop();
  IValue& top();
  std::vector<IValue> pop_to_mark();

  // --- objects (state_dict_objects.cpp) ---
  // Nesting depth. Every container (tuple, list, dict) is registered with its depth (1 + its
  // deepest item; leaves are 0). A list or dict that has been put inside another object may not
  // grow afterwards (torch.save never does that: Python pickles an object's items before it
  // stores the object), so a recorded depth never goes stale and no object can contain itself.
  struct Node {
    int depth = 1;
    bool nested = false;  // inside another container: frozen
  };
  static bool is_container(const IValue& v);
  static c10::impl::GenericDict new_dict();
  IValue made(IValue v, int depth);
  int nest(const std::vector<IValue>& items);
  void push_tuple(std::vector<IValue> items);
  void grow(const IValue& container, const std::vector<IValue>& items);
  std::vector<std::int64_t> ints(const IValue& tuple) const;
  void check_view(std::int64_t storage_numel, std::int64_t offset,
                  const std::vector<std::int64_t>& sizes,
                  const std::vector<std::int64_t>& strides) const;
  static at::ScalarType storage_type(const std::string& global);
  at::Tensor persistent_load(const IValue& id);
  IValue reduce(const std::string& global, const IValue& args);

  const std::string& path_;
  const char* p_;
  const char* end_;
  caffe2::serialize::PyTorchStreamReader& zip_;
  std::vector<IValue> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint32_t, IValue> memo_;
  std::unordered_map<std::string, at::Tensor> storages_;
  std::unordered_map<const void*, Node> nodes_;  // by the container's address
  std::vector<IValue> containers_;
};

}  // namespace pkd::model
