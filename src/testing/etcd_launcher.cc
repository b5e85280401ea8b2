#include "testing/etcd_launcher.h"

#include <curl/curl.h>

#include <filesystem>
#include <system_error>
#include <thread>
#include <utility>

#include "testing/free_port.h"

namespace mooncake::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr int kPortAttempts = 3;
constexpr milliseconds kPollInterval{50};
constexpr milliseconds kHealthTimeout{1000};
constexpr milliseconds kStopTimeout{10000};
constexpr size_t kTailBytes = 3000;

size_t AppendToString(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// True when GET http://127.0.0.1:<port>/health answers {"health":"true"}: etcd has a leader
// and serves client requests.
bool Healthy(uint16_t port) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return false;
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/health";
  std::string body;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(kHealthTimeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendToString);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  CURLcode code = curl_easy_perform(curl);
  long http_status = 0;
  if (code == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
  curl_easy_cleanup(curl);
  return code == CURLE_OK && http_status == 200 &&
         body.find("\"health\":\"true\"") != std::string::npos;
}

std::string Tail(const std::string& log) {
  if (log.empty()) return "(log is empty)";
  return log.size() <= kTailBytes ? log : "..." + log.substr(log.size() - kTailBytes);
}

}  // namespace

Result<std::unique_ptr<EtcdServer>> EtcdServer::Start(EtcdServerOptions options) {
  curl_global_init(CURL_GLOBAL_DEFAULT);  // reference-counted; thread-safe since curl 7.84
  Status last;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    MC_ASSIGN_OR_RETURN(uint16_t client_port, PickFreeTcpPort());
    MC_ASSIGN_OR_RETURN(uint16_t peer_port, PickFreeTcpPort());
    MC_ASSIGN_OR_RETURN(TempDir root, TempDir::Create("mc_etcd"));
    std::unique_ptr<EtcdServer> server(
        new EtcdServer(options, std::move(root), client_port, peer_port));
    last = server->Launch();
    if (last.ok()) return server;
    // Only a lost port race is worth another try.
    if (last.message().find("address already in use") == std::string::npos) break;
  }
  return last;
}

EtcdServer::EtcdServer(EtcdServerOptions options, TempDir root, uint16_t client_port,
                       uint16_t peer_port)
    : options_(std::move(options)),
      root_(std::move(root)),
      client_port_(client_port),
      peer_port_(peer_port),
      endpoint_("127.0.0.1:" + std::to_string(client_port)),
      data_dir_(root_.File("data")) {}

EtcdServer::~EtcdServer() { process_.reset(); }  // SIGKILL; root_ then removes everything

Status EtcdServer::Launch() {
  const std::string client_url = "http://" + endpoint_;
  const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer_port_);
  ProcessOptions process;
  process.binary = options_.binary;
  process.log_path = root_.File("etcd." + std::to_string(++runs_) + ".log");
  process.args = {"--name=mc",
                  "--data-dir=" + data_dir_,
                  "--listen-client-urls=" + client_url,
                  "--advertise-client-urls=" + client_url,
                  "--listen-peer-urls=" + peer_url,
                  "--initial-advertise-peer-urls=" + peer_url,
                  "--initial-cluster=mc=" + peer_url};
  process_.reset();
  MC_ASSIGN_OR_RETURN(process_, ChildProcess::Start(std::move(process)));
  const auto deadline = Clock::now() + options_.ready_timeout;
  while (true) {
    if (!process_->Running()) {
      return InternalError("etcd on " + endpoint_ + " exited before serving; log:\n" +
                           Tail(ReadLog()));
    }
    if (Healthy(client_port_)) return Status::Ok();
    if (Clock::now() >= deadline) {
      process_->Kill(SIGKILL);
      return InternalError("etcd on " + endpoint_ + " did not serve within " +
                           std::to_string(options_.ready_timeout.count()) + " ms; log:\n" +
                           Tail(ReadLog()));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

bool EtcdServer::Running() { return process_ != nullptr && process_->Running(); }

void EtcdServer::Kill() {
  if (process_) process_->Kill(SIGKILL);
}

Status EtcdServer::Stop() {
  if (!Running()) return Status::Ok();
  process_->Kill(SIGTERM);
  auto exited = process_->Wait(kStopTimeout);
  return exited.status();
}

Status EtcdServer::Restart(EtcdData data) {
  if (Running()) {
    process_->Kill(SIGKILL);
  }
  if (data == EtcdData::kWipe) {
    std::error_code error;
    std::filesystem::remove_all(data_dir_, error);
    if (error) return InternalError("cannot wipe " + data_dir_ + ": " + error.message());
  }
  return Launch();
}

std::string EtcdServer::ReadLog() const { return process_ ? process_->ReadLog() : std::string(); }

}  // namespace mooncake::testing
