#include "model/torch_bin.h"

#include <ATen/core/ivalue.h>
#include <ATen/ops/empty.h>
#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <unordered_map>

#include "core/error.h"
#include "model/zip_directory.h"

namespace pkd::model {
namespace {

using c10::IValue;

// A GLOBAL opcode pushes "module.name"; it is kept on the stack as a string with this prefix,
// which no pickled str of a state dict starts with.
constexpr char kGlobal = '\x01';
// Objects nest at most this deep. A state dict nests 3 deep (the _metadata dict of dicts of
// ints; a tensor's argument tuple of size tuples); a deeper pickle is hostile or not a state
// dict, and destroying a million-deep object recurses a million frames (a stack overflow).
constexpr int kMaxDepth = 1000;
// A tensor of more dimensions is not a model weight (BERT's have at most 2).
constexpr std::size_t kMaxRank = 64;

class PickleReader {
 public:
  PickleReader(const std::string& path, const char* begin, const char* end,
               caffe2::serialize::PyTorchStreamReader& zip)
      : path_(path), p_(begin), end_(end), zip_(zip) {}

  IValue run() {
    while (true) {
      const char op = *take(1);
      switch (op) {
        case '\x80':
          take(1);
          break;  // PROTO
        case '\x95':
          take(8);
          break;     // FRAME
        case 'c': {  // GLOBAL module\nname\n
          std::string module = line();
          stack_.emplace_back(kGlobal + module + "." + line());
          break;
        }
        case 'q':
          memo_[read<std::uint8_t>()] = top();
          break;  // BINPUT
        case 'r':
          memo_[read<std::uint32_t>()] = top();
          break;  // LONG_BINPUT
        case '\x94':
          memo_[static_cast<std::uint32_t>(memo_.size())] = top();
          break;  // MEMOIZE
        case 'h':
        case 'j': {  // BINGET, LONG_BINGET
          std::uint32_t key = op == 'h' ? read<std::uint8_t>() : read<std::uint32_t>();
          auto it = memo_.find(key);
          if (it == memo_.end()) bad("reference to an unknown memo entry");
          stack_.push_back(it->second);
          break;
        }
        case '(':
          marks_.push_back(stack_.size());
          break;  // MARK
        case ')':
          push_tuple({});
          break;
        case 't':
          push_tuple(pop_to_mark());
          break;
        case '\x85':
        case '\x86':
        case '\x87': {  // TUPLE1..3
          std::size_t n = static_cast<std::size_t>(op - '\x84');
          if (stack_.size() < n) bad("stack underflow");
          std::vector<IValue> items(stack_.end() - static_cast<long>(n), stack_.end());
          stack_.resize(stack_.size() - n);
          push_tuple(std::move(items));
          break;
        }
        case '}':
          stack_.push_back(made(new_dict(), 1));
          break;
        case ']':
          stack_.push_back(made(c10::impl::GenericList(c10::AnyType::get()), 1));
          break;
        case 's':
        case 'u': {  // SETITEM, SETITEMS
          std::vector<IValue> kv;
          if (op == 's') {
            if (stack_.size() < 3) bad("stack underflow");
            kv.assign(stack_.end() - 2, stack_.end());
            stack_.resize(stack_.size() - 2);
          } else {
            kv = pop_to_mark();
          }
          if (kv.size() % 2 != 0 || !top().isGenericDict()) bad("SETITEMS on a non-dict");
          grow(top(), kv);
          auto dict = top().toGenericDict();
          for (std::size_t i = 0; i < kv.size(); i += 2) dict.insert_or_assign(kv[i], kv[i + 1]);
          break;
        }
        case 'a':
        case 'e': {  // APPEND, APPENDS
          std::vector<IValue> items = op == 'a' ? std::vector<IValue>{pop()} : pop_to_mark();
          if (!top().isList()) bad("APPEND on a non-list");
          grow(top(), items);
          auto list = top().toList();
          for (auto& x : items) list.push_back(x);
          break;
        }
        case 'X': {  // BINUNICODE
          std::uint32_t n = read<std::uint32_t>();
          stack_.emplace_back(std::string(take(n), n));
          break;
        }
        case '\x8c': {  // SHORT_BINUNICODE
          std::uint8_t n = read<std::uint8_t>();
          stack_.emplace_back(std::string(take(n), n));
          break;
        }
        case 'J':
          stack_.emplace_back(static_cast<std::int64_t>(read<std::int32_t>()));
          break;
        case 'K':
          stack_.emplace_back(static_cast<std::int64_t>(read<std::uint8_t>()));
          break;
        case 'M':
          stack_.emplace_back(static_cast<std::int64_t>(read<std::uint16_t>()));
          break;
        case '\x8a':
          stack_.emplace_back(read_long1());
          break;
        case 'G': {  // BINFLOAT, big-endian
          const char* b = take(8);
          std::uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<std::uint8_t>(b[i]);
          double d;
          std::memcpy(&d, &bits, 8);
          stack_.emplace_back(d);
          break;
        }
        case 'N':
          stack_.emplace_back();
          break;
        case '\x88':
          stack_.emplace_back(true);
          break;
        case '\x89':
          stack_.emplace_back(false);
          break;
        case 'Q':
          stack_.emplace_back(persistent_load(pop()));
          break;     // BINPERSID
        case 'R': {  // REDUCE
          IValue args = pop(), callable = pop();
          if (!callable.isString() || callable.toStringRef().empty() ||
              callable.toStringRef()[0] != kGlobal)
            bad("REDUCE of something that is not a global");
          stack_.push_back(reduce(callable.toStringRef().substr(1), args));
          break;
        }
        case 'b':
          pop();
          break;   // BUILD: the state (OrderedDict._metadata) is not needed
        case '.':  // STOP
          if (stack_.size() != 1) bad("the pickle does not end with one object");
          return stack_[0];
        default:
          bad(cat("unsupported pickle opcode 0x", std::hex,
                  static_cast<int>(static_cast<std::uint8_t>(op)),
                  " (is this a state dict saved by torch.save?)"));
      }
    }
  }

 private:
  [[noreturn]] void bad(const std::string& what) const {
    fail("'", path_, "' is not a readable torch.save state dict: ", what);
  }
  const char* take(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) bad("the pickle is truncated");
    const char* r = p_;
    p_ += n;
    return r;
  }
  template <class T>
  T read() {
    T v;
    std::memcpy(&v, take(sizeof(T)), sizeof(T));  // little-endian, as pickle's binary ints
    return v;
  }
  std::string line() {
    const void* nl = std::memchr(p_, '\n', static_cast<std::size_t>(end_ - p_));
    if (!nl) bad("the pickle is truncated inside a GLOBAL");
    std::string s(p_, static_cast<const char*>(nl));
    p_ = static_cast<const char*>(nl) + 1;
    return s;
  }
  std::int64_t read_long1() {
    std::uint8_t n = read<std::uint8_t>();
    if (n > 8) bad("an integer wider than 64 bits");
    const char* b = take(n);
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(b[i]);
    if (n > 0 && n < 8 && (b[n - 1] & 0x80)) v |= ~std::uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<std::int64_t>(v);
  }
  // Nesting depth. Every container (tuple, list, dict) is registered with its depth (1 + its
  // deepest item; leaves are 0). A list or dict that has been put inside another object may not
  // grow afterwards (torch.save never does that: Python pickles an object's items before it
  // stores the object), so a recorded depth never goes stale and no object can contain itself.
  struct Node {
    int depth = 1;
    bool nested = false;  // inside another container: frozen
  };
  static bool is_container(const IValue& v) {
    return v.isTuple() || v.isList() || v.isGenericDict();
  }
  static c10::impl::GenericDict new_dict() {
    return c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get());
  }
  IValue made(IValue v, int depth) {
    if (depth > kMaxDepth)
      bad(cat("objects are nested more than ", kMaxDepth,
              " deep (a state dict nests 3 deep; is this file hostile?)"));
    nodes_[v.internalToPointer()] = Node{depth, false};
    containers_.push_back(v);  // alive until the end: a freed address could be reused
    return v;
  }
  // Marks `items` as nested and returns the depth of a container holding them.
  int nest(const std::vector<IValue>& items) {
    int depth = 1;
    for (const auto& item : items) {
      if (!is_container(item)) continue;
      Node& n = nodes_.at(item.internalToPointer());
      n.nested = true;
      depth = std::max(depth, n.depth + 1);
    }
    return depth;
  }
  void push_tuple(std::vector<IValue> items) {
    const int depth = nest(items);
    stack_.push_back(made(c10::ivalue::Tuple::create(std::move(items)), depth));
  }
  // APPEND(S) / SETITEM(S) of `items` into `container`.
  void grow(const IValue& container, const std::vector<IValue>& items) {
    const int depth = nest(items);
    Node& n = nodes_.at(container.internalToPointer());
    if (n.nested)  // also an object appended to itself, which `nest` has just marked
      bad("a list or dict is modified after it was put inside another object, or contains "
          "itself (torch.save never writes that)");
    if (depth > kMaxDepth)
      bad(cat("objects are nested more than ", kMaxDepth,
              " deep (a state dict nests 3 deep; is this file hostile?)"));
    n.depth = std::max(n.depth, depth);
  }

  IValue pop() {
    if (stack_.empty()) bad("stack underflow");
    IValue v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  IValue& top() {
    if (stack_.empty()) bad("stack underflow");
    return stack_.back();
  }
  std::vector<IValue> pop_to_mark() {
    if (marks_.empty() || marks_.back() > stack_.size()) bad("unbalanced MARK");
    std::size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<IValue> items(stack_.begin() + static_cast<long>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  std::vector<std::int64_t> ints(const IValue& tuple) const {
    if (!tuple.isTuple()) bad("a tensor size or stride is not a tuple");
    std::vector<std::int64_t> out;
    for (const auto& e : tuple.toTupleRef().elements()) {
      if (!e.isInt() || e.toInt() < 0) bad("a tensor size or stride is not a non-negative integer");
      out.push_back(e.toInt());
    }
    return out;
  }
  // A tensor is a view of its storage: `offset` and every element it addresses lie inside the
  // storage's `storage_numel` elements, and it has no more elements than the storage (an
  // expanded, stride-0 view would be copied into memory that the file does not hold). Overflow-
  // safe: sizes and strides come from the file.
  void check_view(std::int64_t storage_numel, std::int64_t offset,
                  const std::vector<std::int64_t>& sizes,
                  const std::vector<std::int64_t>& strides) const {
    if (sizes.size() > kMaxRank)
      bad(cat("a tensor of ", sizes.size(), " dimensions (at most ", kMaxRank, ")"));
    if (offset < 0) bad(cat("a tensor at the negative storage offset ", offset));
    std::int64_t numel = 1, last = offset;  // `last`: the highest element index addressed
    bool overflow = false;
    for (std::size_t d = 0; d < sizes.size(); ++d)
      overflow |= __builtin_mul_overflow(numel, sizes[d], &numel);
    if (!overflow && numel > 0)
      for (std::size_t d = 0; d < sizes.size(); ++d) {
        std::int64_t span = 0;
        overflow |= __builtin_mul_overflow(sizes[d] - 1, strides[d], &span);
        overflow |= __builtin_add_overflow(last, span, &last);
      }
    if (overflow || numel > storage_numel || (numel > 0 && last >= storage_numel))
      bad(cat("a tensor view (offset ", offset, ", sizes ", c10::IntArrayRef(sizes), ", strides ",
              c10::IntArrayRef(strides), ") does not fit in its storage of ", storage_numel,
              " elements"));
  }
  static at::ScalarType storage_type(const std::string& global) {
#define PKD_STORAGE_TYPE(_, name) \
  if (global == std::string("torch." #name "Storage")) return at::k##name;
    AT_FORALL_SCALAR_TYPES_WITH_COMPLEX_AND_QINTS(PKD_STORAGE_TYPE)
#undef PKD_STORAGE_TYPE
    return at::ScalarType::Undefined;
  }

  // ('storage', torch.FloatStorage, key, location, numel) -> a tensor over the whole storage.
  at::Tensor persistent_load(const IValue& id) {
    if (!id.isTuple() || id.toTupleRef().elements().size() != 5) bad("unexpected persistent id");
    const auto& a = id.toTupleRef().elements();
    if (!a[0].isString() || a[0].toStringRef() != "storage" || !a[1].isString() ||
        !a[2].isString() || !a[4].isInt())
      bad("unexpected persistent id");
    const std::string& key = a[2].toStringRef();
    if (auto it = storages_.find(key); it != storages_.end()) return it->second;  // shared storage
    const std::string& type_global = a[1].toStringRef();
    at::ScalarType type = storage_type(type_global.substr(1));
    if (type == at::ScalarType::Undefined) bad("unsupported storage type " + type_global.substr(1));
    const std::int64_t numel = a[4].toInt();
    if (numel < 0 || numel > (std::int64_t{1} << 40))
      bad("a storage of " + std::to_string(numel) + " elements");
    const std::size_t bytes = static_cast<std::size_t>(numel) * c10::elementSize(type);
    const std::string record = "data/" + key;
    if (!zip_.hasRecord(record)) bad("the archive has no record " + record);
    auto [data, size] = zip_.getRecord(record);
    if (size < bytes) bad("record " + record + " holds fewer bytes than its storage needs");
    at::Storage storage(c10::Storage::use_byte_size_t(), bytes, std::move(data), nullptr, false);
    return storages_[key] = at::empty({0}, at::TensorOptions().dtype(type)).set_(storage);
  }

  IValue reduce(const std::string& global, const IValue& args) {
    if (!args.isTuple()) bad("REDUCE arguments are not a tuple");
    const auto& a = args.toTupleRef().elements();
    if (global == "collections.OrderedDict") return made(new_dict(), 1);
    if (global == "torch._utils._rebuild_tensor_v2") {  // (storage, offset, size, stride, ...)
      if (a.size() < 4 || !a[0].isTensor() || !a[1].isInt()) bad("malformed _rebuild_tensor_v2");
      const at::Tensor& storage = a[0].toTensor();
      auto sizes = ints(a[2]), strides = ints(a[3]);
      if (sizes.size() != strides.size()) bad("a tensor's size and stride differ in rank");
      check_view(storage.numel(), a[1].toInt(), sizes, strides);
      return at::empty({0}, storage.options())
          .set_(storage.storage(), a[1].toInt(), sizes, strides);
    }
    if (global == "torch._utils._rebuild_parameter") {
      if (a.empty()) bad("malformed _rebuild_parameter");
      return a[0];
    }
    bad("unsupported object " + global + " (only state dicts of tensors are read)");
  }

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

}  // namespace

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
    IValue root = PickleReader(path, begin, begin + size, zip).run();
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
