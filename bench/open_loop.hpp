// An open-loop HTTP load generator on one thread: request k is due at start + k / rate and
// goes out on the first idle kept-alive connection at or after that time, whatever the
// answers before it did. One epoll loop, as wrk's, so that the generator costs the service
// as little CPU as the closed-loop baseline does; 256 blocking threads on 2 cores measured
// their own scheduling instead of the service.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ts::bench {

struct open_loop_options {
  uint16_t port = 0;
  double rate = 0;        // requests a second
  double seconds = 30;    // how long requests are offered
  size_t connections = 256;
  /// The whole request, sent as is on every connection (HTTP/1.1, keep-alive).
  std::string request;
};

struct open_loop_result {
  size_t sent = 0;
  size_t by_status_2xx = 0;
  size_t overloaded = 0;  // 503
  size_t other = 0;       // any other status
  size_t failed = 0;      // no answer: reset, closed before the answer, refused
  size_t reconnects = 0;  // connections the service closed after answering
  size_t unsent = 0;      // still waiting for a connection when the time was up
  double load_s = 0;      // from the first due time to the last answer
  /// Of the 2xx answers: from the request's write (the service's latency) and from its
  /// due time (what a client that wanted it then saw: the generator's own wait included).
  std::vector<double> accepted_ms;
  std::vector<double> accepted_from_due_ms;
};

/// Runs the load; bounded by rate × seconds requests and by seconds + 10 s of wall time.
/// The returned `load_s` ends at the last answer.
open_loop_result run_open_loop(const open_loop_options& opts);

} // namespace ts::bench
