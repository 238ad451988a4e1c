#include "core/tokens.hpp"

#include <algorithm>
#include <atomic>
#include <utility>

namespace ts {

namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
         || c == '.' || c == '_' || c == '-';
}

// Equal in time that depends on the lengths only: every byte of the longer one is looked
// at, and a length mismatch is folded into the same accumulator.
bool same_secret(std::string_view a, std::string_view b) {
  size_t n = std::max(a.size(), b.size());
  volatile unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0u;
    auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0u;
    diff = diff | (x ^ y);
  }
  return diff == 0;
}

std::string at_line(size_t line, std::string_view what) {
  return "line " + std::to_string(line) + ": " + std::string{what};
}

} // namespace

const char* to_string(token_scope scope) {
  return scope == token_scope::read ? "read" : "write";
}

parsed<token_set> parse_token_file(std::string_view text) {
  token_set out;
  std::vector<size_t> lines;  // where each token came from, for the duplicate messages
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto end = text.find('\n');
    auto line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    // Only printable ASCII and blanks: a control byte, a NUL or UTF-8 is a mistake (a
    // binary file, an editor's BOM) that would otherwise become part of a token.
    for (char c : line) {
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u >= 0x7f)
        return parsed<token_set>::failure(
          at_line(line_no, "a control or non-ASCII byte (only printable ASCII, spaces and "
                           "tabs may appear)"));
    }
    std::vector<std::string_view> fields;
    for (size_t i = 0; i < line.size();) {
      if (is_blank(line[i])) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < line.size() && !is_blank(line[j]))
        ++j;
      fields.push_back(line.substr(i, j - i));
      i = j;
    }
    if (fields.empty() || fields[0][0] == '#')
      continue;
    api_token token;
    if (fields.size() == 1) {
      token.name = "default";
      token.scope = token_scope::write;
      token.secret = std::string{fields[0]};
    } else if (fields.size() == 3) {
      auto name = fields[0];
      if (name.size() > max_token_name_bytes
          || !std::all_of(name.begin(), name.end(), is_name_char))
        return parsed<token_set>::failure(
          at_line(line_no, "a name is 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'"));
      if (fields[1] == "read")
        token.scope = token_scope::read;
      else if (fields[1] == "write")
        token.scope = token_scope::write;
      else
        return parsed<token_set>::failure(at_line(line_no, "the scope must be read or write"));
      // A trailing "# comment" would otherwise become the token: comments take whole lines.
      if (fields[2][0] == '#')
        return parsed<token_set>::failure(
          at_line(line_no, "a token must not begin with '#' (a comment takes a whole line)"));
      token.name = std::string{name};
      token.secret = std::string{fields[2]};
    } else {
      return parsed<token_set>::failure(
        at_line(line_no, "expected NAME SCOPE TOKEN, or one bare token"));
    }
    for (size_t k = 0; k < out.tokens.size(); ++k) {
      if (out.tokens[k].name == token.name)
        return parsed<token_set>::failure(
          at_line(line_no, ("the name is already used on line " + std::to_string(lines[k])
                            + (token.name == "default" ? " (a bare token is named default)" : ""))
));
      if (same_secret(out.tokens[k].secret, token.secret))
        return parsed<token_set>::failure(
          at_line(line_no, ("the token is already given on line " + std::to_string(lines[k])
                            + " (one token, one name)")
));
    }
    if (out.tokens.size() == max_tokens)
      return parsed<token_set>::failure(
        at_line(line_no, "more than " + std::to_string(max_tokens) + " tokens"));
    out.tokens.push_back(std::move(token));
    lines.push_back(line_no);
  }
  if (out.tokens.empty())
    return parsed<token_set>::failure("no token in the file (only blank lines or comments)");
  return out;
}

const api_token* find_token(const token_set& set, std::string_view given) {
  const api_token* found = nullptr;
  for (auto& t : set.tokens) {
    bool same = same_secret(given, t.secret);
    found = same ? &t : found;
  }
  return found;
}

token_holder::token_holder(std::shared_ptr<const token_set> initial)
  : current_(std::move(initial)) {
}

std::shared_ptr<const token_set> token_holder::get() const {
  return std::atomic_load(&current_);
}

void token_holder::set(std::shared_ptr<const token_set> next) {
  std::atomic_store(&current_, std::move(next));
}

std::string token_names(const token_set& set) {
  std::string out;
  for (auto& t : set.tokens) {
    if (!out.empty())
      out += ',';
    out += t.name;
  }
  return out;
}

} // namespace ts
