#pragma once

// Emulated hosts for integration and fault tests: network namespaces joined by veth pairs,
// optionally rate-limited with a tbf qdisc, torn down when the NetnsTopology goes away.
//
// Rules it enforces: namespaces are named "mc<pid>-<seq>-<short>" (unique per process and
// topology), addresses must lie in 10.250.0.0/16, every command it runs has a bounded timeout.
// A test killed before its destructor ran leaves namespaces behind; the next Create() removes
// every "mc<pid>-..." namespace whose <pid> is dead (killing what still runs inside) and never
// touches a namespace whose name does not match that pattern.
//
// Needs root and iproute2 (`ip`, `tc`). Tests skip visibly when it is unusable:
//   if (std::string reason = NetnsTopology::SkipReason(); !reason.empty()) GTEST_SKIP() << reason;

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mooncake/common/status.h"
#include "testing/process_launcher.h"

namespace mooncake::netns {

inline constexpr uint64_t kOneGbitPerSecond = 1'000'000'000;

// Options of one veth link (both ends get the same shaping).
struct LinkOptions {
  // Token-bucket rate on both ends, in bits per second (SI: 1 Gbit = 10^9). Default 0, which
  // means unlimited: no qdisc is added.
  uint64_t rate_bits_per_second = 0;
  // Bucket size in bytes (tc's "burst"). Default 256 KiB, i.e. tc "256kb".
  uint64_t burst_bytes = 256 * 1024;
  // How long a packet may wait for tokens before it is dropped (tc's "latency"). Default 50 ms.
  std::chrono::milliseconds latency{50};

  // Fails when rate is set and burst or latency is zero.
  Status Validate() const;
};

// The shaped link the issues use: tbf rate 1gbit burst 256kb latency 50ms.
inline LinkOptions OneGbitLink() { return LinkOptions{.rate_bits_per_second = kOneGbitPerSecond}; }

enum class LinkState { kUp, kDown };

// rx/tx byte counters of one link end, as seen inside its namespace.
struct InterfaceCounters {
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
};

// Owns the namespaces it created. Not thread-safe: call from one thread. Processes started
// inside a host (via CommandPrefix/InHost and ChildProcess) may run on; the destructor kills
// them before deleting the namespaces.
class NetnsTopology {
 public:
  // Bound on each `ip`/`tc` command and on Run() unless the caller gives another.
  static constexpr std::chrono::milliseconds kDefaultCommandTimeout{10'000};

  // Empty when namespaces can be used here; otherwise why not (not root, `ip`/`tc` missing,
  // `ip netns add` or veth creation refused). Probes once per process (creates and deletes a
  // namespace "mc<pid>-probe"), then returns the cached answer.
  static std::string SkipReason();

  // Fails, with SkipReason() as the message (code kNotSupported), when unusable. Sweeps stale
  // namespaces of dead processes first (see the file comment).
  static Result<std::unique_ptr<NetnsTopology>> Create();

  NetnsTopology(const NetnsTopology&) = delete;
  NetnsTopology& operator=(const NetnsTopology&) = delete;
  // SIGKILLs every process inside each namespace it created, then deletes the namespaces (which
  // deletes their veths). Errors are ignored: cleanup must not fail a test.
  ~NetnsTopology();

  // Creates a namespace for host `short_name` ([A-Za-z0-9_]{1,16}, unique in this topology) with
  // `lo` up. Returns the namespace name, e.g. "mc4242-0-a".
  Result<std::string> AddHost(std::string_view short_name);

  // Joins two distinct hosts with a new veth pair, assigns `address_a` to the end in host_a and
  // `address_b` to the end in host_b (IPv4 CIDR inside 10.250.0.0/16, e.g. "10.250.1.1/24"),
  // brings both up and, when options.rate_bits_per_second > 0, adds on both ends
  // `tc qdisc add dev X root tbf rate R burst B latency L`. Interface names are
  // "mc<pid%100000><n>a" (in host_a) and "...b" (in host_b), n counting links from 0.
  Status Link(std::string_view host_a, std::string_view address_a, std::string_view host_b,
              std::string_view address_b, const LinkOptions& options = {});

  // `ip link set dev X up|down` for the link end of `host` that carries `address` (with or
  // without "/prefix"). kDown cuts the link: the veth peer loses carrier too.
  Status SetLinkState(std::string_view host, std::string_view address, LinkState state);

  // The namespace name of `host`.
  Result<std::string> NamespaceOf(std::string_view host) const;
  // The interface name of the link end of `host` that carries `address`.
  Result<std::string> InterfaceOf(std::string_view host, std::string_view address) const;
  // rx/tx bytes of that link end (from /sys/class/net/<if>/statistics inside the namespace).
  Result<InterfaceCounters> Counters(std::string_view host, std::string_view address) const;

  // {"<abs path of ip>", "netns", "exec", "<namespace>"}: prepend to an argv to run it inside.
  // argv[0] of the command that follows may be a bare name ($PATH is searched) or a path.
  Result<std::vector<std::string>> CommandPrefix(std::string_view host) const;
  // `options` rewritten to run inside `host`: binary becomes `ip`, args become
  // {"netns", "exec", ns, options.binary, options.args...}; env and log_path are kept. Pass the
  // result to ChildProcess::Start.
  Result<testing::ProcessOptions> InHost(std::string_view host,
                                         testing::ProcessOptions options) const;

  // Runs `argv` inside `host` and waits. Fails when it exits non-zero (the message holds its
  // output) or runs past `timeout` (it is then SIGKILLed).
  Status Run(std::string_view host, const std::vector<std::string>& argv,
             std::chrono::milliseconds timeout = kDefaultCommandTimeout) const;
  // Like Run, but returns the command's stdout and stderr (interleaved) on success.
  Result<std::string> Output(std::string_view host, const std::vector<std::string>& argv,
                             std::chrono::milliseconds timeout = kDefaultCommandTimeout) const;

  // Every network namespace name `ip netns list` shows, of any owner.
  static Result<std::vector<std::string>> ListNamespaces();

 private:
  struct Host {
    std::string short_name;
    std::string ns;
  };
  struct LinkEnd {
    std::string host;
    std::string interface;
    std::string ip;  // Without "/prefix".
  };

  explicit NetnsTopology(int seq) : seq_(seq) {}
  const Host* FindHost(std::string_view short_name) const;
  const LinkEnd* FindEnd(std::string_view host, std::string_view address) const;

  int seq_;  // Distinguishes topologies of one process in namespace names.
  int next_link_ = 0;
  std::vector<Host> hosts_;
  std::vector<LinkEnd> ends_;
};

}  // namespace mooncake::netns
