#include "store_test_cluster.h"

#include <chrono>
#include <string>
#include <utility>

#include "testing/binary_path.h"
#include "testing/free_port.h"

namespace mooncake::store {
namespace {

constexpr std::chrono::seconds kStartTimeout{30};

}  // namespace

Result<std::unique_ptr<StoreTestCluster>> StoreTestCluster::Start(StoreTestClusterOptions options) {
  std::unique_ptr<StoreTestCluster> cluster(new StoreTestCluster(std::move(options)));
  MC_ASSIGN_OR_RETURN(cluster->master_port_, testing::PickFreeTcpPort());
  if (cluster->options_.metrics) {
    MC_ASSIGN_OR_RETURN(uint16_t http, testing::PickFreeTcpPort());
    cluster->metrics_port_ = http;
  }
  MC_RETURN_IF_ERROR(cluster->StartMaster());
  const int n = cluster->options_.nodes;
  cluster->node_ports_.resize(n);
  cluster->node_metrics_ports_.assign(n, 0);
  cluster->nodes_.resize(n);
  for (int i = 0; i < n; ++i) {
    MC_ASSIGN_OR_RETURN(cluster->node_ports_[i], testing::PickFreeTcpPort());
    if (cluster->options_.node_metrics) {
      MC_ASSIGN_OR_RETURN(uint16_t http, testing::PickFreeTcpPort());
      cluster->node_metrics_ports_[i] = http;
    }
    MC_RETURN_IF_ERROR(cluster->StartNode(i));
  }
  return cluster;
}

std::string StoreTestCluster::master_address() const {
  return options_.master_host + ":" + std::to_string(master_port_);
}

std::string StoreTestCluster::node_name(int i) const {
  const std::vector<std::string>& hosts = options_.node_hosts;
  const std::string host = static_cast<size_t>(i) < hosts.size() ? hosts[i] : "127.0.0.1";
  return host + ":" + std::to_string(node_ports_[i]);
}

Result<std::unique_ptr<testing::ChildProcess>> StoreTestCluster::Launch(
    const std::string& role, testing::ProcessOptions process) {
  if (options_.launcher) {
    MC_ASSIGN_OR_RETURN(process, options_.launcher(role, std::move(process)));
  }
  return testing::ChildProcess::Start(std::move(process));
}

Status StoreTestCluster::StartMaster() {
  master_.reset();  // a previous incarnation, if any, is killed first
  testing::ProcessOptions master;
  master.binary = testing::BinaryPath("mooncake_master");
  master.args = {"--host=" + options_.master_host, "--port=" + std::to_string(master_port_),
                 "--metrics_port=" + std::to_string(options_.metrics ? metrics_port_ : -1),
                 "--client_ttl=" + std::to_string(options_.client_ttl_s), "--log_level=warn"};
  master.args.insert(master.args.end(), options_.master_args.begin(), options_.master_args.end());
  MC_ASSIGN_OR_RETURN(master_, Launch("master", std::move(master)));
  if (Status ready = master_->WaitForLine("READY", kStartTimeout); !ready.ok()) {
    return ready.WithContext("mooncake_master: " + master_->ReadLog());
  }
  return Status::Ok();
}

Status StoreTestCluster::StartNode(int i) {
  nodes_[i].reset();  // a previous incarnation, if any, is killed first
  testing::ProcessOptions node;
  node.binary = testing::BinaryPath("mooncake_node");
  node.args = {"--master=" + master_address(), "--listen=" + node_name(i),
               "--segment_size=" + options_.segment_size, "--heartbeat_interval_ms=200",
               "--log_level=warn"};
  if (!options_.node_protocol.empty()) node.args.push_back("--protocol=" + options_.node_protocol);
  node.args.insert(node.args.end(), options_.node_args.begin(), options_.node_args.end());
  if (!options_.ssd_dir.empty()) {
    node.args.push_back("--ssd_path=" + ssd_path(i));
    node.args.push_back("--ssd_size=" + options_.ssd_size);
  }
  if (node_metrics_ports_[i] != 0) {
    node.args.push_back("--metrics_host=127.0.0.1");
    node.args.push_back("--metrics_port=" + std::to_string(node_metrics_ports_[i]));
  }
  MC_ASSIGN_OR_RETURN(nodes_[i], Launch("node" + std::to_string(i), std::move(node)));
  if (Status ready = nodes_[i]->WaitForLine("READY", kStartTimeout); !ready.ok()) {
    return ready.WithContext("mooncake_node " + node_name(i) + ": " + nodes_[i]->ReadLog());
  }
  return Status::Ok();
}

}  // namespace mooncake::store
