#pragma once

// Values and clients for the store's real-process tests (tests/store/*_test.cc): reproducible
// byte patterns, and a store Client or admin MasterClient bound to a StoreTestCluster.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "master/client/master_client.h"
#include "mooncake/store/client.h"

namespace mooncake::store {

// `n` pseudo-random bytes from `seed`; different seeds give different values.
inline std::vector<uint8_t> Pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (size_t i = 0; i < n; i += 4) {
    const uint32_t r = rng();
    std::memcpy(v.data() + i, &r, std::min<size_t>(4, n - i));
  }
  return v;
}

// Knobs of TestClient; the defaults suit a loopback cluster.
struct TestClientOptions {
  // ClientOptions::protocol. Default "auto".
  std::string protocol = "auto";
  // ClientOptions::verify_checksum. Default off: tests compare the bytes themselves, so a
  // wrong replica shows up as wrong bytes rather than being caught (and retried) by the CRC.
  bool verify_checksum = false;
  // ClientOptions::local_buffer_size. Default 8 MiB.
  uint64_t staging = uint64_t{8} << 20;
};

// A store Client of the master at `master_address`; fails the test (nullptr) if it cannot start.
inline std::unique_ptr<Client> TestClient(const std::string& master_address,
                                          const TestClientOptions& test = {}) {
  ClientOptions options;
  options.master_address = master_address;
  options.protocol = test.protocol;
  options.verify_checksum = test.verify_checksum;
  options.local_buffer_size = test.staging;
  options.transfer_timeout = std::chrono::milliseconds(3000);
  auto client = Client::Create(options);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(*client) : nullptr;
}

// An admin MasterClient (cluster info, raw PutStart); fails the test (nullptr) on error.
inline std::unique_ptr<master::MasterClient> TestAdmin(const std::string& master_address) {
  master::MasterClientOptions options;
  options.master_address = master_address;
  auto admin = master::MasterClient::Create(options);
  EXPECT_TRUE(admin.ok()) << admin.status().ToString();
  return admin.ok() ? std::move(*admin) : nullptr;
}

}  // namespace mooncake::store
