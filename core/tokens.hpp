// The API tokens: the token file's parser, the constant-time lookup of a presented token,
// and the holder that lets a reload (SIGHUP) swap the whole set while HTTP threads read it.
// CAF-free, so that the parser can be fuzzed alone (tests/fuzz/fuzz_tokens.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/parsed.hpp"

namespace ts {

/// `read`: GET (and HEAD) only; `write`: every route.
enum class token_scope : uint8_t { read, write };

const char* to_string(token_scope scope);

struct api_token {
  /// Shown in the log and the audit log; the secret never is.
  std::string name;
  token_scope scope = token_scope::write;
  std::string secret;
};

/// An immutable, non-empty set once parsed: names and secrets are each unique.
struct token_set {
  std::vector<api_token> tokens;
};

/// The longest token file read, and the most tokens in one.
constexpr size_t max_token_file_bytes = 1024 * 1024;
constexpr size_t max_tokens = 1000;
constexpr size_t max_token_name_bytes = 64;

/// Parses a token file. Lines end at '\n' (a '\r' before it is dropped); fields are
/// separated by spaces or tabs. A line is blank, a comment (its first non-blank character
/// is '#'), a bare `TOKEN` (the `write` token named `default`: the file of one line that
/// the service always took), or `NAME SCOPE TOKEN`: NAME 1 to 64 of [A-Za-z0-9._-], SCOPE
/// `read` or `write`, TOKEN printable ASCII without spaces, not beginning with '#' (as a
/// bare one cannot). Refused, with the line's number and never any of its text (a
/// misordered line would put a secret in any field): another number of fields, a bad name or scope, a control or non-ASCII byte, a name or a token
/// that an earlier line has, more than max_tokens, and a file without any token.
parsed<token_set> parse_token_file(std::string_view text);

/// The token whose secret is exactly `given`, or null. Every token is compared in full,
/// in time that does not depend on where the bytes differ nor on which token matches.
const api_token* find_token(const token_set& set, std::string_view given);

/// The current token set, swapped whole by reload and read by any thread: a reader keeps
/// the set it loaded for as long as it holds the pointer, so a request is judged by one
/// set from its head to its audit line.
class token_holder {
public:
  explicit token_holder(std::shared_ptr<const token_set> initial);
  std::shared_ptr<const token_set> get() const;
  void set(std::shared_ptr<const token_set> next);

private:
  std::shared_ptr<const token_set> current_;
};

/// "read-only-bot,deployer": the names of a set, for the log.
std::string token_names(const token_set& set);

} // namespace ts
