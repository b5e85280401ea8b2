#pragma once

// A real, single-member etcd (Debian's etcd-server) for integration and fault tests: free
// client and peer ports on 127.0.0.1, a temp data dir, started through ChildProcess (so it
// never outlives the test) and waited for until /health says it serves.
//
//   auto etcd = EtcdServer::Start().value();
//   options.metadata_server = "etcd://" + etcd->endpoint();

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "mooncake/common/status.h"
#include "testing/process_launcher.h"
#include "testing/temp_dir.h"

namespace mooncake::testing {

struct EtcdServerOptions {
  // The etcd executable (default "/usr/bin/etcd").
  std::string binary = "/usr/bin/etcd";
  // Bound on waiting until etcd serves client requests after each (re)start (default 15 s).
  std::chrono::milliseconds ready_timeout{15000};
};

// What Restart does with the data dir.
enum class EtcdData {
  kKeep,  // restart on the same data: keys and leases survive (leases get a fresh TTL)
  kWipe,  // start empty, as after losing the disk: every key and lease is gone
};

// Not thread-safe: use from one thread, the one that called Start() (see ChildProcess).
class EtcdServer {
 public:
  // Picks free ports (retrying with others if one was taken meanwhile), starts etcd and
  // waits until it serves. Fails with etcd's log tail if it exits or does not get ready.
  static Result<std::unique_ptr<EtcdServer>> Start(EtcdServerOptions options = {});

  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;
  // SIGKILLs etcd and removes its data dir and logs.
  ~EtcdServer();

  // "127.0.0.1:<client port>", as a metadata connection string needs after "etcd://".
  const std::string& endpoint() const { return endpoint_; }
  uint16_t client_port() const { return client_port_; }
  const std::string& data_dir() const { return data_dir_; }

  // False once etcd has exited or was stopped or killed.
  bool Running();
  // SIGKILL; returns once etcd is dead. The data dir stays for Restart.
  void Kill();
  // SIGTERM and wait (bounded; SIGKILL after 10 s). The data dir stays for Restart.
  Status Stop();
  // Starts etcd again on the same ports (stopping it first if it runs) and waits until it
  // serves. Fails if a port was taken meanwhile.
  Status Restart(EtcdData data = EtcdData::kKeep);

  // Log of the current (or last) run; empty if none.
  std::string ReadLog() const;

 private:
  EtcdServer(EtcdServerOptions options, TempDir root, uint16_t client_port, uint16_t peer_port);
  // Starts etcd on this object's ports and data dir and waits until it serves.
  Status Launch();

  const EtcdServerOptions options_;
  TempDir root_;  // holds data/ and one log per run
  uint16_t client_port_;
  uint16_t peer_port_;
  std::string endpoint_;
  std::string data_dir_;
  int runs_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace mooncake::testing
