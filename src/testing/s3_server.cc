#include "testing/s3_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "testing/free_port.h"

namespace mooncake::testing {
namespace {

std::string S3rverPath() {
  const char* prefix = std::getenv("MC_TOOLS_PREFIX");
  return std::string(prefix != nullptr && *prefix ? prefix : "/opt/mooncake-tools") +
         "/node_modules/.bin/s3rver";
}

bool Accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Result<std::unique_ptr<S3Server>> S3Server::Start(const std::string& bucket,
                                                  std::chrono::milliseconds ready_timeout) {
  if (::access(S3rverPath().c_str(), X_OK) != 0) {
    return Status(StatusCode::kNotSupported,
                  S3rverPath() + " is not installed (scripts/install-deps.sh installs it)");
  }
  MC_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create("mc_s3rver"));
  std::unique_ptr<S3Server> server(new S3Server(std::move(dir), bucket));
  server->ready_timeout_ = ready_timeout;
  MC_ASSIGN_OR_RETURN(server->port_, PickFreeTcpPort());
  MC_RETURN_IF_ERROR(server->Launch());
  return server;
}

Status S3Server::Launch() {
  ProcessOptions options;
  options.binary = S3rverPath();
  options.args = {"-d",   dir_.path(),           "-a",       "127.0.0.1",
                  "-p",   std::to_string(port_), "--silent", "--configure-bucket",
                  bucket_};
  MC_ASSIGN_OR_RETURN(process_, ChildProcess::Start(std::move(options)));
  const auto deadline = std::chrono::steady_clock::now() + ready_timeout_;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Accepts(port_)) return Status::Ok();
    if (!process_->Running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status(StatusCode::kInternalError,
                "s3rver did not listen on 127.0.0.1:" + std::to_string(port_) + "; log:\n" +
                    process_->ReadLog());
}

void S3Server::Stop() { process_.reset(); }

Status S3Server::Restart() {
  process_.reset();
  return Launch();
}

}  // namespace mooncake::testing
