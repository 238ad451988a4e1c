// Byte-level text helpers with one home each: percent-decoding (the query string and the
// database URL) and encoding (tsctl's queries, the URL fuzzer), UTF-8 decoding (request validation and output repair), ASCII case and
// space, base64url (the v1 cursors), shell quoting (tsctl's commands, the e2e tests). Pure: nothing of CAF (ts_core_pure).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ts {

/// How percent_decode treats what is not a plain %XX escape.
enum class percent_mode {
  /// application/x-www-form-urlencoded (a query string): '+' is a space; %00 is a NUL byte.
  form,
  /// A URL component (a database URL): '+' stays '+'; %00 is refused, since no C client
  /// API can carry a NUL byte.
  strict,
};

/// Decodes %XX escapes (either case of hex digit); nullopt on a malformed or truncated
/// escape, and in strict mode on %00. Other bytes, a raw NUL included, pass unchanged.
std::optional<std::string> percent_decode(std::string_view text, percent_mode mode);

/// Percent-encodes every byte but RFC 3986's unreserved ones (letters, digits, - . _ ~), as
/// upper-case %XX: safe in a query value and in any URL component.
std::string percent_encode(std::string_view text);

/// One step of UTF-8 decoding (Unicode Table 3-7: no overlong forms, no surrogates,
/// nothing above U+10FFFF).
struct utf8_step {
  /// Bytes taken: the whole sequence when valid, else its maximal invalid subpart (at
  /// least 1), which is what one U+FFFD replaces under Unicode's "maximal subpart" practice.
  size_t length = 0;
  bool valid = false;
  /// The code point when valid, else 0.
  char32_t code_point = 0;
};

/// Decodes the sequence that starts `bytes`, which must not be empty.
utf8_step decode_utf8(std::string_view bytes);

/// True when every sequence of `bytes` is valid UTF-8 (a NUL byte is valid).
bool valid_utf8(std::string_view bytes);

/// The value of a hexadecimal digit (either case), or -1 for any other byte.
int hex_value(char c);

/// The ASCII whitespace of the C locale: space, \t, \n, \v, \f, \r.
bool is_space(char c);

/// `s` without leading and trailing is_space characters.
std::string_view trim(std::string_view s);

/// ASCII lower case; every other byte as it is. Inline and locale-free: HTTP names and
/// media types are ASCII, and the bench's client compares every header of every response.
inline char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

/// Case-insensitive equality in ASCII (ascii_lower, byte by byte).
bool iequals(std::string_view a, std::string_view b);

/// Base64url (RFC 4648 section 5) without padding: safe in a URL query as it is.
std::string base64url_encode(std::string_view bytes);

/// The inverse; nullopt for a character outside the alphabet, padding, or a length that
/// no encoding has (a remainder of one character), or stray bits in the last character.
std::optional<std::string> base64url_decode(std::string_view text);

/// One word quoted for a POSIX shell, so that `/bin/sh -c` reads it back as exactly that
/// word: as it is when it is not empty and every byte is one no shell treats specially
/// ([A-Za-z0-9_@%+:,./-]; not '=', which makes a first word an assignment), else in single
/// quotes, each ' written as '\''.
std::string shell_quote(std::string_view word);

} // namespace ts
