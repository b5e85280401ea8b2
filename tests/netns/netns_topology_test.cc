#include "netns/netns_topology.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "testing/process_launcher.h"

namespace mooncake::netns {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

#define MC_SKIP_WITHOUT_NETNS()                                              \
  do {                                                                       \
    if (std::string reason = NetnsTopology::SkipReason(); !reason.empty()) { \
      GTEST_SKIP() << "network namespaces unusable: " << reason;             \
    }                                                                        \
  } while (0)

constexpr uint16_t kPort = 7070;  // Any port works: each namespace has its own.

std::vector<std::string> Namespaces() {
  Result<std::vector<std::string>> names = NetnsTopology::ListNamespaces();
  EXPECT_TRUE(names.ok()) << names.status().ToString();
  return names.ok() ? *names : std::vector<std::string>{};
}

// Names of this process's namespaces ("mc<pid>-...") that still exist.
std::vector<std::string> OurNamespaces() {
  const std::string prefix = "mc" + std::to_string(::getpid()) + "-";
  std::vector<std::string> ours;
  for (const std::string& name : Namespaces()) {
    if (name.starts_with(prefix)) ours.push_back(name);
  }
  return ours;
}

// Absolute path of `name` found in $PATH, or "".
std::string Which(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = std::min(dirs.find(':', start), dirs.size());
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

// A listening TCP socket that lives in namespace `ns`: a helper thread enters the namespace
// (setns changes only the calling thread), creates the socket and ends; the socket stays in
// `ns`. No accept() is needed: the kernel completes handshakes into the backlog.
class Listener {
 public:
  static std::unique_ptr<Listener> Open(const std::string& ns, const std::string& ip,
                                        uint16_t port) {
    int fd = -1;
    std::string error;
    std::thread([&] {
      int ns_fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
      if (ns_fd < 0 || ::setns(ns_fd, CLONE_NEWNET) != 0) {
        error = "cannot enter " + ns;
        if (ns_fd >= 0) ::close(ns_fd);
        return;
      }
      ::close(ns_fd);
      fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(port);
      ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
      if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
          ::listen(fd, 64) != 0) {
        error = "cannot listen on " + ip + " in " + ns;
      }
    }).join();
    EXPECT_EQ(error, "");
    if (!error.empty()) {
      if (fd >= 0) ::close(fd);
      return nullptr;
    }
    return std::unique_ptr<Listener>(new Listener(fd));
  }
  ~Listener() { ::close(fd_); }

 private:
  explicit Listener(int fd) : fd_(fd) {}
  int fd_;
};

// Connects from `host` to ip:kPort with bash's /dev/tcp, giving up after 2 s.
Status Connect(NetnsTopology& topology, const std::string& host, const std::string& ip) {
  return topology.Run(
      host, {"timeout", "2", "bash", "-c", "echo > /dev/tcp/" + ip + "/" + std::to_string(kPort)},
      seconds(5));
}

// Retries Connect for up to ~5 s (a link brought back up needs a moment for carrier).
Status ConnectEventually(NetnsTopology& topology, const std::string& host, const std::string& ip) {
  Status status;
  for (int attempt = 0; attempt < 50; ++attempt) {
    status = Connect(topology, host, ip);
    if (status.ok()) return status;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return status;
}

std::unique_ptr<NetnsTopology> TwoHostsOneLink(const LinkOptions& options = {}) {
  Result<std::unique_ptr<NetnsTopology>> topology = NetnsTopology::Create();
  EXPECT_TRUE(topology.ok()) << topology.status().ToString();
  if (!topology.ok()) return nullptr;
  NetnsTopology& t = **topology;
  EXPECT_TRUE(t.AddHost("a").ok());
  EXPECT_TRUE(t.AddHost("b").ok());
  Status linked = t.Link("a", "10.250.1.1/24", "b", "10.250.1.2/24", options);
  EXPECT_TRUE(linked.ok()) << linked.ToString();
  return linked.ok() ? std::move(topology).value() : nullptr;
}

TEST(NetnsTopologyTest, HostsTalkOverALinkAndVanishWithTheTopology) {
  MC_SKIP_WITHOUT_NETNS();
  auto topology = TwoHostsOneLink();
  ASSERT_NE(topology, nullptr);
  Result<std::string> ns_a = topology->NamespaceOf("a");
  Result<std::string> ns_b = topology->NamespaceOf("b");
  ASSERT_TRUE(ns_a.ok() && ns_b.ok());
  EXPECT_TRUE(ns_a->starts_with("mc" + std::to_string(::getpid()) + "-")) << *ns_a;
  EXPECT_THAT(Namespaces(), Contains(*ns_a));
  EXPECT_THAT(Namespaces(), Contains(*ns_b));

  Result<std::string> addr = topology->Output("b", {"ip", "-o", "-4", "addr", "show"});
  ASSERT_TRUE(addr.ok()) << addr.status().ToString();
  EXPECT_THAT(*addr, HasSubstr("10.250.1.2/24"));
  EXPECT_THAT(*addr, HasSubstr("127.0.0.1/8"));  // lo is up.

  if (!Which("ping").empty()) {
    Status ping = topology->Run("a", {"ping", "-c", "1", "-W", "2", "10.250.1.2"});
    EXPECT_TRUE(ping.ok()) << ping.ToString();
  }
  auto listener = Listener::Open(*ns_b, "10.250.1.2", kPort);
  ASSERT_NE(listener, nullptr);
  Status connected = Connect(*topology, "a", "10.250.1.2");
  EXPECT_TRUE(connected.ok()) << connected.ToString();
  // Traffic from a to b leaves through the link's interface.
  Result<std::string> root_route = topology->Output("a", {"ip", "route", "get", "10.250.1.2"});
  ASSERT_TRUE(root_route.ok()) << root_route.status().ToString();
  Result<std::string> dev = topology->InterfaceOf("a", "10.250.1.1");
  ASSERT_TRUE(dev.ok());
  EXPECT_THAT(*root_route, HasSubstr("dev " + *dev));
  Result<InterfaceCounters> counters = topology->Counters("a", "10.250.1.1/24");
  ASSERT_TRUE(counters.ok()) << counters.status().ToString();
  EXPECT_GT(counters->tx_bytes, 0u);
  EXPECT_GT(counters->rx_bytes, 0u);

  listener.reset();
  topology.reset();
  EXPECT_THAT(Namespaces(), Not(Contains(*ns_a)));
  EXPECT_THAT(Namespaces(), Not(Contains(*ns_b)));
}

TEST(NetnsTopologyTest, ProcessStartedInAHostRunsThereAndDiesWithTheTopology) {
  MC_SKIP_WITHOUT_NETNS();
  auto topology = TwoHostsOneLink();
  ASSERT_NE(topology, nullptr);
  testing::ProcessOptions sleeper;
  sleeper.binary = "/bin/sh";
  sleeper.args = {"-c", "ip -o -4 addr show; echo READY; exec sleep 60"};
  Result<testing::ProcessOptions> inside = topology->InHost("b", sleeper);
  ASSERT_TRUE(inside.ok()) << inside.status().ToString();
  Result<std::unique_ptr<testing::ChildProcess>> child = testing::ChildProcess::Start(*inside);
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  ASSERT_TRUE((*child)->WaitForLine("READY", seconds(10)).ok());
  EXPECT_THAT((*child)->ReadLog(), HasSubstr("10.250.1.2/24"));

  Result<std::string> ns_b = topology->NamespaceOf("b");
  ASSERT_TRUE(ns_b.ok());
  Result<std::vector<std::string>> prefix = topology->CommandPrefix("b");
  ASSERT_TRUE(prefix.ok());
  EXPECT_EQ(prefix->size(), 4u);
  EXPECT_EQ(prefix->back(), *ns_b);

  topology.reset();  // Kills the sleeper before deleting the namespace.
  EXPECT_FALSE((*child)->Running());
  EXPECT_THAT(OurNamespaces(), ::testing::IsEmpty());
}

TEST(NetnsTopologyTest, CutLinkFailsConnectsUntilItIsBroughtBackUp) {
  MC_SKIP_WITHOUT_NETNS();
  auto topology = TwoHostsOneLink();
  ASSERT_NE(topology, nullptr);
  Result<std::string> ns_b = topology->NamespaceOf("b");
  ASSERT_TRUE(ns_b.ok());
  auto listener = Listener::Open(*ns_b, "10.250.1.2", kPort);
  ASSERT_NE(listener, nullptr);
  ASSERT_TRUE(Connect(*topology, "a", "10.250.1.2").ok());

  // Cut at the far end: the near end only loses carrier, so the connect must time out or fail.
  ASSERT_TRUE(topology->SetLinkState("b", "10.250.1.2", LinkState::kDown).ok());
  EXPECT_FALSE(Connect(*topology, "a", "10.250.1.2").ok());
  ASSERT_TRUE(topology->SetLinkState("b", "10.250.1.2", LinkState::kUp).ok());
  Status healed = ConnectEventually(*topology, "a", "10.250.1.2");
  EXPECT_TRUE(healed.ok()) << healed.ToString();

  // Cut at the near end: the route goes away.
  ASSERT_TRUE(topology->SetLinkState("a", "10.250.1.1/24", LinkState::kDown).ok());
  EXPECT_FALSE(Connect(*topology, "a", "10.250.1.2").ok());
  ASSERT_TRUE(topology->SetLinkState("a", "10.250.1.1/24", LinkState::kUp).ok());
  healed = ConnectEventually(*topology, "a", "10.250.1.2");
  EXPECT_TRUE(healed.ok()) << healed.ToString();
}

TEST(NetnsTopologyTest, RateLimitPutsTbfOnBothEndsOnlyWhenAsked) {
  MC_SKIP_WITHOUT_NETNS();
  auto topology = TwoHostsOneLink(OneGbitLink());
  ASSERT_NE(topology, nullptr);
  ASSERT_TRUE(topology->Link("a", "10.250.2.1/24", "b", "10.250.2.2/24").ok());
  for (const auto& [host, ip] : {std::pair{"a", "10.250.1.1"}, std::pair{"b", "10.250.1.2"}}) {
    Result<std::string> dev = topology->InterfaceOf(host, ip);
    ASSERT_TRUE(dev.ok());
    EXPECT_LE(dev->size(), 15u);
    Result<std::string> qdisc = topology->Output(host, {"tc", "qdisc", "show", "dev", *dev});
    ASSERT_TRUE(qdisc.ok()) << qdisc.status().ToString();
    EXPECT_THAT(*qdisc, HasSubstr("tbf"));
    EXPECT_THAT(*qdisc, HasSubstr("rate 1Gbit"));
    EXPECT_THAT(*qdisc, HasSubstr("lat 50ms"));
  }
  Result<std::string> plain_dev = topology->InterfaceOf("a", "10.250.2.1");
  ASSERT_TRUE(plain_dev.ok());
  Result<std::string> plain = topology->Output("a", {"tc", "qdisc", "show", "dev", *plain_dev});
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_THAT(*plain, Not(HasSubstr("tbf")));
}

TEST(NetnsTopologyTest, RejectsBadNamesAddressesAndHosts) {
  MC_SKIP_WITHOUT_NETNS();
  auto topology = TwoHostsOneLink();
  ASSERT_NE(topology, nullptr);
  EXPECT_FALSE(topology->AddHost("a").ok());  // Duplicate.
  EXPECT_FALSE(topology->AddHost("bad-name").ok());
  EXPECT_FALSE(topology->AddHost("").ok());
  Status outside = topology->Link("a", "192.168.7.1/24", "b", "192.168.7.2/24");
  EXPECT_THAT(outside.message(), HasSubstr("outside 10.250.0.0/16"));
  EXPECT_FALSE(topology->Link("a", "10.250.3.1", "b", "10.250.3.2/24").ok());  // No prefix.
  EXPECT_FALSE(topology->Link("a", "10.250.3.1/24", "zz", "10.250.3.2/24").ok());
  EXPECT_FALSE(topology->Link("a", "10.250.3.1/24", "a", "10.250.3.2/24").ok());
  EXPECT_FALSE(topology->SetLinkState("a", "10.250.9.9", LinkState::kDown).ok());
  EXPECT_FALSE(topology->CommandPrefix("zz").ok());
  Status failing = topology->Run("a", {"sh", "-c", "echo boom >&2; exit 3"});
  EXPECT_THAT(failing.message(), HasSubstr("boom"));
  EXPECT_THAT(failing.message(), HasSubstr("status 3"));
  Status slow = topology->Run("a", {"sleep", "30"}, milliseconds(200));
  EXPECT_FALSE(slow.ok());
}

// Runs `script` with /bin/sh in the root namespace (bounded); its exit code, or -1.
int Shell(const std::string& script) {
  testing::ProcessOptions options;
  options.binary = "/bin/sh";
  options.args = {"-c", script};
  Result<std::unique_ptr<testing::ChildProcess>> child = testing::ChildProcess::Start(options);
  return child.ok() ? (*child)->Wait(seconds(10)).value_or(-1) : -1;
}

// Deletes the namespaces it names at scope exit (the test made them by hand).
struct HandMadeNamespaces {
  std::vector<std::string> names;
  ~HandMadeNamespaces() {
    for (const std::string& name : names) {
      Shell("ip netns pids " + name + " 2>/dev/null | xargs -r kill -9; ip netns delete " + name +
            " 2>/dev/null");
    }
  }
};

pid_t DeadPid() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

TEST(NetnsTopologyTest, CreateSweepsNamespacesOfDeadProcessesOnly) {
  MC_SKIP_WITHOUT_NETNS();
  const std::string stale = "mc" + std::to_string(DeadPid()) + "-x";
  // Our pid in the other names keeps concurrent runs of this test apart.
  const std::string pid = std::to_string(::getpid());
  const std::string live_owner = "mc1-x" + pid;    // pid 1 is always alive.
  const std::string foreign = "mcx" + pid + "-x";  // Not "mc<digits>-".
  HandMadeNamespaces guard{{stale, live_owner, foreign}};
  for (const std::string& name : guard.names) ASSERT_EQ(Shell("ip netns add " + name), 0) << name;
  // Something still running in the stale namespace must be killed, or it would keep it alive.
  testing::ProcessOptions squatter_options;
  squatter_options.binary = "/bin/sh";
  squatter_options.args = {"-c", "exec ip netns exec " + stale + " sleep 60"};
  Result<std::unique_ptr<testing::ChildProcess>> squatter =
      testing::ChildProcess::Start(squatter_options);
  ASSERT_TRUE(squatter.ok());
  for (int attempt = 0; attempt < 100; ++attempt) {  // Until it has entered the namespace.
    if (Shell("ip netns pids " + stale + " | grep -q .") == 0) break;
    std::this_thread::sleep_for(milliseconds(20));
  }

  Result<std::unique_ptr<NetnsTopology>> topology = NetnsTopology::Create();
  ASSERT_TRUE(topology.ok()) << topology.status().ToString();
  std::vector<std::string> after = Namespaces();
  EXPECT_THAT(after, Not(Contains(stale)));
  EXPECT_THAT(after, Contains(live_owner));
  EXPECT_THAT(after, Contains(foreign));
  EXPECT_FALSE((*squatter)->Running());
}

TEST(NetnsTopologyTest, TwoTopologiesOfOneProcessDoNotCollide) {
  MC_SKIP_WITHOUT_NETNS();
  auto first = TwoHostsOneLink();
  auto second = TwoHostsOneLink();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(first->NamespaceOf("a").value_or(""), second->NamespaceOf("a").value_or(""));
  EXPECT_EQ(OurNamespaces().size(), 4u);
  first.reset();
  EXPECT_EQ(OurNamespaces().size(), 2u);
  EXPECT_TRUE(second->Run("a", {"true"}).ok());
}

}  // namespace
}  // namespace mooncake::netns
