// What a rank reports of its network to rank 0 (endpoint.h): this host's IPv4 interfaces, and
// the text that carries them over the MPI gather, whose reader refuses any other text.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

#include "core/error.h"
#include "core/strings.h"
#include "parallel/endpoint.h"

namespace pkd::parallel {
namespace {

// Reads serialize's text: fields separated by one space, each record ended by '\n'.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}
  bool done() const { return pos_ == text_.size(); }
  // A non-empty field and the space after it.
  std::string_view field(std::string_view expected) {
    const std::size_t end = text_.find_first_of(" \n", pos_);
    if (end == std::string_view::npos || end == pos_ || text_[end] != ' ') malformed(expected);
    const std::string_view out = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }
  void keyword(std::string_view word) {
    if (field(word) != word) malformed(word);
  }
  std::uint32_t ipv4(std::string_view expected) {
    const std::size_t start = pos_;
    const std::string text(field(expected));
    in_addr parsed{};
    if (inet_pton(AF_INET, text.c_str(), &parsed) != 1) {
      pos_ = start;
      malformed(expected);
    }
    return ntohl(parsed.s_addr);
  }
  // "<length> <bytes>": any bytes, spaces and newlines included.
  std::string name(std::string_view expected) {
    const std::size_t start = pos_;
    std::int64_t length = 0;
    if (!parse_int64(field(expected), length) || length < 0 ||
        static_cast<std::uint64_t>(length) > text_.size() - pos_) {
      pos_ = start;
      malformed(expected);
    }
    const std::string out(text_.substr(pos_, static_cast<std::size_t>(length)));
    pos_ += static_cast<std::size_t>(length);
    return out;
  }
  void end_record() {
    if (done() || text_[pos_] != '\n') malformed("the end of a line");
    ++pos_;
  }
  [[noreturn]] void malformed(std::string_view expected) const {
    fail("internal error: malformed network report of a rank at byte ", pos_, ": expected ",
         expected, ", found ", quoted(text_.substr(pos_), 40), " (report: ", quoted(text_), ")");
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

std::vector<Interface> local_interfaces() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0)
    fail("cannot list this host's network interfaces (getifaddrs): ", std::strerror(errno));
  const std::unique_ptr<ifaddrs, decltype(&freeifaddrs)> owner(list, &freeifaddrs);
  std::vector<Interface> out;
  for (const ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET || !(a->ifa_flags & IFF_UP))
      continue;
    Interface i;
    i.name = a->ifa_name;
    i.address = ntohl(reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr);
    // No netmask (not seen on Linux for IPv4) reads as a network of this address alone.
    i.netmask = a->ifa_netmask == nullptr
                    ? 0xffffffffu
                    : ntohl(reinterpret_cast<const sockaddr_in*>(a->ifa_netmask)->sin_addr.s_addr);
    i.loopback = (a->ifa_flags & IFF_LOOPBACK) != 0;
    out.push_back(std::move(i));
  }
  return out;
}

// host <length> <name>
// ipv4 <address> <netmask> loopback|network <length> <name>   (one line per interface)
std::string serialize(const RankNetwork& network) {
  std::string text = cat("host ", network.host.size(), " ", network.host, "\n");
  for (const auto& i : network.interfaces)
    text += cat("ipv4 ", ipv4_text(i.address), " ", ipv4_text(i.netmask), " ",
                i.loopback ? "loopback" : "network", " ", i.name.size(), " ", i.name, "\n");
  return text;
}

RankNetwork parse_rank_network(const std::string& text) {
  Reader in(text);
  RankNetwork out;
  in.keyword("host");
  out.host = in.name("the host name's length");
  in.end_record();
  while (!in.done()) {
    in.keyword("ipv4");
    Interface i;
    i.address = in.ipv4("an IPv4 address");
    i.netmask = in.ipv4("an IPv4 netmask");
    const std::string_view kind = in.field("loopback or network");
    if (kind != "loopback" && kind != "network") in.malformed("loopback or network");
    i.loopback = kind == "loopback";
    i.name = in.name("the interface name's length");
    in.end_record();
    out.interfaces.push_back(std::move(i));
  }
  return out;
}

}  // namespace pkd::parallel
