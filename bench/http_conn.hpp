// One kept-alive HTTP/1.1 connection to 127.0.0.1 for the bench client: blocking, with a
// timeout on every read and write, Content-Length framing only (all the service sends).
#pragma once

#include <cstdint>
#include <string>

namespace ts::bench {

struct http_result {
  int status = 0;       // 0: no response (see error)
  std::string body;
  std::string error;
};

class http_conn {
public:
  explicit http_conn(uint16_t port, int timeout_ms = 20000);
  http_conn(const http_conn&) = delete;
  http_conn& operator=(const http_conn&) = delete;
  ~http_conn();

  /// Sends one request and reads its response. A GET on a connection the server closed
  /// meanwhile is sent again once on a new one; a POST never is (it could create twice).
  http_result request(const std::string& method, const std::string& target,
                      const std::string& body = {});

private:
  bool open(std::string& error);
  void close();
  /// Reads one response; false when the connection ended before any byte of it.
  bool read_response(http_result& r, bool& got_bytes);

  uint16_t port_;
  int timeout_ms_;
  int fd_ = -1;
  std::string buf_;
};

} // namespace ts::bench
