// The Gloo rendezvous rules (parallel/endpoint.h) on made-up hosts. Addresses are from the
// benchmarking range 198.18.0.0/15, loopback and docker0's default 172.17.0.0/16 only.
#include "parallel/endpoint.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace pkd::parallel {
namespace {

// Interface("eth1", "198.18.0.12/24").
Interface iface(const std::string& name, const std::string& cidr) {
  const auto slash = cidr.find('/');
  in_addr parsed{};
  EXPECT_EQ(inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &parsed), 1) << cidr;
  const int prefix = std::stoi(cidr.substr(slash + 1));
  Interface i;
  i.name = name;
  i.address = ntohl(parsed.s_addr);
  i.netmask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
  i.loopback = name == "lo";
  return i;
}

RankNetwork rank_on(const std::string& host, std::vector<Interface> interfaces) {
  return RankNetwork{host, std::move(interfaces)};
}

// The message choose_endpoints fails with (empty, and a test failure, when it does not).
std::string failure(const std::vector<RankNetwork>& ranks, const std::string& interface) {
  try {
    choose_endpoints(ranks, interface);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "choose_endpoints did not fail";
  return "";
}

const Interface kLo = iface("lo", "127.0.0.1/8");

TEST(Endpoint, DescribeShowsNameAddressAndPrefix) {
  EXPECT_EQ(iface("eth1", "198.18.0.12/24").describe(), "eth1 198.18.0.12/24");
  EXPECT_EQ(kLo.describe(), "lo 127.0.0.1/8");
}

TEST(Endpoint, OneHostUsesLoopback) {
  const auto eth = iface("eth1", "198.18.0.11/24");
  const Endpoints e =
      choose_endpoints({rank_on("pkdn1", {kLo, eth}), rank_on("pkdn1", {kLo, eth})}, "ib0");
  EXPECT_EQ(e.store_address, "127.0.0.1");
  EXPECT_EQ(e.rank_addresses, (std::vector<std::string>{"127.0.0.1", "127.0.0.1"}));
  EXPECT_EQ(e.how, "all ranks on host pkdn1: loopback");
}

TEST(Endpoint, NamedInterfaceGivesEachRankItsAddress) {
  // Different subnets per host (a routed cluster): the name decides, not the network.
  const Endpoints e = choose_endpoints(
      {rank_on("pkdn1", {kLo, iface("eth0", "198.18.1.5/24"), iface("ib0", "198.19.0.11/24")}),
       rank_on("pkdn2", {kLo, iface("ib0", "198.19.7.12/24")})},
      "ib0");
  EXPECT_EQ(e.store_address, "198.19.0.11");
  EXPECT_EQ(e.rank_addresses, (std::vector<std::string>{"198.19.0.11", "198.19.7.12"}));
  EXPECT_NE(e.how.find("parallel.gloo_interface = \"ib0\""), std::string::npos) << e.how;
}

TEST(Endpoint, NamedInterfaceMissingNamesRankHostAndItsInterfaces) {
  const std::string message = failure({rank_on("pkdn1", {kLo, iface("ib0", "198.19.0.11/24")}),
                                       rank_on("pkdn2", {kLo, iface("eth1", "198.18.0.12/24")})},
                                      "ib0");
  EXPECT_NE(message.find("rank 1 (host pkdn2) has no IPv4 interface \"ib0\""), std::string::npos)
      << message;
  EXPECT_NE(message.find("it has: lo 127.0.0.1/8, eth1 198.18.0.12/24"), std::string::npos)
      << message;
}

TEST(Endpoint, NamedInterfaceWithTheSameAddressOnTwoHostsIsRefused) {
  const auto docker = iface("docker0", "172.17.0.1/16");
  const std::string message =
      failure({rank_on("pkdn1", {kLo, docker}), rank_on("pkdn2", {kLo, docker})}, "docker0");
  EXPECT_NE(message.find("both have 172.17.0.1"), std::string::npos) << message;
  EXPECT_NE(message.find("host-local"), std::string::npos) << message;
}

TEST(Endpoint, SharedNetworkGivesEachRankItsAddress) {
  const Endpoints e = choose_endpoints(
      {rank_on("pkdn1", {kLo, iface("eth0", "198.19.5.1/24"), iface("eth1", "198.18.0.11/24")}),
       rank_on("pkdn2", {kLo, iface("eth1", "198.18.0.12/24")})},
      "");
  EXPECT_EQ(e.store_address, "198.18.0.11");
  EXPECT_EQ(e.rank_addresses, (std::vector<std::string>{"198.18.0.11", "198.18.0.12"}));
  EXPECT_EQ(e.how.rfind("every rank has an address on 198.18.0.0/24 (eth1)", 0), 0u) << e.how;
  // eth0 was tried first and is named with the host that lacks it.
  EXPECT_NE(e.how.find("198.19.5.0/24 (eth0) is missing on rank 1 (host pkdn2)"), std::string::npos)
      << e.how;
}

TEST(Endpoint, HostLocalDockerNetworkIsSkipped) {
  // docker0 comes first in getifaddrs order and has the same address on both hosts.
  const auto docker = iface("docker0", "172.17.0.1/16");
  const Endpoints e =
      choose_endpoints({rank_on("pkdn1", {docker, kLo, iface("eth1", "198.18.0.11/24")}),
                        rank_on("pkdn2", {docker, kLo, iface("eth1", "198.18.0.12/24")})},
                       "");
  EXPECT_EQ(e.rank_addresses, (std::vector<std::string>{"198.18.0.11", "198.18.0.12"}));
}

TEST(Endpoint, HostLocalNetworkIsRejectedEvenWhenNotNamedLikeABridge) {
  const auto local = iface("eth9", "172.17.0.1/16");
  const Endpoints e =
      choose_endpoints({rank_on("pkdn1", {kLo, local, iface("eth1", "198.18.0.11/24")}),
                        rank_on("pkdn2", {kLo, local, iface("eth1", "198.18.0.12/24")})},
                       "");
  EXPECT_EQ(e.store_address, "198.18.0.11");
  EXPECT_NE(e.how.find("172.17.0.0/16 (eth9) is host-local"), std::string::npos) << e.how;
}

TEST(Endpoint, InfinibandIsPreferredWhenBothAreShared) {
  const Endpoints e = choose_endpoints(
      {rank_on("pkdn1", {kLo, iface("eth0", "198.18.0.11/24"), iface("ib0", "198.19.0.11/24")}),
       rank_on("pkdn2", {kLo, iface("eth0", "198.18.0.12/24"), iface("ib0", "198.19.0.12/24")})},
      "");
  EXPECT_EQ(e.rank_addresses, (std::vector<std::string>{"198.19.0.11", "198.19.0.12"}));
  EXPECT_EQ(e.how, "every rank has an address on 198.19.0.0/24 (ib0)");
}

TEST(Endpoint, RanksOnOneHostShareAnAddress) {
  const auto n1 = iface("eth1", "198.18.0.11/24");
  const auto n2 = iface("eth1", "198.18.0.12/24");
  const Endpoints e = choose_endpoints({rank_on("pkdn1", {kLo, n1}), rank_on("pkdn1", {kLo, n1}),
                                        rank_on("pkdn2", {kLo, n2}), rank_on("pkdn2", {kLo, n2})},
                                       "");
  EXPECT_EQ(e.rank_addresses,
            (std::vector<std::string>{"198.18.0.11", "198.18.0.11", "198.18.0.12", "198.18.0.12"}));
}

TEST(Endpoint, NoSharedNetworkListsHostsAndSuggestsTheKey) {
  const auto docker = iface("docker0", "172.17.0.1/16");
  const std::vector<RankNetwork> ranks{
      rank_on("pkdn1", {kLo, iface("eth0", "198.18.0.11/24"), docker}),
      rank_on("pkdn1", {kLo, iface("eth0", "198.18.0.11/24"), docker}),
      rank_on("pkdn2", {kLo, iface("eth0", "198.19.0.12/24"), docker})};
  const std::string message = failure(ranks, "");
  EXPECT_NE(message.find("no IPv4 network is shared by all hosts"), std::string::npos) << message;
  EXPECT_NE(message.find("172.17.0.0/16 (docker0) is host-local"), std::string::npos) << message;
  EXPECT_NE(message.find("pkdn1 (rank 0): lo 127.0.0.1/8, eth0 198.18.0.11/24, docker0 "
                         "172.17.0.1/16"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("pkdn2 (rank 2): lo 127.0.0.1/8, eth0 198.19.0.12/24"), std::string::npos)
      << message;
  EXPECT_EQ(message.find("(rank 1)"), std::string::npos) << "one entry per host: " << message;
  EXPECT_NE(message.find("Set parallel.gloo_interface to the interface of the cluster network"),
            std::string::npos)
      << message;
}

TEST(Endpoint, SerializeRoundTrips) {
  // Names are length-prefixed: spaces and newlines in them survive.
  const RankNetwork original =
      rank_on("pkd n1\nx", {kLo, iface("eth1", "198.18.0.12/24"), iface("odd name", "0.0.0.0/0")});
  const RankNetwork back = parse_rank_network(serialize(original));
  EXPECT_EQ(back.host, original.host);
  ASSERT_EQ(back.interfaces.size(), original.interfaces.size());
  for (std::size_t i = 0; i < back.interfaces.size(); ++i) {
    EXPECT_EQ(back.interfaces[i].name, original.interfaces[i].name);
    EXPECT_EQ(back.interfaces[i].address, original.interfaces[i].address);
    EXPECT_EQ(back.interfaces[i].netmask, original.interfaces[i].netmask);
    EXPECT_EQ(back.interfaces[i].loopback, original.interfaces[i].loopback);
  }
  EXPECT_TRUE(parse_rank_network(serialize(rank_on("h", {}))).interfaces.empty());
}

TEST(Endpoint, ParseRefusesGarbage) {
  const std::string good = serialize(rank_on("pkdn1", {iface("eth1", "198.18.0.12/24")}));
  for (const std::string& bad :
       {std::string(""), std::string("garbage"), std::string("host 99 pkdn1\n"),
        std::string("host -1 x\n"), good.substr(0, good.size() - 1), good + "ipv4 1.2.3\n",
        std::string("host 5 pkdn1\nipv4 198.18.0.12 255.255.255.0 maybe 4 eth1\n"),
        std::string("host 5 pkdn1\nipv4 198.18.0.300 255.255.255.0 network 4 eth1\n")}) {
    EXPECT_THROW(parse_rank_network(bad), Error) << quoted(bad);
  }
  try {
    parse_rank_network("host 5 pkdn1\nipv4 x");
    ADD_FAILURE() << "parsed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected an IPv4 address"), std::string::npos)
        << e.what();
  }
}

TEST(Endpoint, LocalInterfacesIncludeLoopback) {
  bool found = false;
  for (const Interface& i : local_interfaces())
    if (i.loopback && i.describe().find("127.0.0.1/8") != std::string::npos) found = true;
  EXPECT_TRUE(found) << "no loopback 127.0.0.1/8 among this host's interfaces";
}

}  // namespace
}  // namespace pkd::parallel
