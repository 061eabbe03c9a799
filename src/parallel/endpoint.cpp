#include "parallel/endpoint.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "core/error.h"
#include "core/strings.h"

namespace pkd::parallel {
namespace {

constexpr std::uint32_t kLoopbackAddress = 0x7f000001;  // 127.0.0.1
// Hosts listed in full by a failure message; a large job's message stays readable.
constexpr std::size_t kListedHosts = 8;
// What a rank sends rank 0 instead of its report when it cannot list its interfaces
// (serialize's text starts with "host ", so the two cannot be confused).
constexpr std::string_view kFailedReport = "error ";

// "/24", or "/255.0.255.0" for a netmask whose ones are not contiguous.
std::string mask_suffix(std::uint32_t netmask) {
  const std::uint32_t host_bits = ~netmask;
  if ((host_bits & (host_bits + 1)) != 0) return "/" + ipv4_text(netmask);
  int prefix = 0;
  for (std::uint32_t bit = 0x80000000u; bit != 0 && (netmask & bit); bit >>= 1) ++prefix;
  return cat("/", prefix);
}

// "198.18.0.0/24 (eth1)": the network of one of rank 0's interfaces.
std::string network_text(const Interface& interface) {
  return cat(ipv4_text(interface.address & interface.netmask), mask_suffix(interface.netmask), " (",
             interface.name, ")");
}

std::string describe_all(const std::vector<Interface>& interfaces) {
  if (interfaces.empty()) return "none";
  std::vector<std::string> parts;
  for (const auto& i : interfaces) parts.push_back(i.describe());
  return join(parts, ", ");
}

std::string rank_text(const std::vector<RankNetwork>& ranks, std::size_t r) {
  return cat("rank ", r, " (host ", ranks[r].host, ")");
}

// Every host once, in the order of its first rank, with that rank's interfaces.
std::string hosts_text(const std::vector<RankNetwork>& ranks) {
  std::set<std::string> seen;
  std::vector<std::string> parts;
  std::size_t hosts = 0;
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    if (!seen.insert(ranks[r].host).second) continue;
    if (++hosts <= kListedHosts)
      parts.push_back(cat(ranks[r].host, " (rank ", r, "): ", describe_all(ranks[r].interfaces)));
  }
  if (hosts > kListedHosts) parts.push_back(cat("and ", hosts - kListedHosts, " more hosts"));
  return join(parts, "; ");
}

// Container, VM and overlay bridges: host-local or per-host networks, so tried last.
bool is_virtual(const std::string& name) {
  for (const char* prefix : {"docker", "virbr", "veth", "br-", "cni", "flannel", "cali"})
    if (starts_with(name, prefix)) return true;
  return false;
}

// Lower is tried first: InfiniBand, then the rest, then virtual bridges.
int preference(const Interface& interface) {
  if (starts_with(interface.name, "ib")) return 0;
  return is_virtual(interface.name) ? 2 : 1;
}

// "" when no two ranks on different hosts have the same address; else says which do. The same
// address on two hosts is a host-local network (docker0's 172.17.0.1 on every host): Gloo would
// connect each rank to its own host.
std::string host_local_clash(const std::vector<RankNetwork>& ranks,
                             const std::vector<std::uint32_t>& addresses) {
  std::map<std::uint32_t, std::size_t> first_rank;
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    const auto [it, inserted] = first_rank.emplace(addresses[r], r);
    if (!inserted && ranks[it->second].host != ranks[r].host)
      return cat(rank_text(ranks, it->second), " and ", rank_text(ranks, r), " both have ",
                 ipv4_text(addresses[r]));
  }
  return "";
}

Endpoints on_addresses(const std::vector<std::uint32_t>& addresses, std::string how) {
  Endpoints out;
  for (std::uint32_t a : addresses) out.rank_addresses.push_back(ipv4_text(a));
  out.store_address = out.rank_addresses[0];
  out.how = std::move(how);
  return out;
}

// Rule b: the named interface on every rank.
Endpoints on_interface(const std::vector<RankNetwork>& ranks, const std::string& interface) {
  std::vector<std::uint32_t> addresses;
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    const auto& mine = ranks[r].interfaces;
    const auto it = std::find_if(mine.begin(), mine.end(),
                                 [&](const Interface& i) { return i.name == interface; });
    if (it == mine.end())
      fail("parallel.gloo_interface = ", quoted(interface), ", but ", rank_text(ranks, r),
           " has no IPv4 interface ", quoted(interface),
           " that is up; it has: ", describe_all(mine));
    addresses.push_back(it->address);
  }
  const std::string clash = host_local_clash(ranks, addresses);
  if (!clash.empty())
    fail("parallel.gloo_interface = ", quoted(interface), ", but ", clash,
         " on it: a host-local network, which Gloo cannot connect across. Set "
         "parallel.gloo_interface to the interface of the cluster network");
  return on_addresses(addresses,
                      cat("parallel.gloo_interface = ", quoted(interface), " on every rank"));
}

// Rule c: the first of rank 0's networks that every rank is on, at an address of its own host.
Endpoints on_shared_network(const std::vector<RankNetwork>& ranks) {
  std::vector<const Interface*> candidates;
  for (const auto& i : ranks[0].interfaces)
    if (!i.loopback) candidates.push_back(&i);
  std::stable_sort(
      candidates.begin(), candidates.end(),
      [](const Interface* a, const Interface* b) { return preference(*a) < preference(*b); });
  std::set<std::pair<std::uint32_t, std::uint32_t>> tried;  // (network, netmask)
  std::vector<std::string> skipped;  // why each network tried before the chosen one was not
  for (const Interface* candidate : candidates) {
    const std::uint32_t netmask = candidate->netmask;
    const std::uint32_t network = candidate->address & netmask;
    if (!tried.emplace(network, netmask).second) continue;  // a second address on one network
    std::vector<std::uint32_t> addresses{candidate->address};
    for (std::size_t r = 1; r < ranks.size(); ++r) {
      const auto& mine = ranks[r].interfaces;
      const auto it = std::find_if(mine.begin(), mine.end(), [&](const Interface& i) {
        return i.netmask == netmask && (i.address & netmask) == network;
      });
      if (it == mine.end()) {
        skipped.push_back(cat(network_text(*candidate), " is missing on ", rank_text(ranks, r)));
        break;
      }
      addresses.push_back(it->address);
    }
    if (addresses.size() < ranks.size()) continue;
    const std::string clash = host_local_clash(ranks, addresses);
    if (!clash.empty()) {
      skipped.push_back(cat(network_text(*candidate), " is host-local: ", clash));
      continue;
    }
    std::string how = cat("every rank has an address on ", network_text(*candidate));
    if (!skipped.empty()) how += cat("; passed over: ", join(skipped, "; "));
    return on_addresses(addresses, how);
  }
  fail("no IPv4 network is shared by all hosts of this job, so Gloo has no address to use: ",
       skipped.empty() ? cat(rank_text(ranks, 0), " has no IPv4 network besides loopback")
                       : join(skipped, "; "),
       ". Interfaces by host: ", hosts_text(ranks),
       ". Set parallel.gloo_interface to the interface of the cluster network (the same name on "
       "every host)");
}

}  // namespace

std::string ipv4_text(std::uint32_t address) {
  return cat(address >> 24, ".", (address >> 16) & 255, ".", (address >> 8) & 255, ".",
             address & 255);
}

std::string Interface::describe() const {
  return cat(name, " ", ipv4_text(address), mask_suffix(netmask));
}

Endpoints choose_endpoints(const std::vector<RankNetwork>& ranks, const std::string& interface) {
  if (ranks.empty()) fail("internal error: choose_endpoints called with no ranks");
  const bool one_host = std::all_of(ranks.begin(), ranks.end(),
                                    [&](const RankNetwork& r) { return r.host == ranks[0].host; });
  Endpoints chosen = one_host
                         ? on_addresses(std::vector<std::uint32_t>(ranks.size(), kLoopbackAddress),
                                        cat("all ranks on host ", ranks[0].host, ": loopback"))
                     : !interface.empty() ? on_interface(ranks, interface)
                                          : on_shared_network(ranks);
  for (const auto& r : ranks) chosen.rank_hosts.push_back(r.host);
  return chosen;
}

Endpoints agree_endpoints(mpi::Comm& comm, const std::string& interface) {
  // A rank that cannot list its interfaces still reports (why), so that rank 0 fails the
  // rendezvous for every rank instead of this one throwing while the others wait.
  const std::string host = mpi::hostname();
  std::string report;
  try {
    report = serialize(RankNetwork{host, local_interfaces()});
  } catch (const Error& e) {
    report = cat(kFailedReport, "rank ", comm.rank(), " (host ", host, "): ", e.what());
  }
  const std::vector<std::string> reports = comm.gather(report);
  Endpoints chosen;
  std::string error;  // rank 0's, empty when it chose
  if (comm.is_root()) {
    try {
      std::vector<RankNetwork> ranks;
      for (const auto& r : reports) {
        if (starts_with(r, kFailedReport)) fail(r.substr(kFailedReport.size()));
        ranks.push_back(parse_rank_network(r));
      }
      chosen = choose_endpoints(ranks, interface);
    } catch (const Error& e) {
      error = e.what();
    }
  }
  error = comm.broadcast(error);
  if (!error.empty()) fail(error);
  chosen.store_address = comm.broadcast(chosen.store_address);
  chosen.how = comm.broadcast(chosen.how);
  // Dotted quads have no spaces.
  chosen.rank_addresses = split(comm.broadcast(join(chosen.rank_addresses, " ")), ' ');
  // Host names have no newlines (gethostname, RFC 1123).
  chosen.rank_hosts = split(comm.broadcast(join(chosen.rank_hosts, "\n")), '\n');
  if (chosen.rank_addresses.size() != static_cast<std::size_t>(comm.size()) ||
      chosen.rank_hosts.size() != chosen.rank_addresses.size())
    fail("internal error: the Gloo rendezvous has ", chosen.rank_addresses.size(),
         " addresses and ", chosen.rank_hosts.size(), " hosts for ", comm.size(), " ranks");
  return chosen;
}

}  // namespace pkd::parallel
