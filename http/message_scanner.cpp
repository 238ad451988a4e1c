#include "http/message_scanner.hpp"

#include <algorithm>
#include <limits>

#include "core/text.hpp"

namespace ts::api {

namespace {

constexpr auto npos = std::string_view::npos;

/// Chunk-size lines (with extensions) longer than this are not followed.
constexpr size_t max_chunk_line = 1024;

// A Content-Length value: digits, or a list of equal ones ("5, 5", RFC 9110 8.6).
std::optional<uint64_t> parse_length(std::string_view text) {
  std::optional<uint64_t> out;
  while (true) {
    auto comma = text.find(',');
    auto item = trim(text.substr(0, comma));
    if (item.empty())
      return std::nullopt;
    uint64_t value = 0;
    for (char c : item) {
      if (c < '0' || c > '9' || value > (std::numeric_limits<uint64_t>::max() - 9) / 10)
        return std::nullopt;
      value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    if (out && *out != value)
      return std::nullopt;
    out = value;
    if (comma == npos)
      return out;
    text.remove_prefix(comma + 1);
  }
}

// "1a;ext=x" -> 26; nullopt when it is no chunk size.
std::optional<uint64_t> parse_chunk_size(std::string_view line) {
  uint64_t value = 0;
  size_t digits = 0;
  while (digits < line.size() && hex_value(line[digits]) >= 0) {
    if (digits == 15)
      return std::nullopt;  // more than 2^60: no body of ours is that long
    value = value * 16 + static_cast<uint64_t>(hex_value(line[digits]));
    ++digits;
  }
  if (digits == 0)
    return std::nullopt;
  auto rest = trim(line.substr(digits));
  if (!rest.empty() && rest[0] != ';')
    return std::nullopt;
  return value;
}

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);
  return line;
}

} // namespace

std::optional<std::string_view> request_head::field(std::string_view name) const {
  for (auto& [n, v] : fields)
    if (iequals(n, name))
      return std::string_view{v};
  return std::nullopt;
}

message_scanner::message_scanner(scanner_limits limits) : limits_(limits) {
}

scan_step message_scanner::feed(std::string_view data) {
  size_t used = 0;
  while (used < data.size()) {
    auto rest = data.substr(used);
    scan_step s;
    switch (state_) {
      case state::head: s = scan_head(rest); break;
      case state::opaque: s = {scan_event::need_more, rest.size()}; break;
      case state::length_body:
      case state::chunk_data: {
        auto take = static_cast<size_t>(std::min<uint64_t>(remaining_, rest.size()));
        remaining_ -= take;
        s.used = take;
        if (remaining_ == 0)
          state_ = state_ == state::length_body ? state::head : state::chunk_data_end;
        break;
      }
      case state::chunk_size:
      case state::chunk_data_end:
      case state::trailers: {
        bool too_long = false;
        auto limit = state_ == state::trailers ? limits_.max_head_bytes : max_chunk_line;
        auto line = take_line(rest, s.used, limit, too_long);
        if (too_long) {
          state_ = state::opaque;
          s.event = scan_event::unframed;
          break;
        }
        if (!line)
          break;
        if (state_ == state::chunk_size) {
          auto size = parse_chunk_size(*line);
          if (!size) {
            state_ = state::opaque;
            s.event = scan_event::unframed;
          } else if (*size == 0) {
            state_ = state::trailers;
            trailer_bytes_ = 0;
          } else if (*size > limits_.max_body_bytes - body_seen_) {
            // Refused on the size line, before any of the chunk is read.
            s.event = scan_event::body_too_large;
          } else {
            body_seen_ += *size;
            remaining_ = *size;
            state_ = state::chunk_data;
          }
        } else if (state_ == state::chunk_data_end) {
          if (line->empty()) {
            state_ = state::chunk_size;
          } else {
            state_ = state::opaque;
            s.event = scan_event::unframed;
          }
        } else {
          trailer_bytes_ += line->size() + 2;
          if (trailer_bytes_ > limits_.max_head_bytes) {
            state_ = state::opaque;
            s.event = scan_event::unframed;
          } else if (line->empty()) {
            state_ = state::head;
          }
        }
        break;
      }
    }
    used += s.used;
    if (s.event != scan_event::need_more)
      return {s.event, used};
  }
  return {scan_event::need_more, used};
}

std::optional<std::string> message_scanner::take_line(std::string_view data, size_t& used,
                                                      size_t limit, bool& too_long) {
  auto lf = data.find('\n');
  auto take = lf == npos ? data.size() : lf + 1;
  used = take;
  buf_.append(data.data(), take);
  if (buf_.size() > limit + 2) {
    too_long = true;
    buf_.clear();
    return std::nullopt;
  }
  if (lf == npos)
    return std::nullopt;
  std::string line = std::string{strip_cr(std::string_view{buf_}.substr(0, buf_.size() - 1))};
  buf_.clear();
  return line;
}

scan_step message_scanner::scan_head(std::string_view data) {
  size_t used = 0;
  while (used < data.size()) {
    auto rest = data.substr(used);
    auto lf = rest.find('\n');
    auto take = lf == npos ? rest.size() : lf + 1;
    // Never more than the limit plus one byte: a flood of head costs no memory here.
    take = std::min(take, limits_.max_head_bytes + 1 - buf_.size());
    buf_.append(rest.data(), take);
    used += take;
    if (buf_.size() > limits_.max_head_bytes)
      return {scan_event::head_too_large, used};
    if (buf_.back() != '\n')
      continue;
    auto line = strip_cr(std::string_view{buf_}.substr(line_start_, buf_.size() - 1 - line_start_));
    if (line.empty()) {
      // Empty lines before a request line are ignored (RFC 9112 2.2).
      if (line_start_ == 0) {
        buf_.clear();
        continue;
      }
      bool followed = parse_head();
      buf_.clear();
      line_start_ = 0;
      fields_seen_ = 0;
      if (!followed) {
        state_ = state::opaque;
        return {scan_event::unframed, used};
      }
      start_body();
      return {scan_event::head, used};
    }
    if (line_start_ != 0 && ++fields_seen_ > limits_.max_fields)
      return {scan_event::head_too_large, used};
    line_start_ = buf_.size();
  }
  return {scan_event::need_more, used};
}

bool message_scanner::parse_head() {
  head_ = request_head{};
  std::string_view text = buf_;
  bool first = true;
  bool has_length = false;
  std::string transfer_encoding;
  while (!text.empty()) {
    auto lf = text.find('\n');
    auto line = strip_cr(text.substr(0, lf));
    text = lf == npos ? std::string_view{} : text.substr(lf + 1);
    if (line.empty())
      continue;
    if (first) {
      first = false;
      auto sp = line.find(' ');
      head_.method = std::string{line.substr(0, sp)};
      auto rest = sp == npos ? std::string_view{} : line.substr(sp + 1);
      auto sp2 = rest.find(' ');
      head_.target = std::string{rest.substr(0, sp2)};
      head_.version = std::string{trim(sp2 == npos ? std::string_view{} : rest.substr(sp2 + 1))};
      continue;
    }
    // An obsolete folded line continues the previous value (RESTinio's parser decides
    // whether to accept it).
    if ((line[0] == ' ' || line[0] == '\t') && !head_.fields.empty()) {
      head_.fields.back().second += ' ';
      head_.fields.back().second += std::string{trim(line)};
      continue;
    }
    // Leniently trimmed: refusing a space before the colon is the parser's business.
    auto colon = line.find(':');
    auto name = trim(line.substr(0, colon));
    auto value = trim(colon == npos ? std::string_view{} : line.substr(colon + 1));
    head_.fields.emplace_back(std::string{name}, std::string{value});
    if (iequals(name, "Content-Length")) {
      auto n = parse_length(value);
      if (!n || (has_length && *n != head_.content_length))
        return false;
      has_length = true;
      head_.content_length = *n;
    } else if (iequals(name, "Transfer-Encoding")) {
      if (!transfer_encoding.empty())
        transfer_encoding += ',';
      transfer_encoding += value;
    } else if (iequals(name, "Expect")) {
      head_.expect_continue = iequals(value, "100-continue");
    }
  }
  if (!transfer_encoding.empty()) {
    // Both framings at once is the classic smuggling request; a coding other than a final
    // chunked leaves a request without a length.
    auto last = trim(std::string_view{transfer_encoding}.substr(transfer_encoding.rfind(',') + 1));
    if (has_length || !iequals(last, "chunked"))
      return false;
    head_.chunked = true;
  }
  return true;
}

void message_scanner::start_body() {
  if (head_.chunked) {
    state_ = state::chunk_size;
    body_seen_ = 0;
  } else if (head_.content_length > 0) {
    state_ = state::length_body;
    remaining_ = head_.content_length;
  } else {
    state_ = state::head;
  }
}

} // namespace ts::api
