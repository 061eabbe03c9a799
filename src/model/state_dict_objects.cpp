// The objects of a state dict's pickle (state_dict_pickle.h): containers with bounded nesting,
// tensor storages from the archive's records, tensor views checked against their storage.
#include "model/state_dict_pickle.h"

#include <ATen/ops/empty.h>

#include <algorithm>

#include "core/error.h"

namespace pkd::model {

using c10::IValue;

bool StateDictPickle::is_container(const IValue& v) {
  return v.isTuple() || v.isList() || v.isGenericDict();
}

c10::impl::GenericDict StateDictPickle::new_dict() {
  return c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get());
}

IValue StateDictPickle::made(IValue v, int depth) {
  if (depth > kMaxDepth)
    bad(cat("objects are nested more than ", kMaxDepth,
            " deep (a state dict nests 3 deep; is this file hostile?)"));
  nodes_[v.internalToPointer()] = Node{depth, false};
  containers_.push_back(v);  // alive until the end: a freed address could be reused
  return v;
}

// Marks `items` as nested and returns the depth of a container holding them.
int StateDictPickle::nest(const std::vector<IValue>& items) {
  int depth = 1;
  for (const auto& item : items) {
    if (!is_container(item)) continue;
    Node& n = nodes_.at(item.internalToPointer());
    n.nested = true;
    depth = std::max(depth, n.depth + 1);
  }
  return depth;
}

void StateDictPickle::push_tuple(std::vector<IValue> items) {
  const int depth = nest(items);
  stack_.push_back(made(c10::ivalue::Tuple::create(std::move(items)), depth));
}

// APPEND(S) / SETITEM(S) of `items` into `container`.
void StateDictPickle::grow(const IValue& container, const std::vector<IValue>& items) {
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

std::vector<std::int64_t> StateDictPickle::ints(const IValue& tuple) const {
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
void StateDictPickle::check_view(std::int64_t storage_numel, std::int64_t offset,
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

at::ScalarType StateDictPickle::storage_type(const std::string& global) {
#define PKD_STORAGE_TYPE(_, name) \
  if (global == std::string("torch." #name "Storage")) return at::k##name;
  AT_FORALL_SCALAR_TYPES_WITH_COMPLEX_AND_QINTS(PKD_STORAGE_TYPE)
#undef PKD_STORAGE_TYPE
  return at::ScalarType::Undefined;
}

// ('storage', torch.FloatStorage, key, location, numel) -> a tensor over the whole storage.
at::Tensor StateDictPickle::persistent_load(const IValue& id) {
  if (!id.isTuple() || id.toTupleRef().elements().size() != 5) bad("unexpected persistent id");
  const auto& a = id.toTupleRef().elements();
  if (!a[0].isString() || a[0].toStringRef() != "storage" || !a[1].isString() || !a[2].isString() ||
      !a[4].isInt())
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

IValue StateDictPickle::reduce(const std::string& global, const IValue& args) {
  if (!args.isTuple()) bad("REDUCE arguments are not a tuple");
  const auto& a = args.toTupleRef().elements();
  if (global == "collections.OrderedDict") return made(new_dict(), 1);
  if (global == "torch._utils._rebuild_tensor_v2") {  // (storage, offset, size, stride, ...)
    if (a.size() < 4 || !a[0].isTensor() || !a[1].isInt()) bad("malformed _rebuild_tensor_v2");
    const at::Tensor& storage = a[0].toTensor();
    auto sizes = ints(a[2]), strides = ints(a[3]);
    if (sizes.size() != strides.size()) bad("a tensor's size and stride differ in rank");
    check_view(storage.numel(), a[1].toInt(), sizes, strides);
    return at::empty({0}, storage.options()).set_(storage.storage(), a[1].toInt(), sizes, strides);
  }
  if (global == "torch._utils._rebuild_parameter") {
    if (a.empty()) bad("malformed _rebuild_parameter");
    return a[0];
  }
  bad("unsupported object " + global + " (only state dicts of tensors are read)");
}

}  // namespace pkd::model
