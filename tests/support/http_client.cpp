#include "tests/support/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace ts::test_http {

struct tls_context {
  SSL_CTX* ctx = nullptr;
  ~tls_context() {
    SSL_CTX_free(ctx);
  }
};

namespace {

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

std::optional<size_t> parse_size(std::string_view text, int base) {
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

/// Decodes a complete chunked body and sets `used` to the bytes it took; nullopt while more
/// bytes are needed, or with `err` set on bad framing.
std::optional<std::string> decode_chunked(std::string_view data, std::string& err,
                                          size_t& used) {
  std::string body;
  size_t pos = 0;
  for (int i = 0; i < 1000000; ++i) {
    size_t eol = data.find("\r\n", pos);
    if (eol == std::string_view::npos)
      return std::nullopt;
    std::string_view size_text = data.substr(pos, eol - pos);
    size_text = trim(size_text.substr(0, size_text.find(';')));
    auto size = parse_size(size_text, 16);
    if (!size) {
      err = "bad chunk size: " + std::string(size_text);
      return std::nullopt;
    }
    pos = eol + 2;
    if (*size == 0) {
      // Trailers, if any, end with an empty line.
      size_t end = data.find("\r\n\r\n", pos - 2);
      if (end == std::string_view::npos)
        return std::nullopt;
      used = end + 4;
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

bool same_letter(char x, char y) {
  return ascii_lower(x) == ascii_lower(y);
}

bool icontains(std::string_view text, std::string_view word) {
  return std::search(text.begin(), text.end(), word.begin(), word.end(), same_letter)
         != text.end();
}

bool has_header(const header_list& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](auto& kv) { return iequals(kv.first, name); });
}

/// The bytes of a request, with Host and Content-Length added unless the caller set them.
/// Appended piece by piece: the bench formats one per request.
std::string format_request(const request& req, const std::string& host, uint16_t port) {
  std::string bytes;
  bytes.reserve(256 + req.target.size() + req.body.size());
  auto line = [&](std::string_view name, std::string_view value) {
    bytes.append(name).append(": ").append(value).append("\r\n");
  };
  bytes.append(req.method).append(" ").append(req.target).append(" HTTP/1.1\r\n");
  if (!has_header(req.headers, "Host"))
    line("Host", host + ":" + std::to_string(port));
  if (!has_header(req.headers, "Content-Length") && (!req.body.empty() || req.method == "POST"))
    line("Content-Length", std::to_string(req.body.size()));
  for (auto& [k, v] : req.headers)
    line(k, v);
  bytes.append("\r\n").append(req.body);
  return bytes;
}

request json_post(const std::string& target, std::string body, header_list headers) {
  if (!has_header(headers, "Content-Type"))
    headers.emplace_back("Content-Type", "application/json");
  return {"POST", target, std::move(headers), std::move(body)};
}

/// OpenSSL's queued errors as text, emptying the queue.
std::string openssl_errors() {
  std::string out;
  char buf[256];
  while (unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof buf);
    out += out.empty() ? buf : std::string{"; "} + buf;
  }
  return out;
}

} // namespace

std::shared_ptr<tls_context> make_tls_context(const tls_setup& setup, std::string& error) {
  auto out = std::make_shared<tls_context>();
  out->ctx = SSL_CTX_new(TLS_client_method());
  auto failed = [&](const char* what) {
    error = std::string{what} + ": " + openssl_errors();
    return nullptr;
  };
  if (out->ctx == nullptr)
    return failed("SSL_CTX_new");
  if (setup.min_version != 0 && SSL_CTX_set_min_proto_version(out->ctx, setup.min_version) != 1)
    return failed("min version");
  if (setup.max_version != 0 && SSL_CTX_set_max_proto_version(out->ctx, setup.max_version) != 1)
    return failed("max version");
  if (!setup.ciphers.empty() && SSL_CTX_set_cipher_list(out->ctx, setup.ciphers.c_str()) != 1)
    return failed("cipher list");
  if (!setup.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(out->ctx, setup.ca_file.c_str(), nullptr) != 1)
      return failed("CA file");
    SSL_CTX_set_verify(out->ctx, SSL_VERIFY_PEER, nullptr);
  }
  return out;
}

std::string parse_head(std::string_view head, response& out) {
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  // "HTTP/1.1 201 Created"
  if (status_line.substr(0, 5) != "HTTP/" || status_line.size() < 12)
    return "bad status line: " + std::string(status_line);
  auto code = parse_size(status_line.substr(9, 3), 10);
  if (!code)
    return "bad status line: " + std::string(status_line);
  out.status = static_cast<int>(*code);
  out.headers.clear();
  out.headers.reserve(8);
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
    std::string_view name = trim(line.substr(0, colon));
    std::string_view value = trim(line.substr(colon + 1));
    out.headers.emplace_back(std::string(name), std::string(value));
  }
  return {};
}

// -- response ---------------------------------------------------------------------------------

std::string response::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (iequals(k, name))
      return v;
  return {};
}

bool response::has_header(std::string_view name) const {
  return test_http::has_header(headers, name);
}

nlohmann::json response::json() const {
  return nlohmann::json::parse(body, nullptr, false);
}

std::string response::error_code() const {
  nlohmann::json j = json();
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object())
    return {};
  auto& e = j["error"];
  if (!e.contains("code") || !e["code"].is_string())
    return {};
  return e["code"].get<std::string>();
}

std::string response::describe() const {
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

// -- connection -------------------------------------------------------------------------------

connection::connection(uint16_t port, std::string host, std::chrono::milliseconds timeout,
                       std::shared_ptr<tls_context> tls)
  : port_(port), host_(std::move(host)), timeout_(timeout), tls_(std::move(tls)) {
}

connection::~connection() {
  close();
}

void connection::close() {
  if (ssl_ != nullptr)
    SSL_free(ssl_);
  ssl_ = nullptr;
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
  buf_.clear();
}

std::string connection::arm(clock_type::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - clock_type::now());
  if (left.count() <= 0)
    return "timeout";
  // Blocking calls with socket timeouts instead of poll: one system call a wait, which the
  // bench needs. Re-arming costs two more, so only when the socket's timeout would outlast
  // the deadline by an eighth of the whole, or is far shorter than what is left. A timeout
  // that fires before the deadline only makes the caller wait again.
  auto slack = std::max<std::chrono::microseconds>(timeout_ / 8, std::chrono::milliseconds(1));
  if (armed_ <= left + slack && armed_ * 2 >= left)
    return {};
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(left.count() / 1000000);
  tv.tv_usec = static_cast<suseconds_t>(left.count() % 1000000);
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  armed_ = left;
  return {};
}

std::string connection::open(clock_type::time_point deadline) {
  close();
  eof_ = false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  if (::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1)
    return "not an IPv4 address: " + host_;
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0)
    return errno_text("socket");
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  armed_ = std::chrono::microseconds{0};  // none yet: a new socket waits forever
  if (!arm(deadline).empty()) {
    close();
    return "connect: timeout";
  }
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    // A blocking connect that ran into SO_SNDTIMEO says EINPROGRESS.
    std::string err = errno == EINPROGRESS ? "connect: timeout" : errno_text("connect");
    close();
    return err;
  }
  if (tls_)
    if (auto err = handshake(deadline); !err.empty()) {
      close();
      return err;
    }
  return {};
}

std::string connection::handshake(clock_type::time_point deadline) {
  ERR_clear_error();
  ssl_ = SSL_new(tls_->ctx);
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1)
    return "tls handshake: " + openssl_errors();
  // The certificate must name the address dialled (an IP address in these tests).
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host_.c_str());
  for (;;) {
    if (!arm(deadline).empty())
      return "tls handshake: timeout";
    int r = SSL_connect(ssl_);
    if (r == 1)
      return {};
    int e = SSL_get_error(ssl_, r);
    // A blocking socket wants more only when its timeout ran out: arm() then decides.
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      continue;
    std::string why = openssl_errors();
    if (why.empty())
      why = e == SSL_ERROR_SYSCALL ? errno_text("closed") : "error " + std::to_string(e);
    return "tls handshake: " + why;
  }
}

long connection::send_some(const char* data, size_t n) {
  if (ssl_ == nullptr)
    return ::send(fd_, data, n, MSG_NOSIGNAL);
  ERR_clear_error();
  int r = SSL_write(ssl_, data, static_cast<int>(std::min<size_t>(n, 1 << 30)));
  if (r > 0)
    return r;
  int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
    errno = EAGAIN;
  else if (e != SSL_ERROR_SYSCALL || errno == 0)
    errno = ECONNRESET;
  return -1;
}

long connection::recv_some(char* data, size_t n) {
  if (ssl_ == nullptr)
    return ::recv(fd_, data, n, 0);
  ERR_clear_error();
  int r = SSL_read(ssl_, data, static_cast<int>(n));
  if (r > 0)
    return r;
  int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_ZERO_RETURN)
    return 0;  // the server's close_notify
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  // A close without close_notify, or a failure: the connection is over either way.
  errno = ECONNRESET;
  return -1;
}

std::string connection::write_all(std::string_view bytes, clock_type::time_point deadline) {
  size_t done = 0;
  while (done < bytes.size()) {
    if (!arm(deadline).empty())
      return "write: timeout";
    long n = send_some(bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
        continue;
      return errno_text("write");
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

std::string connection::fill(clock_type::time_point deadline) {
  char chunk[65536];
  for (;;) {
    if (!arm(deadline).empty())
      return "read: timeout";
    long n = recv_some(chunk, sizeof(chunk));
    if (n > 0) {
      buf_.append(chunk, static_cast<size_t>(n));
      got_bytes_ = true;
      return {};
    }
    if (n == 0 || errno == ECONNRESET) {
      eof_ = true;
      return {};
    }
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
      return errno_text("read");
  }
}

response connection::read(bool head, clock_type::time_point deadline) {
  response out;
  if (fd_ < 0) {
    out.error = eof_ ? "connection closed without a response" : "not connected";
    return out;
  }
  // Ends the exchange with an error; what came of the response stays in the body.
  auto fail = [&](std::string error, size_t body_at) {
    out.error = std::move(error);
    out.body = buf_.substr(std::min(body_at, buf_.size()));
    close();
    return out;
  };
  // Waits for more bytes; false (with the error set) when none can come.
  std::string err;
  auto more = [&](const char* ended) {
    if (eof_)
      err = ended;
    else
      err = fill(deadline);
    return err.empty();
  };
  for (int interim = 0; interim < 100; ++interim) {
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!more(buf_.empty() ? "connection closed without a response"
                             : "connection closed inside the response head"))
        return fail(err, 0);
    if (auto bad = parse_head(std::string_view(buf_).substr(0, head_end), out); !bad.empty())
      return fail(bad, 0);
    size_t at = head_end + 4;
    if (out.status >= 100 && out.status < 200) {
      buf_.erase(0, at);
      if (keep_interim_)
        return out;
      continue;
    }
    // The framing headers, found in one pass (the bench reads one response a request).
    const std::string* encoding = nullptr;
    const std::string* content_length = nullptr;
    const std::string* connection_header = nullptr;
    for (auto& [k, v] : out.headers) {
      if (!encoding && iequals(k, "Transfer-Encoding"))
        encoding = &v;
      else if (!content_length && iequals(k, "Content-Length"))
        content_length = &v;
      else if (!connection_header && iequals(k, "Connection"))
        connection_header = &v;
    }
    if (head || out.status == 204 || out.status == 304) {
      buf_.erase(0, at);
    } else if (encoding && iequals(*encoding, "chunked")) {
      for (;;) {
        size_t used = 0;
        if (auto body = decode_chunked(std::string_view(buf_).substr(at), err, used)) {
          out.body = std::move(*body);
          buf_.erase(0, at + used);
          break;
        }
        if (!err.empty() || !more("connection closed inside the body"))
          return fail(err, at);
      }
    } else if (content_length) {
      auto length = parse_size(*content_length, 10);
      if (!length)
        return fail("bad Content-Length: " + *content_length, at);
      while (buf_.size() - at < *length)
        if (!more("connection closed inside the body"))
          return fail(err, at);
      out.body = buf_.substr(at, *length);
      buf_.erase(0, at + *length);
    } else {
      // No framing: the body ends with the connection.
      while (!eof_)
        if (!more(""))
          return fail(err, at);
      out.body = buf_.substr(at);
      buf_.clear();
    }
    if (eof_ || (connection_header && icontains(*connection_header, "close")))
      close();
    return out;
  }
  return fail("too many interim responses", 0);
}

response connection::exchange(std::string_view bytes, bool head,
                              clock_type::time_point deadline) {
  got_bytes_ = false;
  if (fd_ < 0) {
    if (auto err = open(deadline); !err.empty()) {
      response out;
      out.error = err;
      return out;
    }
  }
  // A server may answer (413) and close before it read everything: read its answer anyway.
  auto write_err = write_all(bytes, deadline);
  response out = read(head, deadline);
  if (!out.ok() && !write_err.empty())
    out.error = write_err + "; then " + out.error;
  return out;
}

response connection::send(const request& req) {
  std::string bytes = format_request(req, host_, port_);
  bool head = req.method == "HEAD";
  bool reused = fd_ >= 0;
  response out = exchange(bytes, head, clock_type::now() + timeout_);
  // The server may close an idle kept-alive connection just as a request goes out: it
  // ended without a byte of an answer. Not after a timeout, which would only double it.
  if (!out.ok() && reused && eof_ && !got_bytes_ && req.method == "GET")
    out = exchange(bytes, head, clock_type::now() + timeout_);
  return out;
}

response connection::get(const std::string& target, header_list headers) {
  return send({"GET", target, std::move(headers), {}});
}

response connection::post(const std::string& target, std::string body, header_list headers) {
  return send(json_post(target, std::move(body), std::move(headers)));
}

std::string connection::send_bytes(std::string_view bytes) {
  auto deadline = clock_type::now() + timeout_;
  if (fd_ < 0)
    if (auto err = open(deadline); !err.empty())
      return err;
  return write_all(bytes, deadline);
}

response connection::read_response(bool head) {
  return read(head, clock_type::now() + timeout_);
}

response connection::exchange(std::string_view bytes) {
  return exchange(bytes, bytes.substr(0, 5) == "HEAD ", clock_type::now() + timeout_);
}

bool connection::closed_by_peer() {
  if (fd_ >= 0 && buf_.empty() && !eof_)
    fill(clock_type::now() + timeout_);
  return eof_ && buf_.empty();
}

// -- client -----------------------------------------------------------------------------------

client::client(uint16_t port, std::string host, std::chrono::milliseconds timeout,
               std::shared_ptr<tls_context> tls)
  : port_(port), host_(std::move(host)), timeout_(timeout), tls_(std::move(tls)) {
}

response client::send(const request& req) const {
  request closing = req;
  if (!has_header(closing.headers, "Connection"))
    closing.headers.emplace_back("Connection", "close");
  connection c{port_, host_, timeout_, tls_};
  return c.send(closing);
}

response client::send_raw(std::string_view bytes) const {
  connection c{port_, host_, timeout_, tls_};
  return c.exchange(bytes);
}

response client::get(const std::string& target, header_list headers) const {
  return send({"GET", target, std::move(headers), {}});
}

response client::post(const std::string& target, std::string body, header_list headers) const {
  return send(json_post(target, std::move(body), std::move(headers)));
}

} // namespace ts::test_http
