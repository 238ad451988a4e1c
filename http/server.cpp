// The only file that sees RESTinio. A request is turned into an api::request_view, decided
// by api::route, and either answered at once or handed to the gateway actor with a
// responder that completes it later from the actor's thread.
#include "http/server.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <fstream>
#include <mutex>
#include <string_view>
#include <variant>

#include <sys/resource.h>
#include <unistd.h>

#include <asio/ssl.hpp>
#include <caf/send.hpp>
#include <restinio/all.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "actors/interfaces.hpp"
#include "core/log.hpp"
#include "http/audit.hpp"
#include "http/gateway.hpp"
#include "http/guarded_socket.hpp"
#include "http/responses.hpp"
#include "http/routes.hpp"

namespace ts {

struct tls_credentials {
  std::shared_ptr<restinio::asio_ns::ssl::context> context;
};

namespace {

namespace asio = restinio::asio_ns;

// Multi-threaded strands, asio timers (safe across the pool's threads), and no logging:
// headers and bodies may carry secrets. The guarded socket judges each request from its
// head (guarded_socket.hpp).
struct traits : restinio::traits_t<restinio::asio_timer_manager_t, restinio::null_logger_t> {
  using stream_socket_t = api::guarded_socket;
};
using running_server = restinio::running_server_handle_t<traits>;

static_assert(api::route_count <= metrics::max_http_routes, "a route without a metric slot");

/// Anything past this is refused by RESTinio itself (connection closed); bodies between
/// api::max_body_bytes and this get a proper 413.
constexpr uint64_t hard_body_limit = 8 * 1024 * 1024;

/// Shared by the request handler, every responder and the http_server.
struct shared_state {
  /// Null: no authentication. Swapped whole by a reload; each request loads it once.
  std::shared_ptr<token_holder> tokens;
  /// Null: no audit (the server's own tests); else every non-GET request is recorded.
  std::shared_ptr<api::audit_log> audit;
  /// Where the actions go (the gateway actor, or a test's fake); reset once stopped.
  request_sink sink;
  std::shared_ptr<ts::metrics> metrics;
  /// Null: the process's zone.
  zone_ptr zone;
  int64_t max_output_bytes = 0;
  std::vector<std::string> allowed_run_as;
  std::atomic<bool> stopping{false};
  std::atomic<uint16_t> port{0};
  std::mutex mtx;
  std::condition_variable drained;
  /// Requests whose response is not yet written: stop() waits for none.
  size_t unanswered = 0;
  /// Of them, the admitted ones: at most max_in_flight. A shed request is not counted, or
  /// a flood of 503s being written would hold the slots and keep admitting nothing.
  size_t in_flight = 0;
  size_t max_in_flight = 0;
};

/// Counts a request from its arrival until its response is written (or can never be).
/// Admission and the count happen under one lock, so the bound is never passed.
class in_flight_ticket {
public:
  /// `bounded`: the request counts against --max-in-flight (everything but the probes).
  in_flight_ticket(std::shared_ptr<shared_state> st, bool bounded) : st_(std::move(st)) {
    std::lock_guard<std::mutex> guard{st_->mtx};
    ++st_->unanswered;
    admitted_ = !bounded || st_->in_flight < st_->max_in_flight;
    counted_ = bounded && admitted_;
    if (counted_)
      ++st_->in_flight;
  }
  in_flight_ticket(const in_flight_ticket&) = delete;
  in_flight_ticket& operator=(const in_flight_ticket&) = delete;
  ~in_flight_ticket() {
    std::lock_guard<std::mutex> guard{st_->mtx};
    if (counted_)
      --st_->in_flight;
    if (--st_->unanswered == 0)
      st_->drained.notify_all();
  }

  bool admitted() const {
    return admitted_;
  }

private:
  std::shared_ptr<shared_state> st_;
  bool admitted_ = true;
  bool counted_ = false;
};

std::string_view view(restinio::string_view_t s) {
  return {s.data(), s.size()};
}

/// Completes one request exactly once, from any thread (done() goes through the
/// connection's strand). If dropped unanswered (e.g. the gateway went away), it answers
/// 503 itself, so no client is left hanging.
class responder {
public:
  responder(std::shared_ptr<asio::io_context> io, std::shared_ptr<shared_state> st,
            restinio::request_handle_t req, bool close_connection, api::route_id route)
    : io_(std::move(io)),
      metrics_(st->metrics),
      ticket_(std::make_shared<in_flight_ticket>(
        std::move(st), route != api::route_id::healthz && route != api::route_id::readyz)),
      req_(std::move(req)),
      close_(close_connection),
      head_(req_->header().method() == restinio::http_method_head()),
      route_(route),
      arrived_(std::chrono::steady_clock::now()) {
  }
  responder(const responder&) = delete;
  responder& operator=(const responder&) = delete;

  /// False beyond --max-in-flight: the request is to be shed.
  bool admitted() const {
    return ticket_->admitted();
  }

  ~responder() {
    if (!replied_.load())
      reply(api::shutting_down());
  }

  void reply(http_response res) noexcept {
    if (replied_.exchange(true))
      return;
    auto took = std::chrono::steady_clock::now() - arrived_;
    if (metrics_)
      metrics_->http_request(static_cast<size_t>(route_), api::route_label(route_), res.status,
                             took);
    if (log::enabled(log::level::debug))
      log::debug("http_request",
                 {{"route", api::route_label(route_)}, {"status", res.status},
                  {"duration_us",
                   std::chrono::duration_cast<std::chrono::microseconds>(took).count()}});
    try {
      restinio::http_status_line_t line{
        restinio::http_status_code_t{static_cast<uint16_t>(res.status)},
        api::reason_phrase(res.status)};
      // The write group keeps the ticket until the bytes are out (or the connection is
      // gone): RESTinio calls this callback in either case.
      auto written = [t = std::move(ticket_)](const asio::error_code&) {};
      auto add_headers = [&](auto& rb) {
        for (auto& [name, value] : res.headers)
          rb.append_header(name, value);
        if (close_)
          rb.connection_close();
      };
      if (head_) {
        // A response to HEAD has no body (a client would read one as the next response),
        // and the Content-Length that the GET's would have (RFC 9110, 9.3.2).
        auto rb = req_->create_response<restinio::user_controlled_output_t>(std::move(line));
        add_headers(rb);
        rb.set_content_length(res.body.size());
        rb.done(std::move(written));
      } else {
        auto rb = req_->create_response(std::move(line));
        add_headers(rb);
        rb.set_body(std::move(res.body));
        rb.done(std::move(written));
      }
    } catch (...) {
      // The connection is already gone: nobody is left to answer.
    }
    ticket_.reset();
    req_.reset();
  }

private:
  // Keeps the io_context alive for as long as a request handle (whose socket belongs to
  // it) may be held by an actor, even after the server object is gone.
  std::shared_ptr<asio::io_context> io_;
  std::shared_ptr<ts::metrics> metrics_;
  std::shared_ptr<in_flight_ticket> ticket_;
  restinio::request_handle_t req_;
  bool close_;
  bool head_;
  api::route_id route_;
  std::chrono::steady_clock::time_point arrived_;
  std::atomic<bool> replied_{false};
};

/// Why the request is not one that every reader of HTTP/1.1 reads alike (RFC 9112, 5.1: no
/// white space between a field name and its colon), or null. RESTinio's parser keeps such a
/// name with its space. (RESTinio does not pass the request line's version on, so a request
/// without one is judged where the raw head is seen.)
const char* malformed(const restinio::http_request_header_t& h) {
  const char* bad = nullptr;
  h.for_each_field([&](const restinio::http_header_field_t& f) {
    if (f.name().find_first_of(" \t") != std::string::npos)
      bad = "a header field name must not contain white space (none before the colon)";
  });
  return bad;
}

/// Makes each of the pool's `threads` threads `nice` nicer than the thread that starts the
/// server (Linux keeps a niceness per thread), at most 19: relative, so that a service
/// started nice (systemd's Nice=, `nice -n`) never gets HTTP threads above the rest.
/// RESTinio starts the pool itself, so each thread is reached by a handler posted to it:
/// `threads` handlers that each wait until all have arrived must run on distinct threads.
/// Under a flood the HTTP threads would otherwise take the CPU from the coordinator, the
/// executors and the commands they start (children inherit their starter's niceness, and
/// those start on the actor threads), and from the admitted requests' own work.
void lower_priority(asio::io_context& io, size_t threads, int nice) {
  errno = 0;
  int base = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  if (errno != 0)
    base = 0;
  nice = std::min(19, base + nice);
  struct barrier {
    std::mutex m;
    std::condition_variable cv;
    size_t arrived = 0;
  };
  auto b = std::make_shared<barrier>();
  for (size_t i = 0; i < threads; ++i)
    asio::post(io, [b, threads, nice] {
      if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice) != 0)
        log::warn("http_nice_failed", {{"nice", nice}, {"error", std::strerror(errno)}});
      std::unique_lock<std::mutex> lock{b->m};
      ++b->arrived;
      b->cv.notify_all();
      b->cv.wait(lock, [&] { return b->arrived >= threads; });
    });
  std::unique_lock<std::mutex> lock{b->m};
  b->cv.wait(lock, [&] { return b->arrived >= threads; });
}

/// An answer decided inside RESTinio's handler call goes out after that call returns:
/// RESTinio 0.6.16 loses the requests pipelined behind one that is answered while its
/// handler still runs (the connection resumes reading twice), and keeps them when the
/// answer comes later, as every answer from the actors does.
void answer_later(const std::shared_ptr<asio::io_context>& io, std::shared_ptr<responder> r,
                  http_response res) {
  if (!io)
    return r->reply(std::move(res));
  asio::post(*io, [r = std::move(r), res = std::move(res)]() mutable {
    r->reply(std::move(res));
  });
}

std::optional<std::string_view> field(const restinio::http_request_header_t& h,
                                      const char* name) {
  if (auto value = h.try_get_field(name))
    return std::string_view{*value};
  return std::nullopt;
}

// The token set a request is judged by, loaded once for it. A holder without a set lets
// nobody in (start_http_server refuses one, and a reload never stores one).
std::shared_ptr<const token_set> current_tokens(const shared_state& st) {
  if (!st.tokens)
    return nullptr;
  if (auto set = st.tokens->get())
    return set;
  static const auto none = std::make_shared<const token_set>();
  return none;
}

// An audited request's fields, filled once at its arrival (api::audited).
api::audit_entry audit_fields(api::audit_log& log, const api::request_view& v,
                              const token_set* tokens, std::string remote) {
  api::audit_entry e;
  e.request = log.next_request();
  e.time = system_now_ms();
  if (auto* who = api::request_token(v, tokens))
    e.token = who->name;
  e.remote = std::move(remote);
  e.method = std::string{v.method};
  e.path = std::string{v.path};
  e.task = api::path_task_id(v.path);
  return e;
}

// Records a request's result, then answers it. `acted`: its intent was recorded and it was
// carried out, so a failed result line cannot take the answer back (the main log says so);
// otherwise nothing was done and a request that cannot be audited is refused with 503.
void fill_result(api::audit_entry& e, const http_response& res) {
  e.phase = api::audit_phase::result;
  e.time = system_now_ms();
  e.status = res.status;
  if (res.status == 201 && !e.task)
    if (auto* location = res.header("Location"))
      e.task = api::location_task_id(*location);
}

void answer_audited(const std::shared_ptr<shared_state>& st, api::audit_entry e,
                    const std::shared_ptr<responder>& r, http_response res, bool acted) {
  fill_result(e, res);
  st->audit->write(std::move(e), [r, res = std::move(res), acted](bool written) mutable {
    r->reply(written || acted ? std::move(res) : api::audit_unavailable());
  });
}

restinio::request_handling_status_t handle(const std::shared_ptr<shared_state>& st,
                                           const std::weak_ptr<asio::io_context>& weak_io,
                                           restinio::request_handle_t req) noexcept {
  std::shared_ptr<responder> r;
  auto io = weak_io.lock();
  try {
    bool stopping = st->stopping.load();
    auto& h = req->header();
    auto bad = malformed(h);
    r = std::make_shared<responder>(io, st, req, stopping || bad,
                                    api::classify(view(h.path())));
    // Shed here, after RESTinio has read the body (at most 1 MiB: a larger one is refused
    // from the head), rather than from the head: the connection stays open, so a shed
    // request costs neither side a reconnect. Probes are never shed (in_flight_ticket).
    // Nor is a shed request audited: it acts on nothing, and a flood of them would turn
    // into a flood of audit writes (the metrics count them).
    if (!r->admitted()) {
      answer_later(io, r, api::overloaded("too many requests in flight; try again later"));
      return restinio::request_accepted();
    }
    api::request_view v;
    v.method = h.method().c_str();
    v.path = view(h.path());
    v.query = view(h.query());
    v.body = req->body();
    v.content_type = field(h, "Content-Type");
    v.authorization = field(h, "Authorization");
    v.idempotency_key = field(h, "Idempotency-Key");
    v.if_match = field(h, "If-Match");
    auto tokens = current_tokens(*st);
    std::optional<api::audit_entry> audit;
    if (st->audit && api::audited(v.method))
      audit = audit_fields(*st->audit, v, tokens.get(),
                           api::endpoint_text(req->remote_endpoint()));
    auto act = bad ? api::action{api::error_response(
                   api::make_http_error(api::http_ec::malformed_request, bad))}
                   : api::route(v, tokens.get(), stopping, system_now_ms(),
                                st->metrics != nullptr, st->zone.get(),
                                api::v1_limits{st->max_output_bytes, nullptr,
                                               &st->allowed_run_as});
    bool durable = audit && st->audit->durable();
    if (auto res = std::get_if<http_response>(&act)) {
      // Answered without acting: one result line (a preview, a refusal).
      if (durable) {
        answer_audited(st, std::move(*audit), r, std::move(*res), false);
        return restinio::request_accepted();
      }
      if (audit) {
        fill_result(*audit, *res);
        st->audit->write(std::move(*audit));
      }
      answer_later(io, r, std::move(*res));
      return restinio::request_accepted();
    }
    if (!audit) {
      st->sink(std::move(act), [r](http_response res) { r->reply(std::move(res)); });
      return restinio::request_accepted();
    }
    if (!durable) {
      // To the main log: its result line only, written beside the answer.
      st->sink(std::move(act), [st, r, e = std::move(*audit)](http_response res) mutable {
        fill_result(e, res);
        st->audit->write(std::move(e));
        r->reply(std::move(res));
      });
      return restinio::request_accepted();
    }
    // It would act: its intent is written and synced first, and it is handed on only then.
    audit->phase = api::audit_phase::intent;
    auto pending = std::make_shared<api::action>(std::move(act));
    auto entry = *audit;
    st->audit->write(std::move(entry), [st, r, pending, e = std::move(*audit)](bool written) {
      if (!written) {
        answer_audited(st, e, r, api::audit_unavailable(), false);
        return;
      }
      st->sink(std::move(*pending), [st, r, e](http_response res) {
        answer_audited(st, e, r, std::move(res), true);
      });
    });
  } catch (...) {
    if (r)
      answer_later(io, r, api::error_response(caf::error{}));
  }
  return restinio::request_accepted();
}

// The guarded socket's judge: api::judge_head, and a request line without a version. Its
// refusals are logged and counted like the requests they stand for.
std::shared_ptr<api::guard_settings> make_guard(const server_options& opts,
                                                const std::shared_ptr<shared_state>& st) {
  auto g = std::make_shared<api::guard_settings>();
  if (opts.tls)
    g->tls = opts.tls->context;
  g->limits.max_body_bytes = api::max_body_bytes;
  g->header_timeout = opts.header_timeout;
  g->max_connections = opts.max_connections;
  std::weak_ptr<shared_state> weak = st;
  g->judge = [weak](const api::request_head& head) -> std::optional<http_response> {
    auto st = weak.lock();
    if (!st)
      return std::nullopt;
    // RESTinio's parser serves a request line without a version as HTTP/0.9 and does not
    // pass the version on: refused here, where the raw line is seen (RFC 9112, 3.2).
    if (head.version.rfind("HTTP/1.", 0) != 0)
      return api::error_response(api::make_http_error(
        api::http_ec::malformed_request,
        "the request line must name the HTTP version (HTTP/1.1)"));
    return api::judge_head(api::head_view(head), head.content_length,
                           current_tokens(*st).get(), st->stopping.load(),
                           st->metrics != nullptr);
  };
  // A refusal from the head acts on nothing: its result line is written without holding
  // the answer (the socket writes it at once). A refusal without a head has no method.
  g->refused = [weak](const api::request_head* head, const http_response& res,
                      std::string_view remote) {
    auto st = weak.lock();
    if (st && st->audit && head && api::audited(head->method)) {
      auto v = api::head_view(*head);
      auto tokens = current_tokens(*st);
      auto e = audit_fields(*st->audit, v, tokens.get(), std::string{remote});
      e.status = res.status;
      st->audit->write(std::move(e));
    }
    auto route = head ? api::classify(api::head_view(*head).path) : api::route_id::other;
    if (st && st->metrics)
      st->metrics->http_request(static_cast<size_t>(route), api::route_label(route),
                                res.status, std::chrono::nanoseconds{0});
    if (log::enabled(log::level::debug))
      log::debug("http_refused", {{"route", api::route_label(route)}, {"status", res.status}});
  };
  return g;
}

/// TLS 1.2 suites: forward-secret key exchange (ECDHE) and AEAD ciphers only, the
/// strongest first (the server's order wins). TLS 1.3 keeps OpenSSL's defaults, all AEAD.
constexpr const char* tls12_ciphers
  = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";

/// Why `path` cannot be opened for reading, or "": OpenSSL's own reason for a missing
/// file is less plain than errno's.
std::string unreadable(const std::string& path) {
  std::ifstream in{path};
  if (in)
    return "";
  return std::strerror(errno);
}

/// OpenSSL's reason for the latest failure, from asio's error code.
std::string openssl_reason(const asio::error_code& ec) {
  auto text = ec.message();
  return text.empty() ? "unknown OpenSSL error" : text;
}

} // namespace

caf::expected<std::shared_ptr<tls_credentials>>
load_tls_credentials(const std::string& cert_file, const std::string& key_file) {
  auto bad = [](std::string text) { return make_error(ec::invalid_argument, std::move(text)); };
  if (auto why = unreadable(cert_file); !why.empty())
    return bad("cannot read the TLS certificate file " + cert_file + ": " + why);
  if (auto why = unreadable(key_file); !why.empty())
    return bad("cannot read the TLS key file " + key_file + ": " + why);
  std::shared_ptr<asio::ssl::context> ctx;
  try {
    ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  } catch (const std::exception& e) {
    return bad(std::string{"cannot set up TLS: "} + e.what());
  }
  SSL_CTX* native = ctx->native_handle();
  // No SSLv3, TLS 1.0 or 1.1; no compression (CRIME); no renegotiation (a client could
  // make the server pay for handshakes on an open connection); the server's cipher order.
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
                                | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(native, tls12_ciphers) != 1)
    return bad("cannot set up TLS: OpenSSL knows none of the TLS 1.2 ciphers");
  // An encrypted key would make OpenSSL ask for its passphrase on the terminal: refused
  // instead, since a service cannot answer.
  ctx->set_password_callback(
    [](std::size_t, asio::ssl::context::password_purpose) { return std::string{}; });
  asio::error_code err;
  ctx->use_certificate_chain_file(cert_file, err);
  if (err)
    return bad("cannot load the TLS certificate chain from " + cert_file + " (PEM): "
               + openssl_reason(err));
  ctx->use_private_key_file(key_file, asio::ssl::context::pem, err);
  // OpenSSL checks the key against the certificate as it loads it.
  auto reason = err ? ERR_GET_REASON(static_cast<unsigned long>(err.value())) : 0;
  if (err && (reason == X509_R_KEY_VALUES_MISMATCH || reason == X509_R_KEY_TYPE_MISMATCH))
    return bad("the TLS private key in " + key_file + " does not match the certificate in "
               + cert_file);
  if (err)
    return bad("cannot load the TLS private key from " + key_file
               + " (PEM, not encrypted): " + openssl_reason(err));
  if (SSL_CTX_check_private_key(native) != 1)
    return bad("the TLS private key in " + key_file + " does not match the certificate in "
               + cert_file);
  ERR_clear_error();
  auto out = std::make_shared<tls_credentials>();
  out->context = std::move(ctx);
  return out;
}

struct http_server::impl {
  // Declared first: destroyed last, after the RESTinio server that runs on it.
  std::shared_ptr<asio::io_context> io;
  std::shared_ptr<shared_state> st;
  running_server server;
  std::chrono::milliseconds drain_timeout{};
  bool stopped = false;
};

http_server::http_server(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

http_server::~http_server() {
  stop();
}

uint16_t http_server::port() const {
  return impl_->st->port.load();
}

void http_server::reject_new_requests() {
  impl_->st->stopping = true;
}

void http_server::stop() {
  if (impl_->stopped)
    return;
  impl_->stopped = true;
  auto& st = *impl_->st;
  st.stopping = true;
  {
    std::unique_lock<std::mutex> guard{st.mtx};
    st.drained.wait_for(guard, impl_->drain_timeout, [&] { return st.unanswered == 0; });
  }
  // Not server->stop(): RESTinio 0.6.16 closes its acceptor on a strand while accepts
  // complete (and start the next accept) on any of the pool's threads, so a stop while
  // clients connect raced the two on the acceptor (ThreadSanitizer, then a crash in asio's
  // reactor: test_server_threads.cpp). Stopping the io_context lets every thread finish its
  // handler and joins them; the server's destructor then closes the acceptor with no thread
  // left to race it. Nothing is lost: the responses in flight were written above, and the
  // io_context stopped right after the acceptor's close before as well.
  impl_->io->stop();
  impl_->server->wait();
  impl_->server.reset();
  // The answers posted but not yet run (answer_later) hold their responder, which holds the
  // io_context: left in the stopped queue, they would keep it, and every connection, alive
  // for ever (LeakSanitizer, in a stop while clients send). Run what is ready once more on
  // this thread: with the acceptor closed and every new request refused with a close, it
  // comes to an end.
  impl_->io->restart();
  impl_->io->poll();
  // No handler runs any more: drop our reference to the gateway.
  st.sink = nullptr;
}

caf::expected<std::unique_ptr<http_server>> start_http_server(const server_options& opts,
                                                              caf::actor gateway) {
  if (!gateway)
    return make_error(ec::invalid_argument, "no gateway actor");
  // Each action as the gateway's message (gateway.hpp), sent from the handler's thread.
  return start_http_server(opts, [gateway](api::action act, reply_fn reply) {
    if (auto s = std::get_if<api::schedule_action>(&act))
      caf::anon_send(gateway, schedule_atom::value, std::move(s->task), std::move(reply));
    else if (auto q = std::get_if<api::status_action>(&act))
      caf::anon_send(gateway, caf::get_atom::value, q->id, std::move(reply));
    else if (auto a = std::get_if<api::v1_action>(&act))
      caf::anon_send(gateway, std::move(*a), std::move(reply));
    else if (std::holds_alternative<api::metrics_action>(act))
      caf::anon_send(gateway, stats_atom::value, std::move(reply));
    else
      caf::anon_send(gateway, ping_atom::value, std::move(reply));
  });
}

caf::expected<std::unique_ptr<http_server>> start_http_server(const server_options& opts,
                                                              request_sink sink) {
  if (!sink)
    return make_error(ec::invalid_argument, "no gateway");
  if (opts.threads == 0)
    return make_error(ec::invalid_argument, "the server needs at least one thread");
  asio::error_code addr_err;
  auto addr = asio::ip::make_address(opts.bind == "localhost" ? "127.0.0.1" : opts.bind,
                                     addr_err);
  if (addr_err)
    return make_error(ec::invalid_argument, "invalid bind address " + opts.bind);
  // A holder without a token would let nobody in: refused at the start rather than so.
  if (opts.tokens && (!opts.tokens->get() || opts.tokens->get()->tokens.empty()))
    return make_error(ec::invalid_argument, "the API token set is empty");
  auto p = std::make_unique<http_server::impl>();
  p->io = std::make_shared<asio::io_context>();
  p->st = std::make_shared<shared_state>();
  p->st->tokens = opts.tokens;
  p->st->audit = opts.audit;
  p->st->metrics = opts.metrics;
  p->st->zone = opts.default_time_zone;
  p->st->max_output_bytes = opts.max_output_bytes;
  p->st->allowed_run_as = opts.allowed_run_as;
  p->st->max_in_flight = opts.max_in_flight;
  p->st->sink = std::move(sink);
  p->drain_timeout = opts.drain_timeout;
  restinio::server_settings_t<traits> settings;
  auto st = p->st;
  // Weak: connections (owned by the io_context) hold the handler; a strong pointer would
  // be a cycle that keeps the io_context alive for ever.
  std::weak_ptr<asio::io_context> weak_io = p->io;
  settings.address(addr)
    .protocol(addr.is_v6() ? asio::ip::tcp::v6() : asio::ip::tcp::v4())
    .port(opts.port)
    .incoming_http_msg_limits(
      restinio::incoming_http_msg_limits_t{}.max_body_size(hard_body_limit))
    .handle_request_timeout(opts.handle_request_timeout)
    .read_next_http_message_timelimit(opts.idle_timeout)
    .guard(make_guard(opts, st))
    .acceptor_post_bind_hook([st](asio::ip::tcp::acceptor& acceptor) {
      st->port = acceptor.local_endpoint().port();
    })
    .request_handler([st, weak_io](restinio::request_handle_t req) {
      return handle(st, weak_io, std::move(req));
    });
  try {
    p->server = restinio::run_async<traits>(restinio::io_context_holder_t{p->io},
                                            std::move(settings), opts.threads);
  } catch (const std::exception& e) {
    return make_error(ec::invalid_argument, "cannot listen on " + opts.bind + ":"
                                              + std::to_string(opts.port) + ": " + e.what());
  }
  if (opts.nice > 0)
    lower_priority(*p->io, opts.threads, opts.nice);
  return std::make_unique<http_server>(std::move(p));
}

} // namespace ts
