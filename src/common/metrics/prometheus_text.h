#pragma once

// Pieces of the Prometheus text exposition format 0.0.4, kept apart from the registry so each
// rule (name syntax, escaping, number spelling) is stated once.

#include <string>
#include <string_view>

#include "common/metrics/metric_types.h"

namespace mooncake {

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool IsValidMetricName(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*, and not starting with "__" (reserved for Prometheus itself).
bool IsValidLabelName(std::string_view name);

// Label values: backslash, double quote and newline escaped.
std::string EscapeLabelValue(std::string_view value);
// HELP text: backslash and newline escaped (quotes stay as they are).
std::string EscapeHelp(std::string_view help);

// Shortest text that reads back as the same double; "+Inf", "-Inf", "NaN" for the specials.
std::string FormatValue(double value);

// `{k1="v1",k2="v2"}` in the given order, with `le="<le>"` appended when `le` is non-empty;
// "" when there is nothing to print.
std::string RenderLabels(const Labels& labels, std::string_view le = {});

}  // namespace mooncake
