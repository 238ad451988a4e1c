// The HTTP/1.1 message framing of a request stream, followed byte by byte without a socket:
// where each request head ends (and what it says), then its body by Content-Length or by
// chunked encoding, so that pipelined requests are followed message by message. The
// guarded socket (guarded_socket.hpp) runs it over what RESTinio reads, to judge every
// request from its head before the body is buffered. It only follows the framing: the
// request itself is still parsed, and refused if malformed, by RESTinio's parser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ts::api {

struct scanner_limits {
  /// Request line and header fields together, up to and with the blank line.
  size_t max_head_bytes = 16 * 1024;
  size_t max_fields = 100;
  /// A chunked body that grows past this is refused (a declared Content-Length is the
  /// judge's to refuse, before any of it arrives).
  uint64_t max_body_bytes = 1024 * 1024;
};

/// What a request head says, as far as the framing and the judge need it.
struct request_head {
  std::string method;
  /// The request target as sent (path and query).
  std::string target;
  /// "HTTP/1.1"; empty when the request line has none (RESTinio's parser decides then).
  std::string version;
  std::vector<std::pair<std::string, std::string>> fields;
  /// The declared body: Content-Length, 0 when chunked or absent.
  uint64_t content_length = 0;
  bool chunked = false;
  /// Expect: 100-continue.
  bool expect_continue = false;

  /// The first field of that name (case-insensitive), its value trimmed.
  std::optional<std::string_view> field(std::string_view name) const;
  /// A body follows the head.
  bool has_body() const {
    return chunked || content_length > 0;
  }
};

enum class scan_event {
  /// Every byte given was consumed; nothing to report.
  need_more,
  /// A head is complete: head() says what it asked; its body (if any) follows.
  head,
  /// The head passed max_head_bytes or max_fields without ending (431).
  head_too_large,
  /// A chunked body passed max_body_bytes (413).
  body_too_large,
  /// Framing this scanner cannot follow (a malformed Content-Length or chunk line, a
  /// Transfer-Encoding that is not chunked, or both framings at once): it stops scanning
  /// and takes every later byte as opaque; RESTinio's parser refuses such a request.
  unframed,
};

struct scan_step {
  scan_event event = scan_event::need_more;
  /// Bytes of the input consumed up to and with the event.
  size_t used = 0;
};

class message_scanner {
public:
  explicit message_scanner(scanner_limits limits = {});

  /// Consumes bytes up to the next event (or all of them); call again with the rest.
  /// After head_too_large or body_too_large, the stream is refused: do not feed it more.
  scan_step feed(std::string_view data);

  /// The latest complete head.
  const request_head& head() const {
    return head_;
  }
  /// Between two messages: nothing of the next head has arrived yet.
  bool between_messages() const {
    return state_ == state::head && buf_.empty();
  }
  /// Within a head (at least one byte of it seen).
  bool in_head() const {
    return state_ == state::head && !buf_.empty();
  }
  /// Given up on the framing (after unframed).
  bool opaque() const {
    return state_ == state::opaque;
  }

private:
  enum class state { head, length_body, chunk_size, chunk_data, chunk_data_end, trailers, opaque };

  scan_step scan_head(std::string_view data);
  /// Parses the head in buf_ into head_; false when its framing cannot be followed.
  bool parse_head();
  /// The body's framing, once head_ is parsed.
  void start_body();
  /// A line of a chunked body (size line, the CRLF after data, a trailer); nullopt until
  /// its LF arrives.
  std::optional<std::string> take_line(std::string_view data, size_t& used, size_t limit,
                                       bool& too_long);

  scanner_limits limits_;
  state state_ = state::head;
  std::string buf_;  // the current head, or the current chunk line
  size_t fields_seen_ = 0;
  size_t line_start_ = 0;  // in buf_: where the line being scanned begins
  request_head head_;
  uint64_t remaining_ = 0;  // of the Content-Length body or of the current chunk
  uint64_t body_seen_ = 0;  // chunked: data bytes so far
  size_t trailer_bytes_ = 0;
};

} // namespace ts::api
