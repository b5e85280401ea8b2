#pragma once

// Pinning the calling thread for the anchors (best effort: a CPU the machine lacks is ignored).

#include <pthread.h>
#include <sched.h>

#include <thread>

namespace mooncake::bench {

// Pins the calling thread to `cpu`.
inline void PinTo(unsigned cpu) {
  if (cpu >= std::thread::hardware_concurrency()) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

// Lets the calling thread run on every CPU again.
inline void UnpinAll() {
  cpu_set_t all;
  CPU_ZERO(&all);
  for (unsigned c = 0; c < std::thread::hardware_concurrency(); ++c) CPU_SET(c, &all);
  pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
}

}  // namespace mooncake::bench
