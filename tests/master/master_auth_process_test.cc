// mooncake_master as a process, secure by default: with no secret it listens on loopback only
// (checked in /proc/net/tcp* and by connecting to a non-loopback address of this host), and
// warns once when told to listen on all interfaces; with --auth_secret_file (or
// $MC_AUTH_SECRET_FILE) it requires the secret of every client; a secret file others may read
// keeps it from starting.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "master/client/master_client.h"
#include "testing/binary_path.h"
#include "testing/free_port.h"
#include "testing/process_launcher.h"
#include "testing/temp_dir.h"

namespace mooncake::master {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr seconds kStartTimeout{20};
constexpr char kOpenWarning[] = "open to anyone";

// The local addresses of the TCP sockets listening on `port`, from /proc/net/tcp and
// /proc/net/tcp6 of this network namespace: "127.0.0.1", or "*" for every interface (0.0.0.0,
// or gRPC's dual-stack [::]). gRPC binds IPv4 addresses as IPv4-mapped IPv6 ([::ffff:127.0.0.1]);
// they are listed as the IPv4 address.
std::set<std::string> ListeningAddresses(uint16_t port) {
  std::set<std::string> out;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      const size_t colon = local.find(':');
      if (state != "0A" || colon == std::string::npos) continue;  // 0A: LISTEN
      if (std::stoul(local.substr(colon + 1), nullptr, 16) != port) continue;
      const std::string hex = local.substr(0, colon);
      char text[INET6_ADDRSTRLEN] = {};
      // The kernel prints each 32-bit word of the address as a native-endian integer.
      if (hex.size() == 8) {
        in_addr v4{};
        v4.s_addr = static_cast<uint32_t>(std::stoul(hex, nullptr, 16));
        inet_ntop(AF_INET, &v4, text, sizeof(text));
      } else if (hex.size() == 32) {
        in6_addr v6{};
        for (int w = 0; w < 4; ++w) {
          const auto word = static_cast<uint32_t>(std::stoul(hex.substr(8 * w, 8), nullptr, 16));
          std::memcpy(&v6.s6_addr[4 * w], &word, 4);
        }
        inet_ntop(AF_INET6, &v6, text, sizeof(text));
      }
      std::string address = text;
      if (address.rfind("::ffff:", 0) == 0 && address.find('.') != std::string::npos) {
        address = address.substr(7);
      }
      out.insert(address == "0.0.0.0" || address == "::" ? "*" : address);
    }
  }
  return out;
}

// An IPv4 address of this host that is not loopback (e.g. what `hostname -I` prints first);
// none on a host with loopback only.
std::optional<std::string> NonLoopbackAddress() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return std::nullopt;
  std::optional<std::string> found;
  for (ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    if ((i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof(text));
    found = text;
  }
  freeifaddrs(list);
  return found;
}

// Whether a TCP connect to address:port succeeds.
bool Connects(const std::string& address, uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  inet_pton(AF_INET, address.c_str(), &to.sin_addr);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0;
  close(fd);
  return ok;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class MasterAuthProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rpc_port_ = testing::PickFreeTcpPort().value();
    metrics_port_ = testing::PickFreeTcpPort().value();
  }

  std::vector<std::string> Ports() const {
    return {"--port=" + std::to_string(rpc_port_),
            "--metrics_port=" + std::to_string(metrics_port_)};
  }

  // Starts the master with `args` and waits for READY.
  std::unique_ptr<testing::ChildProcess> Start(
      std::vector<std::string> args, std::vector<std::pair<std::string, std::string>> env = {}) {
    testing::ProcessOptions options;
    options.binary = testing::BinaryPath("mooncake_master");
    options.args = std::move(args);
    options.extra_env = std::move(env);
    auto child = testing::ChildProcess::Start(options);
    EXPECT_TRUE(child.ok()) << child.status().ToString();
    if (!child.ok()) return nullptr;
    const Status ready = (*child)->WaitForLine("READY", kStartTimeout);
    EXPECT_TRUE(ready.ok()) << ready.ToString();
    return ready.ok() ? std::move(*child) : nullptr;
  }

  std::string WriteSecret(const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = dir_.File(name);
    std::ofstream(path) << text;
    EXPECT_EQ(chmod(path.c_str(), mode), 0);
    return path;
  }

  std::unique_ptr<MasterClient> Client(std::shared_ptr<const auth::ClusterSecret> secret) {
    MasterClientOptions options;
    options.master_address = "127.0.0.1:" + std::to_string(rpc_port_);
    options.rpc_timeout = milliseconds(3000);
    options.auth_secret = std::move(secret);
    return std::move(MasterClient::Create(options).value());
  }

  testing::TempDir dir_ = testing::TempDir::Create("master_auth").value();
  uint16_t rpc_port_ = 0;
  uint16_t metrics_port_ = 0;
};

TEST_F(MasterAuthProcessTest, WithoutSecretOrHostListensOnLoopbackOnlyAndDoesNotWarn) {
  auto master = Start(Ports());
  ASSERT_NE(master, nullptr);
  EXPECT_EQ(ListeningAddresses(rpc_port_), std::set<std::string>{"127.0.0.1"});
  EXPECT_EQ(ListeningAddresses(metrics_port_), std::set<std::string>{"127.0.0.1"});
  EXPECT_TRUE(Connects("127.0.0.1", rpc_port_));
  if (std::optional<std::string> address = NonLoopbackAddress()) {
    EXPECT_FALSE(Connects(*address, rpc_port_)) << *address;
    EXPECT_FALSE(Connects(*address, metrics_port_)) << *address;
  } else {
    std::printf("no non-loopback IPv4 address on this host: checked /proc/net/tcp only\n");
  }
  EXPECT_TRUE(Client(nullptr)->Ping().ok());
  const std::string log = master->ReadLog();
  EXPECT_THAT(log, Not(HasSubstr("[warning]")));
  EXPECT_THAT(log, Not(HasSubstr(kOpenWarning)));
  EXPECT_THAT(log, HasSubstr("no cluster secret"));
}

TEST_F(MasterAuthProcessTest, AllInterfacesWithoutSecretWarnsOnceNamingTheAddresses) {
  std::vector<std::string> args = Ports();
  args.push_back("--host=0.0.0.0");
  auto master = Start(args);
  ASSERT_NE(master, nullptr);
  EXPECT_EQ(ListeningAddresses(rpc_port_), std::set<std::string>{"*"});
  if (std::optional<std::string> address = NonLoopbackAddress()) {
    EXPECT_TRUE(Connects(*address, rpc_port_)) << *address;
  }
  const std::string log = master->ReadLog();
  EXPECT_EQ(Count(log, kOpenWarning), 1u) << log;
  EXPECT_EQ(Count(log, "[warning]"), 1u) << log;
  EXPECT_THAT(log, HasSubstr("0.0.0.0:" + std::to_string(rpc_port_)));
  EXPECT_THAT(log, HasSubstr("0.0.0.0:" + std::to_string(metrics_port_)));
  EXPECT_THAT(log, HasSubstr("--auth_secret_file"));
  EXPECT_TRUE(Client(nullptr)->Ping().ok());  // open, as the operator asked
}

TEST_F(MasterAuthProcessTest, WithSecretListensOnAllInterfacesAndRequiresTheSecret) {
  const std::string text = "process-test-secret-0123456789";
  std::vector<std::string> args = Ports();
  args.push_back("--auth_secret_file=" + WriteSecret("secret", text + "\n", 0600));
  auto master = Start(args);
  ASSERT_NE(master, nullptr);
  EXPECT_EQ(ListeningAddresses(rpc_port_), std::set<std::string>{"*"});
  EXPECT_THAT(master->ReadLog(), Not(HasSubstr(kOpenWarning)));

  auto right =
      std::make_shared<const auth::ClusterSecret>(auth::ClusterSecret::FromText(text).value());
  auto owner = Client(right);
  ASSERT_TRUE(owner->MountSegment({"seg", "node", 1, Medium::kDram, 4096, 1 << 20}).ok());
  ASSERT_TRUE(owner->PutStart("k", 100, ReplicateConfig{}).ok());
  ASSERT_TRUE(owner->PutEnd("k", 0).ok());

  const Status refused = Client(nullptr)->RemoveAll(RemoveMode::kForce).status();
  EXPECT_EQ(refused.code(), StatusCode::kUnauthenticated) << refused.ToString();
  EXPECT_TRUE(owner->ExistKey("k").value());
  // The master logs the refusal (who, which call, why).
  EXPECT_THAT(master->ReadLog(), HasSubstr("refused RemoveAll"));
}

TEST_F(MasterAuthProcessTest, SecretFromTheEnvironmentIsRequired) {
  const std::string text = "environment-secret-0123456789";
  auto master = Start(Ports(), {{"MC_AUTH_SECRET_FILE", WriteSecret("env", text, 0400)}});
  ASSERT_NE(master, nullptr);
  EXPECT_EQ(Client(nullptr)->Ping().status().code(), StatusCode::kUnauthenticated);
  auto right =
      std::make_shared<const auth::ClusterSecret>(auth::ClusterSecret::FromText(text).value());
  EXPECT_TRUE(Client(right)->Ping().ok());
}

TEST_F(MasterAuthProcessTest, SecretFileOthersMayReadIsRefused) {
  std::vector<std::string> args = Ports();
  const std::string path = WriteSecret("readable", "world-readable-secret-0123456789", 0644);
  args.push_back("--auth_secret_file=" + path);
  testing::ProcessOptions options;
  options.binary = testing::BinaryPath("mooncake_master");
  options.args = args;
  auto master = testing::ChildProcess::Start(options);
  ASSERT_TRUE(master.ok()) << master.status().ToString();
  auto code = (*master)->Wait(seconds(20));
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(*code, 105);  // CLI11's code for a flag that fails its check (apps/common/app_flags.h)
  const std::string log = (*master)->ReadLog();
  EXPECT_THAT(log, HasSubstr(path));
  EXPECT_THAT(log, HasSubstr("chmod 600"));
  EXPECT_THAT(log, Not(HasSubstr("READY")));
  EXPECT_FALSE(Connects("127.0.0.1", rpc_port_));
}

}  // namespace
}  // namespace mooncake::master
