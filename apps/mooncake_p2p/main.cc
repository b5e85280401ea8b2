// mooncake_p2p: the P2P Store command line.
//   mooncake_p2p --metadata_server etcd://H:P [--local_server_name host:port] CMD ...
//   register NAME FILE...   map the files, publish them as NAME and seed until SIGINT/SIGTERM
//   get NAME OUTDIR         fetch NAME from its holders into OUTDIR/<part name>, with progress
//   ls [PREFIX]             objects, sizes, shards, live holders
//   rm NAME                 delete NAME's record and every holder entry from etcd
// Exit codes: 0 ok, 1 object not found, 2 usage, 3 etcd or peers unreachable / transfer
// failed, 4 verification failed, 6 local file error, 7 other failure.
//
// Machine-readable lines on stdout (flushed): "READY ..." once `register` seeds or `get` is
// set up (see --start_file), "DONE ..." when `get` has every byte verified.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "apps/common/app_flags.h"
#include "common/auth/open_bind.h"
#include "common/logging.h"
#include "common/shutdown_signals.h"
#include "mooncake/common/size.h"
#include "mooncake/p2p/p2p_store.h"

namespace mooncake::p2p_cli {
namespace {

int ExitCode(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
      return 0;
    case StatusCode::kObjectNotFound:
      return 1;
    case StatusCode::kInvalidParams:
      return 2;
    case StatusCode::kEtcdOperationError:
    case StatusCode::kTransferFail:
    case StatusCode::kRpcTimeout:
    case StatusCode::kLeaseExpired:
      return 3;
    case StatusCode::kChecksumMismatch:
      return 4;
    case StatusCode::kFileNotFound:
    case StatusCode::kFileReadFail:
    case StatusCode::kFileWriteFail:
      return 6;
    default:
      return 7;
  }
}

int Fail(const Status& s) {
  std::fprintf(stderr, "mooncake_p2p: %s\n", s.ToString().c_str());
  return ExitCode(s);
}

double NowRealtime() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A file mapped read-only; unmapped on destruction.
struct MappedFile {
  void* address = nullptr;
  size_t size = 0;
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (address != nullptr) munmap(address, size);
  }
};

Status MapFile(const std::string& path, MappedFile* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return {StatusCode::kFileReadFail, "open " + path + ": " + std::strerror(errno)};
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size <= 0) {
    close(fd);
    return {StatusCode::kFileReadFail, path + ": empty or not a regular file"};
  }
  void* p =
      mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED) {
    return {StatusCode::kFileReadFail, "mmap " + path + ": " + std::strerror(errno)};
  }
  out->address = p;
  out->size = static_cast<size_t>(st.st_size);
  return Status::Ok();
}

struct RegisterArgs {
  std::string name;
  std::vector<std::string> files;
  std::string shard_size = "64MiB";
};

int Register(p2p::P2PStore& store, const RegisterArgs& args) {
  auto shard = ParseSize(args.shard_size);
  if (!shard.ok() || *shard == 0) return Fail(InvalidParams("--shard_size: " + args.shard_size));
  std::vector<std::unique_ptr<MappedFile>> maps;
  std::vector<void*> addrs;
  std::vector<size_t> sizes;
  p2p::P2PRegisterOptions options;
  options.max_shard_size = *shard;
  uint64_t total = 0;
  for (const std::string& f : args.files) {
    maps.push_back(std::make_unique<MappedFile>());
    if (Status s = MapFile(f, maps.back().get()); !s.ok()) return Fail(s);
    addrs.push_back(maps.back()->address);
    sizes.push_back(maps.back()->size);
    options.part_names.push_back(std::filesystem::path(f).filename().string());
    total += maps.back()->size;
  }
  if (Status s = store.Register(args.name, addrs, sizes, options); !s.ok()) return Fail(s);
  std::printf("READY name=%s size=%llu segment=%s\n", args.name.c_str(),
              static_cast<unsigned long long>(total), store.local_server_name().c_str());
  std::fflush(stdout);
  WaitForShutdownSignal();
  if (Status s = store.Unregister(args.name); !s.ok()) return Fail(s);
  return 0;
}

struct GetArgs {
  std::string name;
  std::string outdir;
  bool discard = false;
  bool stay = false;
  std::string start_file;
  int start_timeout_s = 600;
};

// Waits until `path` exists (the bench's common start event), bounded.
Status WaitForFile(const std::string& path, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!std::filesystem::exists(path)) {
    if (std::chrono::steady_clock::now() > deadline) {
      return {StatusCode::kRpcTimeout, "start file " + path + " did not appear"};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::Ok();
}

Status WriteParts(const GetArgs& args, const p2p::P2PObjectInfo& info, const uint8_t* data) {
  std::filesystem::create_directories(args.outdir);
  uint64_t offset = 0;
  for (size_t i = 0; i < info.parts.size(); ++i) {
    std::string name = info.parts[i].name.empty()
                           ? "part" + std::to_string(i)
                           : std::filesystem::path(info.parts[i].name).filename().string();
    std::string path = args.outdir + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return {StatusCode::kFileWriteFail, "open " + path + ": " + strerror(errno)};
    size_t n = std::fwrite(data + offset, 1, info.parts[i].size, f);
    bool ok = n == info.parts[i].size && std::fclose(f) == 0;
    if (!ok) return {StatusCode::kFileWriteFail, "write " + path + ": " + strerror(errno)};
    offset += info.parts[i].size;
  }
  return Status::Ok();
}

int Get(p2p::P2PStore& store, const GetArgs& args) {
  auto info = store.GetObjectInfo(args.name);
  if (!info.ok()) return Fail(info.status());
  // Anonymous memory for the object; pages are touched up front so that the fetch measures
  // the network, not page faults.
  void* buffer = mmap(nullptr, info->size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (buffer == MAP_FAILED) {
    return Fail(InternalError("cannot map " + std::to_string(info->size) + " bytes"));
  }
  std::printf("READY name=%s size=%llu segment=%s\n", args.name.c_str(),
              static_cast<unsigned long long>(info->size), store.local_server_name().c_str());
  std::fflush(stdout);
  if (!args.start_file.empty()) {
    if (Status s = WaitForFile(args.start_file, std::chrono::seconds(args.start_timeout_s));
        !s.ok()) {
      return Fail(s);
    }
  }
  const bool tty = isatty(STDERR_FILENO) != 0;
  const double start = NowRealtime();
  p2p::GetReplicaOptions options;
  options.on_progress = [&](const p2p::ReplicaProgress& p) {
    double seconds = std::max(1e-6, NowRealtime() - start);
    std::fprintf(stderr, "%sPROGRESS %s/%s %.1f MB/s holders_in_use=%zu shards=%zu/%zu%s",
                 tty ? "\r" : "", FormatSize(p.bytes_done).c_str(),
                 FormatSize(p.total_bytes).c_str(), p.bytes_done / seconds / 1e6, p.holders_in_use,
                 p.shards_verified, p.shard_count, tty ? "   " : "\n");
  };
  auto stats = store.GetReplica(args.name, {buffer}, {static_cast<size_t>(info->size)}, options);
  const double end = NowRealtime();
  if (tty) std::fprintf(stderr, "\n");
  if (!stats.ok()) return Fail(stats.status());
  std::printf(
      "DONE name=%s bytes=%llu seconds=%.6f start=%.6f end=%.6f from_seeds=%llu "
      "from_peers=%llu holders_used=%zu pieces_failed=%zu shards_corrupt=%zu\n",
      args.name.c_str(), static_cast<unsigned long long>(stats->bytes), end - start, start, end,
      static_cast<unsigned long long>(stats->bytes_from_seeds),
      static_cast<unsigned long long>(stats->bytes_from_peers), stats->holders_used.size(),
      stats->pieces_failed, stats->shards_corrupt);
  std::fflush(stdout);
  if (!args.discard) {
    if (Status s = WriteParts(args, *info, static_cast<uint8_t*>(buffer)); !s.ok()) {
      return Fail(s);
    }
  }
  if (args.stay) WaitForShutdownSignal();
  // The store (destroyed by the caller) stops serving before the memory goes: unregister now.
  store.DeleteReplica(args.name).IgnoreError();
  munmap(buffer, info->size);
  return 0;
}

int List(p2p::P2PStore& store, const std::string& prefix) {
  auto objects = store.List(prefix);
  if (!objects.ok()) return Fail(objects.status());
  std::printf("%-40s %14s %7s %8s %6s %s\n", "NAME", "SIZE", "SHARDS", "HOLDERS", "SEEDS", "HASH");
  for (const p2p::P2PObjectInfo& o : *objects) {
    std::printf("%-40s %14s %7zu %8zu %6zu %s\n", o.name.c_str(), FormatSize(o.size).c_str(),
                o.shard_count, o.holder_count, o.seed_count, o.hash_algorithm.c_str());
  }
  return 0;
}

int Run(int argc, char** argv) {
  p2p::P2PStoreOptions options;
  int lease_ttl_s = static_cast<int>(options.lease_ttl.count());
  std::string hash = "xxh3-128";
  std::string piece_size = "4MiB";
  bool no_serve = false;
  CLI::App app{"Mooncake P2P Store: distribute named objects (checkpoints) between peers"};
  app::AppFlags common(app, "mooncake_p2p", LogLevel::kWarn);
  app.footer(
      "Exit codes: 0 ok, 1 object not found, 2 usage, 3 etcd/peers unreachable or transfer "
      "failed, 4 verification failed, 6 local file error, 7 other failure.");
  app.fallthrough();
  app.require_subcommand(1);
  app.add_option("--metadata_server", options.metadata_server, "etcd://host:port[,host:port]")
      ->required();
  app.add_option("--local_server_name", options.local_server_name,
                 "host:port peers reach this process at (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--protocol", options.protocol, "Transfer Engine protocol: auto|tcp|ucx")
      ->capture_default_str();
  app.add_option("--lease_ttl", lease_ttl_s, "Seconds a dead peer stays listed")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--hash", hash, "Shard hash of register: xxh3-128|sha256")
      ->check(CLI::IsMember({"xxh3-128", "sha256"}))
      ->capture_default_str();
  app.add_option("--piece_size", piece_size, "Bytes fetched from one holder at a time")
      ->capture_default_str();
  app.add_option("--max_in_flight", options.max_pieces_in_flight, "Pieces in flight per get")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--seed_bias", options.seed_bias,
                 "get: extra readers counted against seeds when choosing holders")
      ->capture_default_str();
  app.add_flag("--no_serve", no_serve, "get: never serve what was fetched (naive mode)");

  RegisterArgs reg;
  CLI::App* reg_cmd = app.add_subcommand("register", "Seed FILE... as NAME until SIGINT/SIGTERM");
  reg_cmd->add_option("NAME", reg.name, "Object name")->required();
  reg_cmd->add_option("FILE", reg.files, "Files, in order")->required();
  reg_cmd->add_option("--shard_size", reg.shard_size, "Largest shard")->capture_default_str();

  GetArgs get;
  CLI::App* get_cmd = app.add_subcommand("get", "Fetch NAME into OUTDIR/<file names>");
  get_cmd->add_option("NAME", get.name, "Object name")->required();
  get_cmd->add_option("OUTDIR", get.outdir, "Output directory")->required();
  get_cmd->add_flag("--discard", get.discard, "Verify but write no files");
  get_cmd->add_flag("--stay", get.stay, "Keep serving after DONE until SIGINT/SIGTERM");
  get_cmd->add_option("--start_file", get.start_file,
                      "After READY, wait for this file to exist before fetching");

  std::string ls_prefix;
  CLI::App* ls_cmd = app.add_subcommand("ls", "List objects");
  ls_cmd->add_option("PREFIX", ls_prefix, "Only names starting with this");

  std::string rm_name;
  CLI::App* rm_cmd = app.add_subcommand("rm", "Delete NAME's record and holder entries");
  rm_cmd->add_option("NAME", rm_name, "Object name")->required();

  // Exit code 2: usage (see the footer).
  if (std::optional<int> exit_code = common.Parse(argc, argv, 2)) return *exit_code;
  options.lease_ttl = std::chrono::seconds(lease_ttl_s);
  options.hash_algorithm =
      hash == "sha256" ? p2p::P2PHashAlgorithm::kSha256 : p2p::P2PHashAlgorithm::kXxh3_128;
  auto piece = ParseSize(piece_size);
  if (!piece.ok()) return Fail(piece.status());
  options.piece_size = *piece;
  options.serve_replicas = !no_serve;

  // Before any thread exists: SIGINT/SIGTERM are taken with sigwait by register and get
  // --stay; elsewhere they keep their default action (Ctrl-C ends a get at once).
  if (reg_cmd->parsed() || (get_cmd->parsed() && get.stay)) BlockShutdownSignals();
  options.auth_secret = common.auth_secret();
  auto store = p2p::P2PStore::Create(options);
  if (!store.ok()) return Fail(store.status());
  auth::WarnIfOpen("mooncake_p2p", {(*store)->local_server_name()}, options.auth_secret.get());
  if (reg_cmd->parsed()) return Register(**store, reg);
  if (get_cmd->parsed()) return Get(**store, get);
  if (ls_cmd->parsed()) return List(**store, ls_prefix);
  if (rm_cmd->parsed()) {
    Status s = (*store)->Remove(rm_name);
    return s.ok() ? 0 : Fail(s);
  }
  return 2;
}

}  // namespace
}  // namespace mooncake::p2p_cli

int main(int argc, char** argv) { return mooncake::p2p_cli::Run(argc, argv); }
