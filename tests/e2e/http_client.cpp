#include "tests/e2e/http_client.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <optional>

namespace ts::e2e {

namespace {

using clock_type = std::chrono::steady_clock;

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

/// Owns a socket descriptor.
class socket_fd {
public:
  socket_fd() = default;
  explicit socket_fd(int fd) : fd_(fd) {
  }
  socket_fd(const socket_fd&) = delete;
  socket_fd& operator=(const socket_fd&) = delete;
  ~socket_fd() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  int get() const {
    return fd_;
  }
  /// Takes ownership of fd, closing the one held before.
  void reset(int fd) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = fd;
  }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

private:
  int fd_ = -1;
};

/// Milliseconds left until the deadline, at least 0.
int remaining_ms(clock_type::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

/// Waits for `events` on fd; "" when ready, else why not.
std::string wait_for(int fd, short events, clock_type::time_point deadline) {
  for (int i = 0; i < 100000; ++i) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0)
      return {};
    if (n == 0)
      return "timeout";
    if (errno != EINTR)
      return errno_text("poll");
  }
  return "poll kept being interrupted";
}

std::string connect_to(const std::string& host, uint16_t port, clock_type::time_point deadline,
                       socket_fd& out) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    return "not an IPv4 address: " + host;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return errno_text("socket");
  socket_fd sock(fd);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS)
      return errno_text("connect");
    if (auto err = wait_for(fd, POLLOUT, deadline); !err.empty())
      return "connect: " + err;
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0)
      return std::string("connect: ") + std::strerror(so_error);
  }
  out.reset(sock.release());
  return {};
}

/// Writes everything; a peer that closes early is reported but the caller may still read
/// the answer it sent (e.g. a 413 before the whole body arrived).
std::string write_all(int fd, std::string_view bytes, clock_type::time_point deadline) {
  size_t done = 0;
  while (done < bytes.size()) {
    if (auto err = wait_for(fd, POLLOUT, deadline); !err.empty())
      return "write: " + err;
    ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
        continue;
      return errno_text("write");
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

std::string trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t'))
    ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r'))
    --e;
  return std::string(s.substr(b, e - b));
}

std::optional<size_t> parse_size(const std::string& text, int base) {
  if (text.empty())
    return std::nullopt;
  size_t value = 0;
  for (char c : text) {
    int digit;
    if (c >= '0' && c <= '9')
      digit = c - '0';
    else if (base == 16 && c >= 'a' && c <= 'f')
      digit = c - 'a' + 10;
    else if (base == 16 && c >= 'A' && c <= 'F')
      digit = c - 'A' + 10;
    else
      return std::nullopt;
    if (value > (SIZE_MAX - static_cast<size_t>(digit)) / static_cast<size_t>(base))
      return std::nullopt;
    value = value * static_cast<size_t>(base) + static_cast<size_t>(digit);
  }
  return value;
}

/// Parses the status line and headers of `head` (without the blank line).
std::string parse_head(std::string_view head, http_response& out) {
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  // "HTTP/1.1 201 Created"
  if (status_line.substr(0, 5) != "HTTP/" || status_line.size() < 12)
    return "bad status line: " + std::string(status_line);
  auto code = parse_size(std::string(status_line.substr(9, 3)), 10);
  if (!code)
    return "bad status line: " + std::string(status_line);
  out.status = static_cast<int>(*code);
  out.headers.clear();
  while (eol != std::string_view::npos) {
    size_t start = eol + 2;
    eol = head.find("\r\n", start);
    std::string_view line = head.substr(start, eol == std::string_view::npos ? head.npos
                                                                            : eol - start);
    if (line.empty())
      continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos)
      return "bad header line: " + std::string(line);
    out.headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  return {};
}

/// Decodes a complete chunked body; nullopt while more bytes are needed, "" error on bad
/// framing is reported through `err`.
std::optional<std::string> decode_chunked(std::string_view data, std::string& err) {
  std::string body;
  size_t pos = 0;
  for (int i = 0; i < 1000000; ++i) {
    size_t eol = data.find("\r\n", pos);
    if (eol == std::string_view::npos)
      return std::nullopt;
    std::string size_text = trim(data.substr(pos, eol - pos));
    if (auto semi = size_text.find(';'); semi != std::string::npos)
      size_text.resize(semi);
    auto size = parse_size(size_text, 16);
    if (!size) {
      err = "bad chunk size: " + size_text;
      return std::nullopt;
    }
    pos = eol + 2;
    if (*size == 0) {
      // Trailers end with an empty line.
      if (data.find("\r\n", pos) == std::string_view::npos)
        return std::nullopt;
      return body;
    }
    if (data.size() < pos + *size + 2)
      return std::nullopt;
    body.append(data.substr(pos, *size));
    pos += *size + 2;
  }
  err = "too many chunks";
  return std::nullopt;
}

/// Reads one response; interim 1xx responses are skipped.
http_response read_response(int fd, clock_type::time_point deadline) {
  http_response out;
  std::string data;
  bool eof = false;
  auto read_more = [&]() -> std::string {
    if (auto err = wait_for(fd, POLLIN, deadline); !err.empty())
      return "read: " + err;
    char buf[65536];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
        return {};
      if (errno == ECONNRESET) {
        eof = true;
        return {};
      }
      return errno_text("read");
    }
    if (n == 0)
      eof = true;
    data.append(buf, static_cast<size_t>(n));
    return {};
  };
  for (int guard = 0; guard < 10000000; ++guard) {
    size_t head_end = data.find("\r\n\r\n");
    if (head_end == std::string::npos) {
      if (eof) {
        out.error = data.empty() ? "connection closed without a response"
                                 : "connection closed inside the response head";
        out.body = data;
        return out;
      }
      if (auto err = read_more(); !err.empty()) {
        out.error = err;
        return out;
      }
      continue;
    }
    if (auto err = parse_head(std::string_view(data).substr(0, head_end), out); !err.empty()) {
      out.error = err;
      return out;
    }
    std::string_view rest = std::string_view(data).substr(head_end + 4);
    if (out.status >= 100 && out.status < 200) {
      data = std::string(rest);
      continue;
    }
    if (out.status == 204 || out.status == 304) {
      out.body.clear();
      return out;
    }
    if (iequals(out.header("Transfer-Encoding"), "chunked")) {
      std::string err;
      if (auto body = decode_chunked(rest, err)) {
        out.body = std::move(*body);
        return out;
      }
      if (!err.empty()) {
        out.error = err;
        return out;
      }
    } else if (out.has_header("Content-Length")) {
      auto length = parse_size(out.header("Content-Length"), 10);
      if (!length) {
        out.error = "bad Content-Length: " + out.header("Content-Length");
        return out;
      }
      if (rest.size() >= *length) {
        out.body = std::string(rest.substr(0, *length));
        return out;
      }
    } else if (eof) {
      out.body = std::string(rest);
      return out;
    }
    if (eof) {
      out.error = "connection closed inside the body";
      out.body = std::string(rest);
      return out;
    }
    if (auto err = read_more(); !err.empty()) {
      out.error = err;
      return out;
    }
  }
  out.error = "response never ended";
  return out;
}

http_response exchange(const std::string& host, uint16_t port, std::string_view bytes,
                       std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  http_response out;
  socket_fd sock;
  if (auto err = connect_to(host, port, deadline, sock); !err.empty()) {
    out.error = err;
    return out;
  }
  // A server may answer (413) and close before it read everything: read its answer anyway.
  auto write_err = write_all(sock.get(), bytes, deadline);
  out = read_response(sock.get(), deadline);
  if (!out.ok() && !write_err.empty())
    out.error = write_err + "; then " + out.error;
  return out;
}

} // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
              return std::tolower(static_cast<unsigned char>(x))
                     == std::tolower(static_cast<unsigned char>(y));
            });
}

std::string http_response::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (iequals(k, name))
      return v;
  return {};
}

bool http_response::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](auto& kv) { return iequals(kv.first, name); });
}

nlohmann::json http_response::json() const {
  return nlohmann::json::parse(body, nullptr, false);
}

std::string http_response::error_code() const {
  nlohmann::json j = json();
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object())
    return {};
  auto& e = j["error"];
  if (!e.contains("code") || !e["code"].is_string())
    return {};
  return e["code"].get<std::string>();
}

std::string http_response::describe() const {
  std::string s;
  if (!ok())
    s += "transport error: " + error + "\n";
  s += "status " + std::to_string(status) + "\n";
  for (auto& [k, v] : headers)
    s += k + ": " + v + "\n";
  s += "\n";
  s += body.size() > 2000 ? body.substr(0, 2000) + "..." : body;
  return s;
}

http_client::http_client(uint16_t port, std::string host, std::chrono::milliseconds timeout)
  : port_(port), host_(std::move(host)), timeout_(timeout) {
}

http_response http_client::send(const http_request& req) const {
  std::string bytes = req.method + " " + req.target + " HTTP/1.1\r\n";
  auto has = [&](std::string_view name) {
    return std::any_of(req.headers.begin(), req.headers.end(),
                       [&](auto& kv) { return iequals(kv.first, name); });
  };
  if (!has("Host"))
    bytes += "Host: " + host_ + ":" + std::to_string(port_) + "\r\n";
  if (!has("Content-Length") && (!req.body.empty() || req.method == "POST"))
    bytes += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  if (!has("Connection"))
    bytes += "Connection: close\r\n";
  for (auto& [k, v] : req.headers)
    bytes += k + ": " + v + "\r\n";
  bytes += "\r\n";
  bytes += req.body;
  return exchange(host_, port_, bytes, timeout_);
}

http_response http_client::send_raw(std::string_view bytes) const {
  return exchange(host_, port_, bytes, timeout_);
}

http_response http_client::get(const std::string& target, header_list headers) const {
  return send({"GET", target, std::move(headers), {}});
}

http_response http_client::post(const std::string& target, std::string body,
                                header_list headers) const {
  bool typed = std::any_of(headers.begin(), headers.end(),
                           [](auto& kv) { return iequals(kv.first, "Content-Type"); });
  if (!typed)
    headers.emplace_back("Content-Type", "application/json");
  return send({"POST", target, std::move(headers), std::move(body)});
}

} // namespace ts::e2e
