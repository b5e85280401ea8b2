#pragma once

// A real S3-compatible server — npm s3rver@3.7.1, installed by scripts/install-deps.sh under
// $MC_TOOLS_PREFIX (default /opt/mooncake-tools) — for object-store tests: a free port on
// 127.0.0.1, a temp data dir, one bucket created at start, credentials S3RVER/S3RVER. Started
// through ChildProcess, so it never outlives the test.
//
//   auto s3 = S3Server::Start("test-bucket").value();
//   options.endpoint = s3->endpoint();  // "http://127.0.0.1:<port>"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "mooncake/common/status.h"
#include "testing/process_launcher.h"
#include "testing/temp_dir.h"

namespace mooncake::testing {

class S3Server {
 public:
  static constexpr const char* kAccessKey = "S3RVER";
  static constexpr const char* kSecretKey = "S3RVER";

  // Fails (kNotSupported, naming the path) when s3rver is not installed.
  static Result<std::unique_ptr<S3Server>> Start(
      const std::string& bucket,
      std::chrono::milliseconds ready_timeout = std::chrono::seconds(20));
  ~S3Server() = default;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }
  // Where s3rver keeps the bucket's objects as files (tests damage them behind its back).
  const std::string& data_dir() const { return dir_.path(); }
  // SIGKILLs the server (its data dir stays) / starts it again on the same port and data.
  void Stop();
  Status Restart();

 private:
  S3Server(TempDir dir, std::string bucket) : dir_(std::move(dir)), bucket_(std::move(bucket)) {}
  Status Launch();

  TempDir dir_;
  std::string bucket_;
  uint16_t port_ = 0;
  std::chrono::milliseconds ready_timeout_{20000};
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace mooncake::testing
