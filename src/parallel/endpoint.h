#pragma once
// Where the ranks of a Gloo job meet: the address of rank 0's rendezvous store and the address
// each rank's Gloo device binds. Every rank reports its host name and IPv4 interfaces to rank 0
// over MPI; rank 0 chooses (choose_endpoints, a pure function so that the rules are tested
// without a cluster) and broadcasts the choice or the reason there is none. Torch-free.
#include <cstdint>
#include <string>
#include <vector>

#include "mpi/comm.h"

namespace pkd::parallel {

// One IPv4 address of a network interface that is up.
struct Interface {
  std::string name;           // e.g. "eth1"; an interface with several addresses comes once each
  std::uint32_t address = 0;  // host byte order
  std::uint32_t netmask = 0;  // host byte order, e.g. 0xffffff00 for /24
  bool loopback = false;      // IFF_LOOPBACK
  // "eth1 198.18.0.12/24".
  std::string describe() const;
};

// "198.18.0.12" for a host-byte-order IPv4 address.
std::string ipv4_text(std::uint32_t address);

// This host's IPv4 interfaces that are up, loopback included, in getifaddrs order. Throws Error
// when the system cannot list them.
std::vector<Interface> local_interfaces();

// What one rank reports to rank 0.
struct RankNetwork {
  std::string host;  // gethostname: ranks with the same name share a host (and its loopback)
  std::vector<Interface> interfaces;
};

// A line-based text for the MPI gather; names are length-prefixed, so any byte may be in them.
std::string serialize(const RankNetwork& network);
// The inverse of serialize; throws Error (an internal error) on any other text.
RankNetwork parse_rank_network(const std::string& text);

// The rendezvous addresses every rank agrees on (dotted-quad IPv4).
struct Endpoints {
  std::string store_address;                // rank 0's TCPStore
  std::vector<std::string> rank_addresses;  // [r]: the address rank r's Gloo device binds
  std::vector<std::string> rank_hosts;      // [r]: rank r's host name (for messages)
  std::string how;  // why these, for logs and errors: "every rank has an address on ..."
};

// Chooses the endpoints of ranks[0..n) (index = rank). `interface` is parallel.gloo_interface.
//  - all ranks on one host: 127.0.0.1 everywhere;
//  - `interface` set: each rank's address on the interface of that name (rank 0's for the
//    store), which also suits routed clusters whose hosts are on different subnets; refused
//    when two hosts have the same address on it;
//  - else the first of rank 0's non-loopback networks (ib* first, container and VM bridges
//    last) on which every rank has an address and no two hosts have the same one (the same
//    address on two hosts marks a host-local network such as docker0's).
// Throws Error saying what each host has and what to set when no rule gives an address.
Endpoints choose_endpoints(const std::vector<RankNetwork>& ranks, const std::string& interface);

// choose_endpoints over every rank's local_interfaces() and host name. Collective: every rank
// returns the same endpoints or throws Error with the same message.
Endpoints agree_endpoints(mpi::Comm& comm, const std::string& interface);

}  // namespace pkd::parallel
