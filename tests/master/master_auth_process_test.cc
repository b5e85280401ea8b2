// mooncake_master as a process, secure by default: with no secret it listens on loopback only
// (checked in /proc/net/tcp* and by connecting to a non-loopback address of this host), and
// warns once when told to listen on all interfaces; with --auth_secret_file (or
// $MC_AUTH_SECRET_FILE) it requires the secret of every client; a secret file others may read
// keeps it from starting.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "master/client/master_client.h"
#include "testing/binary_path.h"
#include "testing/free_port.h"
#include "testing/net_probe.h"
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
  EXPECT_EQ(testing::ListeningAddresses(rpc_port_), std::set<std::string>{"127.0.0.1"});
  EXPECT_EQ(testing::ListeningAddresses(metrics_port_), std::set<std::string>{"127.0.0.1"});
  EXPECT_TRUE(testing::TcpConnects("127.0.0.1", rpc_port_));
  if (std::optional<std::string> address = testing::NonLoopbackAddress()) {
    EXPECT_FALSE(testing::TcpConnects(*address, rpc_port_)) << *address;
    EXPECT_FALSE(testing::TcpConnects(*address, metrics_port_)) << *address;
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
  EXPECT_EQ(testing::ListeningAddresses(rpc_port_), std::set<std::string>{"*"});
  if (std::optional<std::string> address = testing::NonLoopbackAddress()) {
    EXPECT_TRUE(testing::TcpConnects(*address, rpc_port_)) << *address;
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
  EXPECT_EQ(testing::ListeningAddresses(rpc_port_), std::set<std::string>{"*"});
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
  EXPECT_FALSE(testing::TcpConnects("127.0.0.1", rpc_port_));
}

}  // namespace
}  // namespace mooncake::master
