// UTF-8 as text from outside arrives: strictly decoded (what a JSON writer
// accepts), and clipped for messages without cutting a character in two.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace osago::utf8 {

/// The code points of `s`, or nothing when it is not valid UTF-8: a bad or
/// missing continuation byte, an overlong form, a surrogate (U+D800…U+DFFF) or
/// a value past U+10FFFF.
std::optional<std::u32string> decode(std::string_view s);

/// `s` as UTF-8 (code points as decode() yields them).
std::string encode(const std::u32string& s);

/// Whether `s` is valid UTF-8 (decode() would succeed).
bool valid(std::string_view s);

/// At most `max_bytes` of `s` as valid UTF-8, for outside text that goes into
/// messages, logs and events: cut before a character, never inside one, and
/// each invalid byte replaced by U+FFFD.
std::string clip(std::string_view s, std::size_t max_bytes);

}  // namespace osago::utf8
