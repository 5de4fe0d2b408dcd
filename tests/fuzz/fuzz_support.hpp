// Shared by the fuzz targets (docs/security.md, "Fuzzing"): a check that
// aborts with what broke (libFuzzer keeps the input as a crash), and the split
// of one input into parts.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace osago::fuzz {

[[noreturn]] inline void broken(const char* where, const std::string& what) {
  std::fprintf(stderr, "%s: property broken: %s\n", where, what.c_str());
  std::abort();
}

/// Fails the input when `condition` does not hold.
#define OSAGO_FUZZ_CHECK(condition, what) \
  do {                                    \
    if (!(condition)) ::osago::fuzz::broken(__FILE__, std::string(#condition) + ": " + (what)); \
  } while (0)

inline std::string_view text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// The parts of `input` between the lines "=====" (at most `max_parts`; the last keeps the rest).
inline std::vector<std::string_view> parts(std::string_view input, std::size_t max_parts) {
  static constexpr std::string_view kSeparator = "\n=====\n";
  std::vector<std::string_view> out;
  while (out.size() + 1 < max_parts) {
    auto at = input.find(kSeparator);
    if (at == std::string_view::npos) break;
    out.push_back(input.substr(0, at));
    input.remove_prefix(at + kSeparator.size());
  }
  out.push_back(input);
  return out;
}

}  // namespace osago::fuzz
