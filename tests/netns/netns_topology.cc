#include "netns/netns_topology.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "common/logging.h"

namespace mooncake::netns {
namespace {

using std::chrono::milliseconds;

// Killing what runs in a namespace: rounds of `ip netns pids` + SIGKILL until it is empty.
constexpr int kKillRounds = 50;
constexpr milliseconds kKillRoundPause(20);

// Each Create() in this process gets the next number; it goes into the namespace names so that
// two live topologies of one process never collide.
std::atomic<int> g_next_topology_seq{0};

// Absolute path of an iproute2 tool, or "" when it is in none of the usual places.
std::string FindTool(std::string_view name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    std::string path = std::string(dir) + std::string(name);
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

const std::string& IpPath() {
  static const std::string path = FindTool("ip");
  return path;
}

const std::string& TcPath() {
  static const std::string path = FindTool("tc");
  return path;
}

std::string Join(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) {
    if (!out.empty()) out += ' ';
    out += arg;
  }
  return out;
}

struct CommandResult {
  int exit_code = 0;
  std::string output;  // stdout and stderr, interleaved.
};

// Runs argv (argv[0] an absolute path) to completion; fails only when it cannot be started or
// runs past `timeout` (then it is SIGKILLed).
Result<CommandResult> Execute(const std::vector<std::string>& argv, milliseconds timeout) {
  testing::ProcessOptions options;
  options.binary = argv.at(0);
  options.args.assign(argv.begin() + 1, argv.end());
  MC_ASSIGN_OR_RETURN(std::unique_ptr<testing::ChildProcess> child,
                      testing::ChildProcess::Start(options));
  Result<int> code = child->Wait(timeout);
  if (!code.ok()) return code.status().WithContext("`" + Join(argv) + "`");
  return CommandResult{*code, child->ReadLog()};
}

// Like Execute, but a non-zero exit is an error naming the command and quoting its output.
Result<std::string> ExecuteChecked(const std::vector<std::string>& argv,
                                   milliseconds timeout = NetnsTopology::kDefaultCommandTimeout) {
  MC_ASSIGN_OR_RETURN(CommandResult result, Execute(argv, timeout));
  if (result.exit_code != 0) {
    std::string output = result.output;
    while (!output.empty() && output.back() == '\n') output.pop_back();
    return InternalError("`" + Join(argv) + "` exited with status " +
                         std::to_string(result.exit_code) + ": " + output);
  }
  return std::move(result.output);
}

Status ExecuteOk(const std::vector<std::string>& argv) { return ExecuteChecked(argv).status(); }

// True when `pid` names a live process (a zombie counts as dead).
bool ProcessAlive(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;  // No procfs view: trust kill().
  size_t paren = text.rfind(')');
  return !(paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z');
}

// SIGKILLs every process inside namespace `ns` until none is left (bounded), then deletes it.
// Returns the first error; later steps run regardless.
Status KillAndDelete(const std::string& ns) {
  Status first;
  for (int round = 0; round < kKillRounds; ++round) {
    Result<std::string> pids = ExecuteChecked({IpPath(), "netns", "pids", ns});
    if (!pids.ok()) {
      first = pids.status();
      break;
    }
    std::istringstream in(*pids);
    int killed = 0;
    for (long long pid; in >> pid;) {
      if (pid <= 1 || pid == ::getpid()) continue;
      if (::kill(static_cast<pid_t>(pid), SIGKILL) == 0) ++killed;
    }
    if (killed == 0) break;
    std::this_thread::sleep_for(kKillRoundPause);
  }
  Result<std::string> deleted = ExecuteChecked({IpPath(), "netns", "delete", ns});
  if (first.ok() && !deleted.ok()) first = deleted.status();
  return first;
}

// The <pid> of a name "mc<pid>-...", or -1 when the name does not match that pattern.
long long OwnerPid(std::string_view name) {
  if (!name.starts_with("mc")) return -1;
  size_t i = 2;
  long long pid = 0;
  while (i < name.size() && i < 2 + 10 && std::isdigit(static_cast<unsigned char>(name[i]))) {
    pid = pid * 10 + (name[i] - '0');
    ++i;
  }
  if (i == 2 || i >= name.size() || name[i] != '-') return -1;
  return pid;
}

// Removes namespaces of dead owners, and any leftover carrying the prefix a new topology of this
// process is about to use (pid reuse by an earlier, killed process).
Status SweepStale(std::string_view own_prefix) {
  MC_ASSIGN_OR_RETURN(std::vector<std::string> names, NetnsTopology::ListNamespaces());
  for (const std::string& name : names) {
    long long pid = OwnerPid(name);
    if (pid <= 0) continue;
    bool stale = name.starts_with(own_prefix) ||
                 (pid != ::getpid() && !ProcessAlive(static_cast<pid_t>(pid)));
    if (!stale) continue;
    MC_LOG_WARN("netns: removing stale namespace {} (its creator, pid {}, is gone)", name, pid);
    Status status = KillAndDelete(name);
    if (!status.ok()) {
      // A namespace we cannot remove does not block the test: our names never collide with it.
      MC_LOG_WARN("netns: cannot remove stale namespace {}: {}", name, status.ToString());
    }
  }
  return Status::Ok();
}

std::string Probe() {
  if (::geteuid() != 0) {
    return "network namespaces need root; running as uid " + std::to_string(::geteuid());
  }
  if (IpPath().empty() || TcPath().empty()) {
    return "iproute2's `ip` or `tc` is not in /usr/sbin, /sbin, /usr/bin or /bin "
           "(scripts/install-deps.sh installs iproute2)";
  }
  const std::string ns = "mc" + std::to_string(::getpid()) + "-probe";
  Execute({IpPath(), "netns", "delete", ns}, NetnsTopology::kDefaultCommandTimeout)
      .status()
      .IgnoreError();  // A leftover of an earlier process that had our pid.
  Result<std::string> added = ExecuteChecked({IpPath(), "netns", "add", ns});
  if (!added.ok()) return "`ip netns add` is unavailable: " + added.status().message();
  std::string reason;
  Result<std::string> veth = ExecuteChecked({IpPath(), "-n", ns, "link", "add", "mcprobe0a", "type",
                                             "veth", "peer", "name", "mcprobe0b"});
  if (!veth.ok()) {
    reason = "cannot create a veth pair: " + veth.status().message();
  } else {
    Result<std::string> tbf =
        ExecuteChecked({TcPath(), "-n", ns, "qdisc", "add", "dev", "mcprobe0a", "root", "tbf",
                        "rate", "1gbit", "burst", "256kb", "latency", "50ms"});
    if (!tbf.ok()) reason = "cannot add a tbf qdisc: " + tbf.status().message();
  }
  Status deleted = KillAndDelete(ns);
  if (reason.empty() && !deleted.ok()) {
    reason = "cannot delete a network namespace: " + deleted.message();
  }
  return reason;
}

bool ValidShortName(std::string_view name) {
  if (name.empty() || name.size() > 16) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// Whether an address must carry "/len".
enum class PrefixRule { kRequired, kOptional };

// Returns the bare address of "a.b.c.d[/len]" after checking it is inside 10.250.0.0/16 and
// that "/len", present or required by `rule`, is 8..30.
Result<std::string> ParseAddress(std::string_view text, PrefixRule rule) {
  std::string_view ip = text;
  size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    ip = text.substr(0, slash);
    std::string_view len = text.substr(slash + 1);
    int value = 0;
    bool digits = !len.empty() && len.size() <= 2;
    for (char c : len) {
      digits = digits && std::isdigit(static_cast<unsigned char>(c));
      value = value * 10 + (c - '0');
    }
    if (!digits || value < 8 || value > 30) {
      return InvalidParams("bad prefix length in '" + std::string(text) + "' (want 8..30)");
    }
  } else if (rule == PrefixRule::kRequired) {
    return InvalidParams("address '" + std::string(text) + "' needs a /prefix, e.g. /24");
  }
  in_addr addr{};
  std::string ip_string(ip);
  if (::inet_pton(AF_INET, ip_string.c_str(), &addr) != 1) {
    return InvalidParams("'" + std::string(text) + "' is not an IPv4 address");
  }
  uint32_t host_order = ntohl(addr.s_addr);
  if ((host_order >> 16) != ((10u << 8) | 250u)) {
    return InvalidParams("address " + ip_string + " is outside 10.250.0.0/16");
  }
  return ip_string;
}

}  // namespace

Status LinkOptions::Validate() const {
  if (rate_bits_per_second == 0) return Status::Ok();
  if (burst_bytes == 0) return InvalidParams("LinkOptions.burst_bytes must be > 0 with a rate");
  if (latency.count() <= 0) return InvalidParams("LinkOptions.latency must be > 0 with a rate");
  return Status::Ok();
}

std::string NetnsTopology::SkipReason() {
  static const std::string reason = Probe();
  return reason;
}

Result<std::unique_ptr<NetnsTopology>> NetnsTopology::Create() {
  std::string reason = SkipReason();
  if (!reason.empty()) return NotSupported(reason);
  const int seq = g_next_topology_seq.fetch_add(1);
  MC_RETURN_IF_ERROR(
      SweepStale("mc" + std::to_string(::getpid()) + "-" + std::to_string(seq) + "-"));
  return std::unique_ptr<NetnsTopology>(new NetnsTopology(seq));
}

NetnsTopology::~NetnsTopology() {
  for (const Host& host : hosts_) {
    Status status = KillAndDelete(host.ns);
    if (!status.ok()) {
      MC_LOG_WARN("netns: cleanup of {} failed: {}", host.ns, status.ToString());
    }
  }
}

Result<std::string> NetnsTopology::AddHost(std::string_view short_name) {
  if (!ValidShortName(short_name)) {
    return InvalidParams("host name '" + std::string(short_name) +
                         "' must be 1..16 characters of [A-Za-z0-9_]");
  }
  if (FindHost(short_name) != nullptr) {
    return InvalidParams("host '" + std::string(short_name) + "' already exists");
  }
  std::string ns = "mc" + std::to_string(::getpid()) + "-" + std::to_string(seq_) + "-" +
                   std::string(short_name);
  MC_RETURN_IF_ERROR(ExecuteOk({IpPath(), "netns", "add", ns}));
  hosts_.push_back(Host{std::string(short_name), ns});  // From now on the destructor deletes it.
  MC_RETURN_IF_ERROR(ExecuteOk({IpPath(), "-n", ns, "link", "set", "lo", "up"}));
  return ns;
}

Status NetnsTopology::Link(std::string_view host_a, std::string_view address_a,
                           std::string_view host_b, std::string_view address_b,
                           const LinkOptions& options) {
  MC_RETURN_IF_ERROR(options.Validate());
  const Host* a = FindHost(host_a);
  const Host* b = FindHost(host_b);
  if (a == nullptr || b == nullptr) {
    return InvalidParams("Link: unknown host '" + std::string(a == nullptr ? host_a : host_b) +
                         "'");
  }
  if (a == b) return InvalidParams("Link: both ends are in host '" + std::string(host_a) + "'");
  MC_ASSIGN_OR_RETURN(std::string ip_a, ParseAddress(address_a, PrefixRule::kRequired));
  MC_ASSIGN_OR_RETURN(std::string ip_b, ParseAddress(address_b, PrefixRule::kRequired));

  const std::string base = "mc" + std::to_string(::getpid() % 100000) + std::to_string(next_link_);
  const std::string if_a = base + "a";
  const std::string if_b = base + "b";
  // Created directly inside the two namespaces, so the names never exist in the root namespace.
  MC_RETURN_IF_ERROR(ExecuteOk({IpPath(), "link", "add", if_a, "netns", a->ns, "type", "veth",
                                "peer", "name", if_b, "netns", b->ns}));
  ++next_link_;
  std::vector<std::vector<std::string>> steps = {
      {IpPath(), "-n", a->ns, "addr", "add", std::string(address_a), "dev", if_a},
      {IpPath(), "-n", b->ns, "addr", "add", std::string(address_b), "dev", if_b},
      {IpPath(), "-n", a->ns, "link", "set", "dev", if_a, "up"},
      {IpPath(), "-n", b->ns, "link", "set", "dev", if_b, "up"},
  };
  if (options.rate_bits_per_second > 0) {
    for (const auto& [ns, dev] : {std::pair{a->ns, if_a}, std::pair{b->ns, if_b}}) {
      steps.push_back({TcPath(), "-n", ns, "qdisc", "add", "dev", dev, "root", "tbf", "rate",
                       std::to_string(options.rate_bits_per_second) + "bit", "burst",
                       std::to_string(options.burst_bytes), "latency",
                       std::to_string(options.latency.count()) + "ms"});
    }
  }
  for (const auto& step : steps) {
    Status done = ExecuteOk(step);
    if (!done.ok()) {
      // Deleting one end deletes the pair.
      Execute({IpPath(), "-n", a->ns, "link", "delete", if_a}, kDefaultCommandTimeout)
          .status()
          .IgnoreError();
      return done.WithContext("Link " + std::string(host_a) + "-" + std::string(host_b));
    }
  }
  ends_.push_back(LinkEnd{a->short_name, if_a, ip_a});
  ends_.push_back(LinkEnd{b->short_name, if_b, ip_b});
  return Status::Ok();
}

Status NetnsTopology::SetLinkState(std::string_view host, std::string_view address,
                                   LinkState state) {
  MC_ASSIGN_OR_RETURN(std::string ns, NamespaceOf(host));
  MC_ASSIGN_OR_RETURN(std::string dev, InterfaceOf(host, address));
  return ExecuteOk(
      {IpPath(), "-n", ns, "link", "set", "dev", dev, state == LinkState::kUp ? "up" : "down"});
}

Result<std::string> NetnsTopology::NamespaceOf(std::string_view host) const {
  const Host* found = FindHost(host);
  if (found == nullptr) return InvalidParams("unknown host '" + std::string(host) + "'");
  return found->ns;
}

Result<std::string> NetnsTopology::InterfaceOf(std::string_view host,
                                               std::string_view address) const {
  const LinkEnd* end = FindEnd(host, address);
  if (end == nullptr) {
    return InvalidParams("host '" + std::string(host) + "' has no link end with address " +
                         std::string(address));
  }
  return end->interface;
}

Result<InterfaceCounters> NetnsTopology::Counters(std::string_view host,
                                                  std::string_view address) const {
  MC_ASSIGN_OR_RETURN(std::string dev, InterfaceOf(host, address));
  const std::string dir = "/sys/class/net/" + dev + "/statistics/";
  // `ip netns exec` mounts the namespace's own /sys, so these are this end's counters.
  MC_ASSIGN_OR_RETURN(std::string text, Output(host, {"cat", dir + "rx_bytes", dir + "tx_bytes"}));
  InterfaceCounters counters;
  std::istringstream in(text);
  if (!(in >> counters.rx_bytes >> counters.tx_bytes)) {
    return InternalError("cannot parse counters of " + dev + ": '" + text + "'");
  }
  return counters;
}

Result<std::vector<std::string>> NetnsTopology::CommandPrefix(std::string_view host) const {
  MC_ASSIGN_OR_RETURN(std::string ns, NamespaceOf(host));
  return std::vector<std::string>{IpPath(), "netns", "exec", ns};
}

Result<testing::ProcessOptions> NetnsTopology::InHost(std::string_view host,
                                                      testing::ProcessOptions options) const {
  MC_ASSIGN_OR_RETURN(std::vector<std::string> prefix, CommandPrefix(host));
  std::vector<std::string> args(prefix.begin() + 1, prefix.end());
  args.push_back(std::move(options.binary));
  args.insert(args.end(), options.args.begin(), options.args.end());
  options.binary = prefix[0];
  options.args = std::move(args);
  return options;
}

Status NetnsTopology::Run(std::string_view host, const std::vector<std::string>& argv,
                          milliseconds timeout) const {
  return Output(host, argv, timeout).status();
}

Result<std::string> NetnsTopology::Output(std::string_view host,
                                          const std::vector<std::string>& argv,
                                          milliseconds timeout) const {
  if (argv.empty()) return InvalidParams("Run: empty argv");
  MC_ASSIGN_OR_RETURN(std::vector<std::string> command, CommandPrefix(host));
  command.insert(command.end(), argv.begin(), argv.end());
  return ExecuteChecked(command, timeout);
}

Result<std::vector<std::string>> NetnsTopology::ListNamespaces() {
  if (IpPath().empty()) return NotSupported("iproute2's `ip` is not installed");
  MC_ASSIGN_OR_RETURN(std::string text, ExecuteChecked({IpPath(), "netns", "list"}));
  // Lines look like "name" or "name (id: 3)".
  std::vector<std::string> names;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string name;
    if (words >> name) names.push_back(name);
  }
  return names;
}

const NetnsTopology::Host* NetnsTopology::FindHost(std::string_view short_name) const {
  for (const Host& host : hosts_) {
    if (host.short_name == short_name) return &host;
  }
  return nullptr;
}

const NetnsTopology::LinkEnd* NetnsTopology::FindEnd(std::string_view host,
                                                     std::string_view address) const {
  std::string_view ip = address.substr(0, address.find('/'));
  for (const LinkEnd& end : ends_) {
    if (end.host == host && end.ip == ip) return &end;
  }
  return nullptr;
}

}  // namespace mooncake::netns
