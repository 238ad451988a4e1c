// libFuzzer target for the token file's parser (scripts/fuzz tokens): any bytes either parse
// or are refused with a message that names a line and shows none of the file's text; a
// parsed set keeps its promises (non-empty, unique names and secrets, valid fields), and
// every secret finds its own token.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/tokens.hpp"

namespace {

bool printable_word(std::string_view s) {
  if (s.empty())
    return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f)
      return false;
  }
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  auto r = ts::parse_token_file(text);
  if (!r) {
    auto& why = r.error();
    if (why.empty())
      std::abort();  // a refusal must say why
    // It names a line or says the file has no token, and echoes no field of the file: no
    // word of three or more bytes of the input shows in the message unless the message's
    // own text has it (checked on every whitespace-separated word of the input).
    if (why.rfind("line ", 0) != 0 && why.rfind("no token", 0) != 0)
      std::abort();
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n'
                                 || text[i] == '\r'))
        ++i;
      size_t j = i;
      while (j < text.size() && text[j] != ' ' && text[j] != '\t' && text[j] != '\n'
             && text[j] != '\r')
        ++j;
      auto word = text.substr(i, j - i);
      // Words of the message itself ("read", "write", "line"...) may coincide.
      static const std::string vocabulary =
        "no token in the file (only blank lines or comments) "
        "a control or non-ASCII byte (only printable ASCII, spaces and tabs may appear) "
        "a name is 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-' "
        "the scope must be read or write expected NAME SCOPE TOKEN, or one bare token "
        "the name is already used on line (a bare token is named default) "
        "the token is already given on line (one token, one name) more than 1000 tokens "
        "a token must not begin with '#' (a comment takes a whole line)";
      if (word.size() >= 6 && why.find(word) != std::string::npos
          && vocabulary.find(word) == std::string::npos)
        std::abort();
      i = j;
    }
    return 0;
  }
  auto& set = *r;
  if (set.tokens.empty() || set.tokens.size() > ts::max_tokens)
    std::abort();
  for (size_t k = 0; k < set.tokens.size(); ++k) {
    auto& t = set.tokens[k];
    if (!printable_word(t.secret) || t.secret[0] == '#' || !printable_word(t.name)
        || t.name.size() > ts::max_token_name_bytes)
      std::abort();
    if (t.secret.size() > size || t.name.size() > size + 7)
      std::abort();
    for (size_t m = 0; m < k; ++m)
      if (set.tokens[m].name == t.name || set.tokens[m].secret == t.secret)
        std::abort();
    if (ts::find_token(set, t.secret) != &t)
      std::abort();
    // A longer secret matches only the token that is exactly it (another line's may be).
    auto longer = t.secret + "x";
    auto* other = ts::find_token(set, longer);
    if (other != nullptr && other->secret != longer)
      std::abort();
  }
  // Parsing is deterministic.
  auto again = ts::parse_token_file(text);
  if (!again || again->tokens.size() != set.tokens.size())
    std::abort();
  return 0;
}
