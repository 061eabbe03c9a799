// Reading a state dict's pickle (state_dict_pickle.h): the opcodes torch.save emits and the
// bounds-checked primitive reads under them.
#include "model/state_dict_pickle.h"

#include "core/error.h"

namespace pkd::model {

using c10::IValue;

IValue StateDictPickle::run() {
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

void StateDictPickle::bad(const std::string& what) const {
  fail("'", path_, "' is not a readable torch.save state dict: ", what);
}

const char* StateDictPickle::take(std::size_t n) {
  if (static_cast<std::size_t>(end_ - p_) < n) bad("the pickle is truncated");
  const char* r = p_;
  p_ += n;
  return r;
}

std::string StateDictPickle::line() {
  const void* nl = std::memchr(p_, '\n', static_cast<std::size_t>(end_ - p_));
  if (!nl) bad("the pickle is truncated inside a GLOBAL");
  std::string s(p_, static_cast<const char*>(nl));
  p_ = static_cast<const char*>(nl) + 1;
  return s;
}

std::int64_t StateDictPickle::read_long1() {
  std::uint8_t n = read<std::uint8_t>();
  if (n > 8) bad("an integer wider than 64 bits");
  const char* b = take(n);
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(b[i]);
  if (n > 0 && n < 8 && (b[n - 1] & 0x80)) v |= ~std::uint64_t{0} << (8 * n);  // sign-extend
  return static_cast<std::int64_t>(v);
}

IValue StateDictPickle::pop() {
  if (stack_.empty()) bad("stack underflow");
  IValue v = std::move(stack_.back());
  stack_.pop_back();
  return v;
}

IValue& StateDictPickle::top() {
  if (stack_.empty()) bad("stack underflow");
  return stack_.back();
}

std::vector<IValue> StateDictPickle::pop_to_mark() {
  if (marks_.empty() || marks_.back() > stack_.size()) bad("unbalanced MARK");
  std::size_t mark = marks_.back();
  marks_.pop_back();
  std::vector<IValue> items(stack_.begin() + static_cast<long>(mark), stack_.end());
  stack_.resize(mark);
  return items;
}

}  // namespace pkd::model
