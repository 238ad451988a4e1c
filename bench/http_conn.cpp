#include "bench/http_conn.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <strings.h>

namespace ts::bench {

http_conn::http_conn(uint16_t port, int timeout_ms) : port_(port), timeout_ms_(timeout_ms) {
}

http_conn::~http_conn() {
  close();
}

void http_conn::close() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
  buf_.clear();
}

bool http_conn::open(std::string& error) {
  close();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error = std::string{"socket: "} + std::strerror(errno);
    return false;
  }
  timeval tv{};
  tv.tv_sec = timeout_ms_ / 1000;
  tv.tv_usec = (timeout_ms_ % 1000) * 1000;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    error = std::string{"connect: "} + std::strerror(errno);
    close();
    return false;
  }
  return true;
}

http_result http_conn::request(const std::string& method, const std::string& target,
                               const std::string& body) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (method == "POST")
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size())
           + "\r\n";
  req += "\r\n";
  req += body;
  http_result r;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = fd_ >= 0;
    if (!reused && !open(r.error))
      return r;
    size_t sent = 0;
    while (sent < req.size()) {
      auto n = ::send(fd_, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      sent += static_cast<size_t>(n);
    }
    bool got_bytes = false;
    if (sent == req.size() && read_response(r, got_bytes))
      return r;
    close();
    if (!reused || got_bytes || method != "GET")
      break;
    r = http_result{};
  }
  if (r.error.empty())
    r.error = "connection closed";
  r.status = 0;
  return r;
}

bool http_conn::read_response(http_result& r, bool& got_bytes) {
  char chunk[16384];
  auto fill = [&]() -> bool {
    for (;;) {
      auto n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        r.error = n == 0 ? "connection closed" : std::string{"recv: "} + std::strerror(errno);
        return false;
      }
      got_bytes = true;
      buf_.append(chunk, static_cast<size_t>(n));
      return true;
    }
  };
  size_t header_end;
  while ((header_end = buf_.find("\r\n\r\n")) == std::string::npos)
    if (!fill())
      return false;
  auto head = buf_.substr(0, header_end);
  if (head.compare(0, 5, "HTTP/") != 0 || head.size() < 12) {
    r.error = "malformed status line";
    return false;
  }
  r.status = std::atoi(head.c_str() + 9);
  size_t length = 0;
  bool close_after = false;
  for (size_t pos = head.find("\r\n"); pos != std::string::npos;) {
    auto next = head.find("\r\n", pos + 2);
    auto line = head.substr(pos + 2, next == std::string::npos ? std::string::npos
                                                               : next - pos - 2);
    if (strncasecmp(line.c_str(), "content-length:", 15) == 0)
      length = std::strtoull(line.c_str() + 15, nullptr, 10);
    else if (strncasecmp(line.c_str(), "connection:", 11) == 0
             && line.find("close") != std::string::npos)
      close_after = true;
    pos = next;
  }
  auto body_start = header_end + 4;
  while (buf_.size() < body_start + length)
    if (!fill())
      return false;
  r.body = buf_.substr(body_start, length);
  buf_.erase(0, body_start + length);
  if (close_after)
    close();
  return true;
}

} // namespace ts::bench
