#include "transfer/transport/tcp/path_plan.h"

namespace mooncake::transfer::tcp {
namespace {

// "10.250.1.7" → "10.250.1"; empty for anything that is not dotted IPv4.
std::string Subnet24(const std::string& address) {
  int dots = 0;
  for (char c : address) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return "";
    }
  }
  if (dots != 3) return "";
  return address.substr(0, address.rfind('.'));
}

bool SameSubnet(const std::string& a, const std::string& b) {
  std::string sa = Subnet24(a);
  return !sa.empty() && sa == Subnet24(b);
}

}  // namespace

std::vector<PathPlan> PlanPaths(const std::vector<std::string>& local_nics,
                                const std::vector<EndpointDescriptor>& remote_endpoints) {
  std::vector<PathPlan> plan;
  std::vector<bool> used(local_nics.size(), false);
  for (size_t j = 0; j < remote_endpoints.size(); ++j) {
    const EndpointDescriptor& e = remote_endpoints[j];
    HostPort remote{e.host, e.port};
    if (local_nics.empty()) {
      plan.push_back({"", remote});
      continue;
    }
    size_t pick = j % local_nics.size();
    for (size_t i = 0; i < local_nics.size(); ++i) {
      if (SameSubnet(local_nics[i], e.host)) {
        pick = i;
        break;
      }
    }
    used[pick] = true;
    plan.push_back({local_nics[pick], remote});
  }
  for (size_t i = 0; i < local_nics.size(); ++i) {
    if (used[i]) continue;
    for (const EndpointDescriptor& e : remote_endpoints) {
      if (SameSubnet(local_nics[i], e.host)) {
        plan.push_back({local_nics[i], HostPort{e.host, e.port}});
        break;
      }
    }
  }
  return plan;
}

}  // namespace mooncake::transfer::tcp
