#include "store_test_cluster.h"

#include <chrono>
#include <string>
#include <utility>

#include "testing/binary_path.h"
#include "testing/free_port.h"

namespace mooncake {
namespace {

constexpr std::chrono::seconds kStartTimeout{30};

}  // namespace

Result<std::unique_ptr<StoreTestCluster>> StoreTestCluster::Start(StoreTestClusterOptions options) {
  std::unique_ptr<StoreTestCluster> cluster(new StoreTestCluster(std::move(options)));
  MC_ASSIGN_OR_RETURN(cluster->master_port_, PickFreeTcpPort());
  if (cluster->options_.metrics) {
    MC_ASSIGN_OR_RETURN(uint16_t http, PickFreeTcpPort());
    cluster->metrics_port_ = http;
  }
  ProcessOptions master;
  master.binary = BinaryPath("mooncake_master");
  master.args = {
      "--host=127.0.0.1", "--port=" + std::to_string(cluster->master_port_),
      "--metrics_port=" + std::to_string(cluster->options_.metrics ? cluster->metrics_port_ : -1),
      "--client_ttl=" + std::to_string(cluster->options_.client_ttl_s), "--log_level=warn"};
  MC_ASSIGN_OR_RETURN(cluster->master_, ChildProcess::Start(master));
  if (Status ready = cluster->master_->WaitForLine("READY", kStartTimeout); !ready.ok()) {
    return ready.WithContext("mooncake_master: " + cluster->master_->ReadLog());
  }
  const int n = cluster->options_.nodes;
  cluster->node_ports_.resize(n);
  cluster->nodes_.resize(n);
  for (int i = 0; i < n; ++i) {
    MC_ASSIGN_OR_RETURN(cluster->node_ports_[i], PickFreeTcpPort());
    MC_RETURN_IF_ERROR(cluster->StartNode(i));
  }
  return cluster;
}

std::string StoreTestCluster::master_address() const {
  return "127.0.0.1:" + std::to_string(master_port_);
}

std::string StoreTestCluster::node_name(int i) const {
  return "127.0.0.1:" + std::to_string(node_ports_[i]);
}

Status StoreTestCluster::StartNode(int i) {
  nodes_[i].reset();  // a previous incarnation, if any, is killed first
  ProcessOptions node;
  node.binary = BinaryPath("mooncake_node");
  node.args = {"--master=" + master_address(), "--listen=" + node_name(i),
               "--segment_size=" + options_.segment_size, "--heartbeat_interval_ms=200",
               "--log_level=warn"};
  MC_ASSIGN_OR_RETURN(nodes_[i], ChildProcess::Start(node));
  if (Status ready = nodes_[i]->WaitForLine("READY", kStartTimeout); !ready.ok()) {
    return ready.WithContext("mooncake_node " + node_name(i) + ": " + nodes_[i]->ReadLog());
  }
  return Status::Ok();
}

}  // namespace mooncake
