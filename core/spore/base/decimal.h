#pragma once
/// @file decimal.h
/// One parser for the decimal numbers core reads from text: HTTP lengths, SSE event ids, the node
/// id in a REST path (its counterpart for writing is format_decimal(), json_writer.h).

#include <cstdint>
#include <string_view>

namespace spore {

/// `s` as 1*DIGIT no larger than `max`; false, and `*out` untouched, when `s` is empty, holds any
/// byte but '0'-'9' (no sign, no space) or exceeds `max`.
bool parse_decimal(std::string_view s, uint64_t max, uint64_t* out);

}  // namespace spore
