#pragma once

// A throwaway store cluster of real processes for tests: one mooncake_master and N
// mooncake_node on loopback, on free ports. Every process is killed when the cluster object is
// destroyed (ChildProcess), and nodes can be killed and restarted on their port. With
// master_host/node_hosts and a launcher, the processes can instead run as separate emulated
// hosts (network namespaces, tests/netns), each on its own address.
//
// Not thread-safe: use from the test's thread.

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mooncake/common/status.h"
#include "testing/process_launcher.h"

namespace mooncake::store {

struct StoreTestClusterOptions {
  // Storage nodes to start. Default 2.
  int nodes = 2;
  // DRAM each node contributes (mooncake_node --segment_size). Default "96MiB".
  std::string segment_size = "96MiB";
  // Master --client_ttl, seconds: how soon a killed node is declared dead. Default 1.
  int client_ttl_s = 1;
  // Start the master's HTTP server (metrics, status page) on a free port. Default off.
  bool metrics = false;
  // Start every node's /metrics server on a free port (node_metrics_port). Default off.
  bool node_metrics = false;
  // Address the master listens on, and the one nodes and clients reach it at.
  // Default "127.0.0.1".
  std::string master_host = "127.0.0.1";
  // Address node i listens on (its Transfer Engine name is "<address>:<port>"); nodes past the
  // end of the list use "127.0.0.1". Default: none (all on loopback).
  std::vector<std::string> node_hosts;
  // mooncake_node --protocol ("auto", "tcp", "shm"); "" keeps the node's default. Default "".
  std::string node_protocol;
  // Further flags for every mooncake_node (e.g. "--drain_timeout=5"). Default: none.
  std::vector<std::string> node_args;
  // A directory for SSD tiers: node i gets --ssd_path=<ssd_dir>/node<i>.ssd (kept across its
  // restarts) --ssd_size=<ssd_size>. Default "": no SSD tier.
  std::string ssd_dir;
  std::string ssd_size = "64MiB";
  // Further flags for mooncake_master (e.g. "--object_store=file:///tmp/x"). Default: none.
  std::vector<std::string> master_args;
  // How each process is started: given "master" or "node<i>" and the plain ProcessOptions,
  // returns the ones to start instead (e.g. NetnsTopology::InHost to run it inside an emulated
  // host). Default: none, every process runs as is.
  std::function<Result<testing::ProcessOptions>(const std::string& role, testing::ProcessOptions)>
      launcher;
};

class StoreTestCluster {
 public:
  // Starts the master, then every node, each waited for until READY. Fails with the log of the
  // process that did not come up.
  static Result<std::unique_ptr<StoreTestCluster>> Start(StoreTestClusterOptions options = {});

  StoreTestCluster(const StoreTestCluster&) = delete;
  StoreTestCluster& operator=(const StoreTestCluster&) = delete;

  // "<master_host>:<port>" of the master's gRPC service.
  std::string master_address() const;
  // The master's HTTP port; 0 when metrics are off.
  int metrics_port() const { return metrics_port_; }
  // Node i's Transfer Engine name (its segment name and node id): "<its host>:<port>".
  std::string node_name(int i) const;
  // Node i's SSD file (ssd_dir set) and the master's name of its SSD segment.
  std::string ssd_path(int i) const {
    return options_.ssd_dir + "/node" + std::to_string(i) + ".ssd";
  }
  std::string ssd_segment_name(int i) const { return node_name(i) + "/ssd"; }
  // Node i's /metrics port; 0 when node_metrics is off.
  int node_metrics_port(int i) const { return node_metrics_ports_[i]; }

  testing::ChildProcess& master() { return *master_; }
  testing::ChildProcess& node(int i) { return *nodes_[i]; }
  // (Re)starts node i on its port, a new process and epoch, and waits for READY.
  Status StartNode(int i);
  // (Re)starts the master on its ports (a previous one is killed with SIGKILL first, its
  // state lost) and waits for READY.
  Status StartMaster();

 private:
  explicit StoreTestCluster(StoreTestClusterOptions options) : options_(std::move(options)) {}
  // `process` through options_.launcher, if any.
  Result<std::unique_ptr<testing::ChildProcess>> Launch(const std::string& role,
                                                        testing::ProcessOptions process);

  StoreTestClusterOptions options_;
  uint16_t master_port_ = 0;
  int metrics_port_ = 0;
  std::vector<uint16_t> node_ports_;
  std::vector<int> node_metrics_ports_;
  std::unique_ptr<testing::ChildProcess> master_;
  std::vector<std::unique_ptr<testing::ChildProcess>> nodes_;
};

}  // namespace mooncake::store
