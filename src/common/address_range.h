#pragma once

// A range of addresses [start, start + length), and the one check every layer makes before it
// touches memory, a file or a segment for a request that came from a caller or the network: does
// [address, address + size) lie inside a registered range, and which one. The checks never
// compute an end address, so neither a range that ends at 2^64 nor a request whose end wraps
// around can pass them by overflowing.

#include <algorithm>
#include <cstdint>
#include <iterator>

namespace mooncake {

struct AddressRange {
  uint64_t start = 0;
  uint64_t length = 0;

  // True when [address, address + size) lies inside this range. An empty request (size 0) is
  // inside anywhere from `start` up to and including the range's end; an empty range contains
  // only the empty request at its start.
  constexpr bool Contains(uint64_t address, uint64_t size) const {
    return address >= start && size <= length && address - start <= length - size;
  }
  // True when the byte at `address` lies inside this range (never, for an empty range).
  constexpr bool ContainsAddress(uint64_t address) const {
    return address >= start && address - start < length;
  }
  // How far `address` lies from `start`. Meaningful only for an address at or above `start`
  // (one that Contains or ContainsAddress accepted).
  constexpr uint64_t OffsetOf(uint64_t address) const { return address - start; }
};

// Finding a request among registered ranges that do not overlap. `ranges` is either a map keyed
// by start address (std::map: searched with its own upper_bound) or a random-access container
// sorted by start; `range_of(element)` returns an element's AddressRange (for a map, the element
// is the key/value pair).

// The element with the greatest start at or below `address`: the only one whose range can hold
// the byte at `address`. `std::end(ranges)` when every range starts above `address`.
template <typename Ranges, typename RangeOf>
auto FindStartingAtOrBefore(Ranges& ranges, uint64_t address, RangeOf range_of)
    -> decltype(std::begin(ranges)) {
  auto after = [&] {
    if constexpr (requires { ranges.upper_bound(address); }) {
      return ranges.upper_bound(address);
    } else {
      return std::upper_bound(
          std::begin(ranges), std::end(ranges), address,
          [&](uint64_t a, const auto& element) { return a < range_of(element).start; });
    }
  }();
  return after == std::begin(ranges) ? std::end(ranges) : std::prev(after);
}

// The element whose range contains [address, address + size) (AddressRange::Contains), or
// `std::end(ranges)`.
template <typename Ranges, typename RangeOf>
auto FindContaining(Ranges& ranges, uint64_t address, uint64_t size, RangeOf range_of)
    -> decltype(std::begin(ranges)) {
  auto it = FindStartingAtOrBefore(ranges, address, range_of);
  if (it != std::end(ranges) && !range_of(*it).Contains(address, size)) return std::end(ranges);
  return it;
}

}  // namespace mooncake
