#include "common/host_port.h"

#include <fmt/format.h>

#include <charconv>

namespace mooncake {

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

Result<HostPort> ParseHostPort(std::string_view text, PortRequirement requirement) {
  auto bad = [&](std::string_view why) {
    return InvalidParams(fmt::format("invalid address '{}': {}", text, why));
  };
  if (text.empty()) return bad("empty");
  HostPort out;
  std::string_view port_text;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    out.host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("expected ':' after ']'");
      port_text = rest.substr(1);
      if (port_text.empty()) return bad("empty port");
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') != colon) {
      return bad("IPv6 addresses must be written as [addr]:port");
    }
    if (colon == std::string_view::npos) {
      out.host = std::string(text);
    } else {
      out.host = std::string(text.substr(0, colon));
      port_text = text.substr(colon + 1);
      if (port_text.empty()) return bad("empty port");
    }
  }
  if (out.host.empty()) return bad("empty host");
  if (port_text.empty()) {
    if (requirement == PortRequirement::kRequired) return bad("missing port");
    return out;
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || value > 65535) {
    return bad("port must be an integer in 0..65535");
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

}  // namespace mooncake
