// The request framing the guarded socket follows, without a socket: where heads end, what
// they declare, bodies by Content-Length and chunked, pipelined messages, the limits; and
// the head judge against route()'s own answers.
#include "http/message_scanner.hpp"
#include "http/routes.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using ts::api::message_scanner;
using ts::api::scan_event;
using ts::api::scanner_limits;

namespace {

// Feeds `input` in pieces of `piece` bytes and records every event.
std::vector<scan_event> events(message_scanner& s, const std::string& input, size_t piece) {
  std::vector<scan_event> out;
  for (size_t at = 0; at < input.size(); at += piece) {
    std::string_view chunk = std::string_view{input}.substr(at, piece);
    while (!chunk.empty()) {
      auto step = s.feed(chunk);
      chunk.remove_prefix(step.used);
      if (step.event != scan_event::need_more)
        out.push_back(step.event);
      if (step.event == scan_event::head_too_large || step.event == scan_event::body_too_large)
        return out;
    }
  }
  return out;
}

} // namespace

TEST_CASE("scanner: a head in one piece and byte by byte", "[scanner]") {
  std::string req = "POST /v1/tasks?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                    "Content-Length: 4\r\nExpect: 100-continue\r\n\r\n{}{}";
  for (size_t piece : {req.size(), size_t{1}, size_t{7}}) {
    message_scanner s;
    auto ev = events(s, req, piece);
    REQUIRE(ev == std::vector<scan_event>{scan_event::head});
    CHECK(s.head().method == "POST");
    CHECK(s.head().target == "/v1/tasks?x=1");
    CHECK(s.head().version == "HTTP/1.1");
    CHECK(s.head().content_length == 4);
    CHECK(s.head().expect_continue);
    CHECK(s.head().field("content-type") == std::string_view{"application/json"});
    CHECK(s.between_messages());
  }
}

TEST_CASE("scanner: pipelined messages, each followed by its framing", "[scanner]") {
  std::string get = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
  std::string post = "POST /v1/tasks HTTP/1.1\r\nContent-Length: 5\r\n\r\nGET /";
  std::string chunked = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "3;ext=1\r\nGET\r\n2\r\n\r\n\r\n0\r\nTrailer: t\r\n\r\n";
  // Bare LF line ends, as RESTinio's parser takes them.
  std::string lf = "GET /a HTTP/1.1\nHost: a\n\n";
  std::string all = get + get + post + chunked + "\r\n" + lf;
  for (size_t piece : {all.size(), size_t{1}, size_t{5}}) {
    message_scanner s;
    auto ev = events(s, all, piece);
    CHECK(ev.size() == 5);
    CHECK(std::count(ev.begin(), ev.end(), scan_event::head) == 5);
    CHECK(s.head().target == "/a");
    CHECK(s.between_messages());
  }
}

TEST_CASE("scanner: the head limits", "[scanner]") {
  scanner_limits lim;
  SECTION("100 fields pass, 101 do not") {
    std::string head = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 100; ++i)
      head += "X-" + std::to_string(i) + ": v\r\n";
    message_scanner ok{lim};
    CHECK(events(ok, head + "\r\n", 64) == std::vector<scan_event>{scan_event::head});
    message_scanner over{lim};
    CHECK(events(over, head + "X-last: v\r\n\r\n", 64)
          == std::vector<scan_event>{scan_event::head_too_large});
  }
  SECTION("16 KiB of head pass, more does not, even without a line end") {
    std::string start = "GET / HTTP/1.1\r\nX: ";
    std::string fits = start + std::string(16 * 1024 - start.size() - 4, 'a') + "\r\n\r\n";
    REQUIRE(fits.size() == 16 * 1024);
    message_scanner ok{lim};
    CHECK(events(ok, fits, 1000) == std::vector<scan_event>{scan_event::head});
    message_scanner over{lim};
    CHECK(events(over, start + std::string(17 * 1024, 'a'), 1000)
          == std::vector<scan_event>{scan_event::head_too_large});
  }
}

TEST_CASE("scanner: a chunked body over the limit is refused on its size line", "[scanner]") {
  scanner_limits lim;
  lim.max_body_bytes = 100;
  message_scanner s{lim};
  std::string req = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "40\r\n" + std::string(64, 'a') + "\r\n40\r\n";
  CHECK(events(s, req, 9) == std::vector<scan_event>{scan_event::head, scan_event::body_too_large});
}

TEST_CASE("scanner: framing it cannot follow is left to RESTinio's parser", "[scanner]") {
  auto first_event = [](const std::string& req) {
    message_scanner s;
    auto ev = events(s, req, req.size());
    return ev.empty() ? scan_event::need_more : ev.back();
  };
  CHECK(first_event("POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n") == scan_event::unframed);
  CHECK(first_event("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")
        == scan_event::unframed);
  CHECK(first_event("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
        == scan_event::unframed);
  CHECK(first_event("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n") == scan_event::unframed);
  CHECK(first_event("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        == scan_event::unframed);
  // Equal repeated lengths are one length (RFC 9110 8.6).
  message_scanner s;
  CHECK(events(s, "POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc", 100)
        == std::vector<scan_event>{scan_event::head});
  CHECK(s.head().content_length == 3);
}

TEST_CASE("judge_head: answers from the head what route() answers", "[scanner][judge]") {
  namespace api = ts::api;
  api::request_view v;
  v.method = "POST";
  v.path = "/v1/tasks";
  v.content_type = std::string_view{"application/json"};
  auto bearer = std::string_view{"Bearer secret"};
  v.authorization = bearer;
  CHECK_FALSE(api::judge_head(v, 100, "secret", false));
  // A wrong token: 401 whatever the body.
  v.authorization = std::string_view{"Bearer wrong"};
  auto r = api::judge_head(v, 100, "secret", false);
  REQUIRE(r);
  CHECK(r->status == 401);
  v.authorization = bearer;
  // Over 1 MiB: 413, as route() says once it has the body.
  r = api::judge_head(v, api::max_body_bytes + 1, "secret", false);
  REQUIRE(r);
  CHECK(r->status == 413);
  std::string big(api::max_body_bytes + 1, ' ');
  v.body = big;
  auto routed = api::route(v, "secret", false, 0);
  REQUIRE(std::holds_alternative<ts::http_response>(routed));
  CHECK(std::get<ts::http_response>(routed).body == r->body);
  v.body = {};
  // An unknown path with a small body is route()'s to answer; with a large one, its 404.
  v.path = "/nowhere";
  CHECK_FALSE(api::judge_head(v, 10, "secret", false));
  r = api::judge_head(v, api::max_body_bytes + 1, "secret", false);
  REQUIRE(r);
  CHECK(r->status == 404);
  // The content type each route refuses, and nothing on routes that take any.
  v.path = "/v1/tasks";
  v.content_type = std::string_view{"text/plain"};
  r = api::judge_head(v, 10, "secret", false);
  REQUIRE(r);
  CHECK(r->status == 415);
  v.method = "PATCH";
  v.path = "/v1/tasks/7";
  r = api::judge_head(v, 10, "secret", false);
  REQUIRE(r);
  CHECK(r->status == 415);
  CHECK(r->header("Accept-Patch") != nullptr);
  // An invalid id comes first in route() (400): not the head's to answer.
  v.path = "/v1/tasks/abc";
  CHECK_FALSE(api::judge_head(v, 10, "secret", false));
  v.method = "POST";
  v.path = "/v1/tasks/7/cancel";
  CHECK_FALSE(api::judge_head(v, 10, "secret", false));
  // Probes are open; only an oversized body is refused there.
  v.path = "/healthz";
  v.method = "GET";
  v.authorization.reset();
  CHECK_FALSE(api::judge_head(v, 0, "secret", false));
  r = api::judge_head(v, api::max_body_bytes + 1, "secret", false);
  REQUIRE(r);
  CHECK(r->status == 413);
}
