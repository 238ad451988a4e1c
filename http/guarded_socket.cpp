#include "http/guarded_socket.hpp"

#include <array>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>

#include <asio/ssl.hpp>

#include "http/responses.hpp"

namespace ts::api {

namespace {

/// After a refusal the socket reads and drops what the client still sends, for at most
/// this long or this much: closing with unread bytes would reset the connection, and a
/// reset can destroy the answer before the client has read it (RFC 9112 9.6).
constexpr auto linger_time = std::chrono::seconds(2);
constexpr size_t linger_bytes = 64 * 1024 * 1024;

constexpr const char* continue_line = "HTTP/1.1 100 Continue\r\n\r\n";

using plain_stream = asio::ip::tcp::socket;
using tls_stream = asio::ssl::stream<asio::ip::tcp::socket>;

} // namespace

std::string serialize_refusal(const http_response& res) {
  std::string out = "HTTP/1.1 " + std::to_string(res.status) + " " + reason_phrase(res.status)
                    + "\r\n";
  for (auto& [name, value] : res.headers)
    out += name + ": " + value + "\r\n";
  out += "Content-Length: " + std::to_string(res.body.size()) + "\r\nConnection: close\r\n\r\n";
  out += res.body;
  return out;
}

// Every member is guarded by mtx: RESTinio calls in from its connection's strand, the
// socket's own writes and timers complete on any of the server's threads. RESTinio's
// handlers are called with mtx released (they call straight back in), on their executor.
//
// Stream is the plain TCP socket or the TLS stream over one; the plain instantiation is
// the code that served before TLS, unchanged. A TLS stream's OpenSSL state must never be
// touched from two threads at once, so under TLS every completion of ours is bound to the
// connection's strand too (RESTinio's already are), and every operation starts from it.
template <class Stream>
class guard_state final : public guard_core,
                          public std::enable_shared_from_this<guard_state<Stream>> {
public:
  static constexpr bool is_tls = std::is_same_v<Stream, tls_stream>;

  template <class... Args>
  guard_state(asio::io_context& io, std::shared_ptr<guard_settings> cfg, Args&... args)
    : stream(io, args...), timer(io), cfg(std::move(cfg)), scanner(this->cfg->limits) {
  }

  asio::ip::tcp::socket& lowest() override {
    if constexpr (is_tls)
      return stream.next_layer();
    else
      return stream;
  }

  bool tls() const override {
    return is_tls;
  }

  void activate() override {
    std::lock_guard<std::mutex> lock{mtx};
    counted = true;
    overloaded = ++cfg->connections > cfg->max_connections;
  }

  void handshake(asio::any_io_executor ex,
                 std::function<void(const asio::error_code&)> done) override {
    if constexpr (!is_tls) {
      asio::post(ex, [done = std::move(done)] { done({}); });
    } else {
      std::lock_guard<std::mutex> lock{mtx};
      own_ex = ex;
      // The header timeout runs from the connection's opening, handshake included: a
      // client that connects and never completes one is closed when it fires.
      arm_header_timer();
      handshaking = true;
      stream.async_handshake(
        asio::ssl::stream_base::server,
        asio::bind_executor(ex, [self = this->shared_from_this(),
                                 done = std::move(done)](const asio::error_code& ec) {
          auto out_ec = ec;
          {
            std::lock_guard<std::mutex> lock{self->mtx};
            self->handshaking = false;
            if (!out_ec && self->closed)
              out_ec = asio::error::operation_aborted;
          }
          done(out_ec);
        }));
    }
  }

  void read(asio::mutable_buffer buffer, guarded_socket::handler h) override {
    std::lock_guard<std::mutex> lock{mtx};
    if (first_read) {
      first_read = false;
      if (overloaded)
        refuse(api::overloaded("too many open connections; try again later"), nullptr);
      else if (!timer_armed)  // armed at the handshake under TLS
        arm_header_timer();
    }
    if (refusing || closed) {
      fail(std::move(h), asio::error::eof);
      return;
    }
    reading = true;
    auto ex = h.ex;
    stream.async_read_some(buffer, asio::bind_executor(ex, [self = this->shared_from_this(),
                                                           buffer,
                                                         h = std::move(h)](
                                                          const asio::error_code& ec,
                                                          size_t n) {
      auto out_ec = ec;
      size_t out_n = n;
      {
        std::lock_guard<std::mutex> lock{self->mtx};
        self->reading = false;
        if (self->refusing) {
          // Refused meanwhile (a header timeout cancelled the read): RESTinio ignores an
          // aborted read, but drops the connection on EOF.
          out_ec = asio::error::eof;
          out_n = 0;
        } else if (!ec) {
          out_n = self->scan(static_cast<const char*>(buffer.data()), n, out_ec);
        }
      }
      h.fn(out_ec, out_n);
    }));
  }

  void write(std::vector<asio::const_buffer> buffers, guarded_socket::handler h) override {
    std::lock_guard<std::mutex> lock{mtx};
    if (refusing || closed) {
      fail(std::move(h), asio::error::connection_aborted);
      return;
    }
    if (own_writing || !own_pending.empty()) {
      // Behind our 100 Continue: never two writes at once on the socket.
      queued_buffers = std::move(buffers);
      queued = std::move(h);
      return;
    }
    start_restinio_write(std::move(buffers), std::move(h));
  }

  void cancel(asio::error_code& ec) override {
    std::lock_guard<std::mutex> lock{mtx};
    // RESTinio cancels its read before a closing answer; our own write must not go with it.
    if (!refusing && !own_writing)
      lowest().cancel(ec);
  }

  // Of the TCP socket, as RESTinio's own TLS socket does: RESTinio calls it just before
  // close() (a closing answer is complete by then, and framed by its length).
  void shutdown(asio::socket_base::shutdown_type what, asio::error_code& ec) override {
    std::lock_guard<std::mutex> lock{mtx};
    if (!refusing)
      lowest().shutdown(what, ec);
  }

  /// RESTinio closes, or drops the socket: a refusal still being written closes itself.
  void close() override {
    std::lock_guard<std::mutex> lock{mtx};
    if (!refusing)
      close_now();
  }

  bool is_open() override {
    std::lock_guard<std::mutex> lock{mtx};
    return lowest().is_open();
  }

  Stream stream;

private:
  // -- with mtx held --------------------------------------------------------------------

  // A completion of our own: under TLS on the connection's strand (see the class comment).
  template <class F>
  auto own(F&& f) {
    if constexpr (is_tls)
      return asio::bind_executor(own_ex, std::forward<F>(f));
    else
      return std::forward<F>(f);
  }

  // Follows the framing of the bytes just read; returns how many RESTinio gets (fewer
  // when a request is refused: none of the refused one).
  size_t scan(const char* data, size_t n, asio::error_code& out_ec) {
    size_t pos = 0;
    size_t msg_begin = 0;  // where the current message began in this read (0: before it)
    while (pos < n && !scanner.opaque()) {
      if (scanner.between_messages())
        msg_begin = pos;
      auto step = scanner.feed({data + pos, n - pos});
      pos += step.used;
      switch (step.event) {
        case scan_event::head: {
          disarm_timer();
          auto& head = scanner.head();
          if (auto verdict = cfg->judge(head))
            return refuse_at(msg_begin, std::move(*verdict), &head, out_ec);
          // RFC 9110 10.1.1: not to HTTP/1.0 clients, and needless once the body comes.
          if (head.expect_continue && head.has_body() && head.version == "HTTP/1.1"
              && pos == n)
            send_own(continue_line);
          break;
        }
        case scan_event::head_too_large:
          return refuse_at(msg_begin,
                           header_too_large("the request head must be at most 100 fields "
                                            "and 16 KiB"),
                           nullptr, out_ec);
        case scan_event::body_too_large:
          return refuse_at(msg_begin, payload_too_large(), &scanner.head(), out_ec);
        case scan_event::unframed:
        case scan_event::need_more: break;
      }
    }
    if (scanner.in_head() && !timer_armed)
      arm_header_timer();
    return n;
  }

  size_t refuse_at(size_t msg_begin, http_response res, const request_head* head,
                   asio::error_code& out_ec) {
    refuse(std::move(res), head);
    // The earlier messages of this read still go to RESTinio; its next read fails.
    if (msg_begin == 0)
      out_ec = asio::error::eof;
    return msg_begin;
  }

  void refuse(http_response res, const request_head* head) {
    if (refusing || closed)
      return;
    refusing = true;
    disarm_timer();
    if (cfg->refused) {
      asio::error_code ec;
      auto peer = lowest().remote_endpoint(ec);
      cfg->refused(head, res, ec ? std::string{} : endpoint_text(peer));
    }
    close_after = true;
    send_own(serialize_refusal(res));
  }

  void send_own(std::string bytes) {
    own_pending += bytes;
    start_own_write();
  }

  // Only between RESTinio's writes: a response written in several pieces is never cut.
  void start_own_write() {
    if (own_writing || own_pending.empty() || restinio_writing || restinio_partial || closed)
      return;
    own_out = std::move(own_pending);
    own_pending.clear();
    own_writing = true;
    asio::async_write(stream, asio::buffer(own_out),
                      own([self = this->shared_from_this()](const asio::error_code& ec, size_t) {
                        std::lock_guard<std::mutex> lock{self->mtx};
                        self->own_written(ec);
                      }));
  }

  void own_written(const asio::error_code& ec) {
    own_writing = false;
    if (ec) {
      close_now();
      return;
    }
    if (!own_pending.empty()) {
      start_own_write();
    } else if (close_after) {
      linger();
    } else if (queued) {
      auto h = std::move(*queued);
      queued.reset();
      start_restinio_write(std::move(queued_buffers), std::move(h));
    }
  }

  void start_restinio_write(std::vector<asio::const_buffer> buffers, guarded_socket::handler h) {
    restinio_writing = true;
    size_t size = asio::buffer_size(buffers);
    auto ex = h.ex;
    stream.async_write_some(buffers, asio::bind_executor(ex, [self = this->shared_from_this(),
                                                              size,
                                                            h = std::move(h)](
                                                             const asio::error_code& ec,
                                                             size_t n) {
      {
        std::lock_guard<std::mutex> lock{self->mtx};
        self->restinio_writing = false;
        // asio::async_write goes on with the rest: our own bytes wait until it is done.
        self->restinio_partial = !ec && n < size;
        self->start_own_write();
      }
      h.fn(ec, n);
    }));
  }

  // Stops sending, drops what still comes, and closes at EOF or after linger_time.
  void linger() {
    if (queued) {
      fail(std::move(*queued), asio::error::connection_aborted);
      queued.reset();
    }
    lingering = true;
    arm_timer(linger_time);
    if constexpr (is_tls) {
      // A close_notify first, so that the client reads a clean end; marked as received,
      // so that the shutdown only writes it and never waits for the client's.
      SSL_set_shutdown(stream.native_handle(), SSL_RECEIVED_SHUTDOWN);
      stream.async_shutdown(own([self = this->shared_from_this()](const asio::error_code&) {
        std::lock_guard<std::mutex> lock{self->mtx};
        if (!self->closed)
          self->half_close_and_discard();
      }));
    } else {
      half_close_and_discard();
    }
  }

  void half_close_and_discard() {
    asio::error_code ignored;
    lowest().shutdown(asio::socket_base::shutdown_send, ignored);
    discard();
  }

  // From the TCP socket, also under TLS: the bytes are dropped unread.
  void discard() {
    lowest().async_read_some(asio::buffer(sink), own([self = this->shared_from_this()](
                                                       const asio::error_code& ec, size_t n) {
      std::lock_guard<std::mutex> lock{self->mtx};
      self->discarded += n;
      if (ec || self->closed || self->discarded > linger_bytes)
        self->close_now();
      else
        self->discard();
    }));
  }

  void arm_header_timer() {
    arm_timer(cfg->header_timeout);
  }

  void arm_timer(std::chrono::milliseconds after) {
    timer_armed = true;
    auto gen = ++timer_gen;
    timer.expires_after(after);
    timer.async_wait(own([self = this->shared_from_this(), gen](const asio::error_code& ec) {
      std::lock_guard<std::mutex> lock{self->mtx};
      if (!ec && gen == self->timer_gen && self->timer_armed)
        self->timer_fired();
    }));
  }

  void disarm_timer() {
    timer_armed = false;
    ++timer_gen;
    timer.cancel();
  }

  void timer_fired() {
    timer_armed = false;
    if (lingering || handshaking) {
      // No TLS session to answer 408 on: the handshake is cut off (it then fails).
      close_now();
      return;
    }
    // A response being written: RESTinio's own read time limit closes the connection.
    if (refusing || closed || restinio_writing || restinio_partial)
      return;
    refuse(request_timeout("the request head did not arrive in time"), nullptr);
    // Ends RESTinio's read (it then sees EOF); nothing of ours is in flight yet.
    if (reading) {
      asio::error_code ignored;
      lowest().cancel(ignored);
    }
  }

  void fail(guarded_socket::handler h, asio::error_code ec) {
    // Never from within the initiating call: asio's rule for completion handlers.
    asio::post(h.ex, [fn = std::move(h.fn), ec] { fn(ec, 0); });
  }

  void close_now() {
    if (closed)
      return;
    closed = true;
    disarm_timer();
    asio::error_code ignored;
    lowest().close(ignored);
    if (counted) {
      counted = false;
      --cfg->connections;
    }
    if (queued) {
      fail(std::move(*queued), asio::error::connection_aborted);
      queued.reset();
    }
  }

  std::mutex mtx;
  asio::steady_timer timer;
  std::shared_ptr<guard_settings> cfg;
  message_scanner scanner;
  bool counted = false;
  bool overloaded = false;
  bool first_read = true;
  /// A refusal is decided: RESTinio's reads and writes fail from now on.
  bool refusing = false;
  bool close_after = false;
  bool closed = false;
  bool lingering = false;
  bool reading = false;
  bool restinio_writing = false;
  bool restinio_partial = false;
  bool own_writing = false;
  std::string own_out;
  std::string own_pending;
  std::optional<guarded_socket::handler> queued;
  std::vector<asio::const_buffer> queued_buffers;
  bool timer_armed = false;
  uint64_t timer_gen = 0;
  /// TLS: the handshake is under way, and the strand every completion keeps to.
  bool handshaking = false;
  asio::any_io_executor own_ex;
  std::array<char, 4096> sink{};
  size_t discarded = 0;
};

guarded_socket::guarded_socket(asio::io_context& io, std::shared_ptr<guard_settings> settings)
  : st_(settings->tls ? std::shared_ptr<guard_core>{std::make_shared<guard_state<tls_stream>>(
          io, settings, *settings->tls)}
                      : std::make_shared<guard_state<plain_stream>>(io, settings)) {
}

guarded_socket& guarded_socket::operator=(guarded_socket&& other) noexcept {
  if (this != &other) {
    if (st_)
      st_->close();
    st_ = std::move(other.st_);
  }
  return *this;
}

guarded_socket::~guarded_socket() {
  if (st_)
    st_->close();
}

guarded_socket::socket_type& guarded_socket::lowest_layer() {
  return st_->lowest();
}

const guarded_socket::socket_type& guarded_socket::lowest_layer() const {
  return st_->lowest();
}

guarded_socket::executor_type guarded_socket::get_executor() {
  return st_->lowest().get_executor();
}

bool guarded_socket::is_open() const {
  return st_ && st_->is_open();
}

void guarded_socket::cancel(asio::error_code& ec) {
  st_->cancel(ec);
}

void guarded_socket::shutdown(asio::socket_base::shutdown_type what, asio::error_code& ec) {
  st_->shutdown(what, ec);
}

void guarded_socket::close() {
  st_->close();
}

void guarded_socket::close(asio::error_code& ec) {
  ec = {};
  st_->close();
}

void guarded_socket::activate() {
  st_->activate();
}

bool guarded_socket::tls() const {
  return st_->tls();
}

void guarded_socket::handshake(asio::any_io_executor ex,
                               std::function<void(const asio::error_code&)> done) {
  st_->handshake(std::move(ex), std::move(done));
}

void guarded_socket::read(asio::mutable_buffer buffer, handler h) {
  st_->read(buffer, std::move(h));
}

void guarded_socket::write(std::vector<asio::const_buffer> buffers, handler h) {
  st_->write(std::move(buffers), std::move(h));
}

} // namespace ts::api
