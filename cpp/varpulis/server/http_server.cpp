// SPDX-License-Identifier: Apache-2.0
// The only translation unit that includes Beast (slow to compile: keep it that way).
#include "varpulis/server/http_server.hpp"
#include "varpulis/server/json_http.hpp"

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <sys/resource.h>

#include "varpulis/common/log.hpp"
#include "varpulis/server/prometheus_text.hpp"
#include "varpulis/server/write_now.hpp"

namespace varpulis::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using common::ErrorCode;
using common::Result;
using common::Status;

namespace {

size_t handler_threads(int requested) {
    if (requested > 0) return static_cast<size_t>(requested);
    return std::max(2u, std::thread::hardware_concurrency());
}

/// Run `io` until it stops. With busy polling, after handlers ran the thread polls (a
/// non-blocking epoll_wait) for up to `spin` before it blocks in the kernel again.
void run_io(asio::io_context& io, std::chrono::microseconds spin) {
    if (spin.count() <= 0) {
        io.run();
        return;
    }
    while (!io.stopped()) {
        if (io.run_one() == 0) return;  // stopped, or out of work
        auto until = std::chrono::steady_clock::now() + spin;
        while (!io.stopped() && std::chrono::steady_clock::now() < until) {
            if (io.poll() > 0) until = std::chrono::steady_clock::now() + spin;
        }
    }
}

}  // namespace

class HttpServer::Impl {
  public:
    // Counters first: sessions destroyed with the io_context still decrement them.
    std::atomic<size_t> connections{0};
    std::atomic<size_t> in_flight{0};
    std::atomic<bool> stopping{false};
    HttpServerOptions options;
    HttpHandler handler;
    // Before the io_contexts too: a session destroyed with them releases its client's slot.
    std::shared_ptr<ConnectionCounters> counters;
    std::mutex clients_mutex;
    std::unordered_map<std::string, size_t> clients;  ///< open connections by client address
    log::Throttle refusals_log{std::chrono::seconds(10)};
    /// One io_context per I/O thread, each connection on one of them for its life: a thread
    /// that runs a shared io_context wakes another to wait on the socket while it runs a handler,
    /// a second wake-up per event (measured: 1 connection 39,600 req/s with two threads on one
    /// context, 47,300 with one).
    std::vector<std::unique_ptr<asio::io_context>> iocs;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;  ///< until stop
    size_t next_ioc = 0;  ///< the context of the next connection (round robin); the acceptor's thread only
    std::optional<ssl::context> tls;
    std::optional<tcp::acceptor> acceptor;
    std::optional<asio::steady_timer> accept_retry;  ///< after an accept error, on the acceptor's thread
    asio::thread_pool workers;
    std::vector<std::thread> io_threads;
    uint16_t port = 0;

    explicit Impl(HttpServerOptions o, HttpHandler h)
        : options(std::move(o)),
          handler(std::move(h)),
          counters(options.counters ? options.counters : std::make_shared<ConnectionCounters>()),
          workers(handler_threads(options.worker_threads)) {
        for (int i = 0; i < std::max(1, options.io_threads); ++i) {
            iocs.push_back(std::make_unique<asio::io_context>(1));
            keep_running.push_back(asio::make_work_guard(*iocs.back()));
        }
        acceptor.emplace(*iocs[0]);
        accept_retry.emplace(*iocs[0]);
    }

    void accept();
    void accept_again_after(const beast::error_code& ec);

    /// How a new connection from `client` is taken.
    enum class Admission { Serve, ProbesOnly, Refuse };
    Admission admit(const std::string& client);
    /// A connection admitted for `client` closed.
    void release(const std::string& client);
};

namespace {

std::map<std::string, std::string> parse_query(std::string_view q) {
    std::map<std::string, std::string> out;
    auto decode = [](std::string_view s) {
        std::string r;
        for (size_t i = 0; i < s.size(); ++i) {
            if (s[i] == '+') {
                r += ' ';
            } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
                       std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
                r += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
                i += 2;
            } else {
                r += s[i];
            }
        }
        return r;
    };
    while (!q.empty()) {
        size_t amp = q.find('&');
        std::string_view pair = q.substr(0, amp);
        size_t eq = pair.find('=');
        out[decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        q.remove_prefix(amp + 1);
    }
    return out;
}

/// One connection. Derived is the concrete stream owner (plain TCP or TLS), as in Beast's
/// "advanced server flex" example; the request logic lives here once. Executor is the io_context's
/// own executor with one I/O thread, a strand of it with more: typed, not Asio's type-erased
/// any_io_executor, whose copies and calls were a tenth of the instructions per request.
template <class Derived, class Executor>
class Session {
  public:
    static constexpr size_t kReadChunk = 64 * 1024;
    using Timer = asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Executor>;

    Session(HttpServer::Impl& server, const Executor& executor, std::string client, bool probes_only)
        : server_(server), client_(std::move(client)), probes_only_(probes_only), deadline_(executor) {
        ++server_.connections;
        ++server_.counters->open;
        // Beast reads at most the buffer's free capacity per read (512 bytes at first), and the
        // parser drains the buffer into the body, so a large body arrived in ~500-byte reads, each
        // with a timer re-arm and a strand hop: 15,000 reads for a 6.4 MB batch.
        buffer_.reserve(kReadChunk);
    }
    ~Session() {
        server_.release(client_);
        --server_.counters->open;
        --server_.connections;
    }

    Derived& derived() { return static_cast<Derived&>(*this); }

    void read_request() {
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(server_.options.header_limit));
        // Beast checks Content-Length against the body limit as the header arrives, before the
        // path is known: on_header checks it against the route's limit instead.
        parser_->body_limit(boost::none);
        // First request: its headers within the header timeout (a probe-only connection's within
        // 2 s), then the whole request within the request timeout (on_deadline moves it); a later
        // one on a kept-alive connection, within the idle timeout (its wait and its bytes together).
        if (first_) {
            reading_headers_ = true;
            request_began_ = std::chrono::steady_clock::now();
            const auto header_timeout = probes_only_ ? std::chrono::seconds(2) : server_.options.connections.header_timeout;
            set_deadline(std::min(header_timeout, server_.options.request_timeout));
        } else {
            set_deadline(server_.options.idle_timeout);
        }
        first_ = false;
        http::async_read_header(derived().stream(), buffer_, *parser_,
                                beast::bind_front_handler(&Session::on_header, derived().shared_from_this()));
    }

    // The body limit depends on the route (restore takes far more than a deploy), so it is set
    // once the headers name the path, and a body past it is refused before it is read.
    void on_header(beast::error_code ec, std::size_t bytes) {
        if (ec) return on_read(ec, bytes);
        std::string_view target = parser_->get().target();
        const size_t limit = server_.options.body_limit(target.substr(0, target.find('?')));
        if (auto length = parser_->content_length(); length && *length > limit) {
            unread_body_ = true;
            return send_error(413, "payload_too_large",
                              "request body of " + std::to_string(*length) + " bytes exceeds the limit of " + std::to_string(limit) + " bytes",
                              false);
        }
        parser_->body_limit(limit);  // a chunked body is counted as it comes, and refused in on_read
        http::async_read(derived().stream(), buffer_, *parser_,
                         beast::bind_front_handler(&Session::on_read, derived().shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t) {
        reading_headers_ = false;
        if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted || timed_out_ || server_.stopping) {
            return derived().close();
        }
        if (ec == http::error::body_limit) {
            unread_body_ = true;
            return send_error(413, "payload_too_large", "request body is larger than the limit", false);
        }
        if (ec == http::error::header_limit) {
            return send_error(431, "headers_too_large", "request headers are larger than 16 KiB", false);
        }
        if (ec) return send_error(400, "bad_request", "malformed HTTP request: " + ec.message(), false);
        auto& msg = parser_->get();
        HttpRequest req;
        req.method = std::string(msg.method_string());
        req.target = std::string(msg.target());
        size_t q = req.target.find('?');
        req.path = req.target.substr(0, q);
        if (q != std::string::npos) req.query = parse_query(std::string_view(req.target).substr(q + 1));
        req.headers.reserve(8);
        for (const auto& field : msg) {
            std::string name(field.name_string());
            // ASCII only, as HTTP field names are; libc's tolower consults the locale per byte.
            for (char& c : name) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
            req.headers.emplace_back(std::move(name), field.value());
        }
        req.body = std::move(msg.body());
        req.client = client_;
        keep_alive_ = msg.keep_alive() && !probes_only_;
        version_ = msg.version();
        if (probes_only_ && !req.is_probe() && !(req.method == "GET" && req.path == "/metrics")) {
            return send_error(503, "too_many_connections",
                              "the server is at its connection limit: only GET /health, /ready and /metrics are answered", false);
        }
        clear_deadline();  // the handler may take its time
        ++server_.in_flight;
        answer_pending_ = true;
        ++request_number_;
        auto self = derived().shared_from_this();
        // dispatch, not post: a response produced on an I/O thread (the fast path, a forward's
        // completion) is written at once on that thread instead of waking another one to do it.
        // A responder answers its own request only: a second answer that arrives after the next
        // request was read must not be taken for that request's.
        HttpResponder respond = [self, number = request_number_](HttpResponse response) {
            asio::dispatch(self->derived().stream().get_executor(), [self, number, response = std::move(response)]() mutable {
                if (number == self->request_number_) self->write(std::move(response));
            });
        };
        if (server_.options.fast_path) {
            try {
                if (server_.options.fast_path(req, respond)) return;
            } catch (const std::exception& e) {
                return respond(internal_error_response(e));
            }
        }
        asio::post(server_.workers, [self, respond = std::move(respond), req = std::move(req)]() mutable {
            try {
                self->server_.handler(req, respond);
            } catch (const std::exception& e) {
                respond(internal_error_response(e));
            }
        });
    }

    void send_error(int status, const std::string& code, const std::string& message, bool keep_alive) {
        keep_alive_ = keep_alive;
        ++server_.in_flight;
        answer_pending_ = true;
        write(error_response(status, code, message));
    }

    void write(HttpResponse response) {
        // One answer per request: a handler that answered and then threw is answered once, and
        // the write in progress keeps its buffers.
        if (!answer_pending_) return;
        answer_pending_ = false;
        --server_.in_flight;
        if (response.sse) return start_sse(std::move(response));
        bool keep_alive = keep_alive_ && !server_.stopping;
        // The head is written by hand and sent with the body in one gathered write: Beast's
        // serializer walks its buffer views per byte range and cost more than the syscall.
        // The session owns what is being written: it lives until the write completes.
        out_head_ = response_head(response, keep_alive);
        out_body_ = std::move(response.body);
        set_deadline(server_.options.request_timeout);
        std::array<asio::const_buffer, 2> buffers{asio::buffer(out_head_), asio::buffer(out_body_)};
        if constexpr (Derived::kPlain) {  // a TLS write goes through OpenSSL's records
            beast::error_code ec;
            buffers = write_now(derived().socket(), buffers, ec);
            if (ec) return on_write(ec, true);
            if (asio::buffer_size(buffers) == 0) return on_write({}, !keep_alive);
        }
        asio::async_write(derived().stream(), buffers, [self = derived().shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
            self->on_write(ec, !keep_alive);
        });
    }

    std::string response_head(const HttpResponse& response, bool keep_alive) const {
        std::string head;
        head.reserve(160 + response.content_type.size());
        head += version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
        head += std::to_string(response.status);
        head += ' ';
        head += http::obsolete_reason(static_cast<http::status>(response.status));
        head += "\r\nServer: varpulis\r\nContent-Type: ";
        head += response.content_type;
        head += "\r\n";
        for (const auto& [k, v] : response.headers) {
            head += k;
            head += ": ";
            head += v;
            head += "\r\n";
        }
        head += "Content-Length: ";
        head += std::to_string(response.body.size());
        head += "\r\n";
        if (!keep_alive && version_ != 10) head += "Connection: close\r\n";
        if (keep_alive && version_ == 10) head += "Connection: keep-alive\r\n";
        head += "\r\n";
        return head;
    }

    void on_write(beast::error_code ec, bool close) {
        out_body_ = {};  // an idle connection keeps no answer
        if (!ec && close && unread_body_ && Derived::kPlain) return linger();
        if (ec || close) return derived().close();
        read_request();
    }

    // A refused body may still be on its way: closing now would reset the connection, and the
    // client would see a broken pipe, not the 413. Its remaining bytes are read and dropped for
    // up to 2 s or 64 MiB (a lingering close), then the connection closes.
    void linger() {
        lingering_ = true;
        beast::error_code ignored;
        derived().socket().shutdown(tcp::socket::shutdown_send, ignored);
        set_deadline(std::chrono::seconds(2));
        if (!discard_) discard_ = std::make_unique<std::array<char, 16384>>();
        drain_some(0);
    }
    void drain_some(size_t drained) {
        if (drained > (size_t{64} << 20)) return derived().close();
        derived().socket().async_read_some(asio::buffer(*discard_), [self = derived().shared_from_this(), drained](beast::error_code ec, std::size_t n) {
            if (ec) return self->derived().close();
            self->drain_some(drained + n);
        });
    }

    // ---- Deadlines: one timer per connection. Each phase (reading a request, writing an answer)
    // moves the deadline; the timer is re-armed only when the new deadline is earlier than the
    // one it waits for, and when it fires early it waits again for the current one. Under a steady
    // keep-alive load it is never re-armed: Beast's per-operation timers cost two timer insertions
    // per request, and a kernel timer update (timerfd_settime) whenever one became the earliest.
    void set_deadline(std::chrono::steady_clock::duration timeout) {
        deadline_at_ = std::chrono::steady_clock::now() + timeout;
        if (deadline_waiting_ && deadline_.expiry() <= deadline_at_) return;
        wait_for_deadline();  // a later pending wait ends with operation_aborted
    }

    void wait_for_deadline() {
        deadline_.expires_at(deadline_at_);
        deadline_waiting_ = true;
        deadline_.async_wait([self = derived().shared_from_this()](beast::error_code ec) { self->on_deadline(ec); });
    }

    void clear_deadline() { deadline_at_ = std::chrono::steady_clock::time_point::max(); }

    /// Called by close(): a pending wait would hold the session until it expires.
    void cancel_deadline() {
        clear_deadline();
        deadline_.cancel();
        deadline_waiting_ = false;  // the cancelled wait ends with operation_aborted
    }

    void on_deadline(beast::error_code ec) {
        if (ec == asio::error::operation_aborted) return;  // re-armed, or the connection closed
        deadline_waiting_ = false;
        if (deadline_at_ == std::chrono::steady_clock::time_point::max()) return;  // a handler runs: no deadline
        if (reading_headers_ && parser_ && parser_->is_header_done()) {
            reading_headers_ = false;  // the headers are in: the body has the rest of the request timeout
            deadline_at_ = request_began_ + server_.options.request_timeout;
        }
        if (std::chrono::steady_clock::now() < deadline_at_) return wait_for_deadline();
        // Closing the socket ends the pending read or write, whose handler then closes the session.
        if (!lingering_) ++(reading_headers_ ? server_.counters->header_timeouts : server_.counters->request_timeouts);
        timed_out_ = true;
        beast::error_code ignored;
        derived().socket().close(ignored);
    }

    // ---- Server-Sent Events: headers once, then `data:` lines as they come, until closed.
    void start_sse(HttpResponse response) {
        sse_ = std::move(response.sse);
        auto header = std::make_shared<std::string>(
            "HTTP/1.1 200 OK\r\nServer: varpulis\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            "Connection: close\r\n\r\n: connected\n\n");
        auto self = derived().shared_from_this();
        std::weak_ptr<Derived> weak = self;
        sse_->set_notifier([weak] {
            if (auto s = weak.lock()) asio::post(s->derived().stream().get_executor(), [s] { s->pump_sse(); });
        });
        begin_sse_write();
        asio::async_write(derived().stream(), asio::buffer(*header), [self, header](beast::error_code ec, std::size_t) {
            self->end_sse_write();
            if (ec) return self->end_sse();
            self->keep_alive_timer();
            self->pump_sse();
        });
    }

    void keep_alive_timer() {
        timer_ = std::make_unique<Timer>(derived().stream().get_executor(), std::chrono::seconds(15));
        timer_->async_wait([self = derived().shared_from_this()](beast::error_code ec) {
            if (ec || !self->sse_) return;
            self->pending_ += ": keep-alive\n\n";
            self->pump_sse();
            self->keep_alive_timer();
        });
    }

    void pump_sse() {
        if (!sse_ || writing_) return;
        std::vector<std::string> items;
        bool open = sse_->take(items) && !server_.stopping;
        for (auto& item : items) pending_ += "data: " + item + "\n\n";
        if (pending_.empty()) {
            if (!open) end_sse();
            return;
        }
        auto out = std::make_shared<std::string>(std::move(pending_));
        pending_.clear();
        begin_sse_write();
        asio::async_write(derived().stream(), asio::buffer(*out), [self = derived().shared_from_this(), out](beast::error_code ec, std::size_t) {
            self->end_sse_write();
            if (ec) return self->end_sse();
            self->pump_sse();
        });
    }

    // A stream's write has the request timeout, as an answer's has: a client that stops reading
    // is closed instead of holding its session (and its unsent lines) for ever.
    void begin_sse_write() {
        writing_ = true;
        set_deadline(server_.options.request_timeout);
    }
    void end_sse_write() {
        writing_ = false;
        clear_deadline();
    }

    void end_sse() {
        if (timer_) timer_->cancel();
        if (sse_) sse_->set_notifier(nullptr);
        sse_.reset();
        derived().close();
    }

  protected:
    HttpServer::Impl& server_;
    const std::string client_;  ///< the peer's address
    const bool probes_only_;    ///< accepted past max_connections: answers probes, then closes
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    bool keep_alive_ = false;
    unsigned version_ = 11;
    bool first_ = true;
    bool answer_pending_ = false;  ///< a request was read and is not answered yet
    uint64_t request_number_ = 0;  ///< of the last request handed to a handler; I/O thread only
    bool reading_headers_ = false;  ///< a new connection's first request, its headers not complete yet
    bool unread_body_ = false;      ///< a body was refused before it was read (see linger)
    bool lingering_ = false;
    std::unique_ptr<std::array<char, 16384>> discard_;  ///< where a lingering close drops bytes
    std::chrono::steady_clock::time_point request_began_;
    std::string out_head_, out_body_;  ///< the response being written
    std::shared_ptr<SseChannel> sse_;
    std::unique_ptr<Timer> timer_;
    Timer deadline_;
    std::chrono::steady_clock::time_point deadline_at_ = std::chrono::steady_clock::time_point::max();
    bool deadline_waiting_ = false;
    bool timed_out_ = false;
    std::string pending_;
    bool writing_ = false;
};

template <class Executor>
class PlainSession : public Session<PlainSession<Executor>, Executor>, public std::enable_shared_from_this<PlainSession<Executor>> {
  public:
    using Socket = asio::basic_stream_socket<tcp, Executor>;
    static constexpr bool kPlain = true;
    PlainSession(HttpServer::Impl& server, Socket socket, std::string client, bool probes_only)
        : Session<PlainSession, Executor>(server, socket.get_executor(), std::move(client), probes_only), socket_(std::move(socket)) {}
    Socket& stream() { return socket_; }
    Socket& socket() { return socket_; }
    void run() {
        beast::error_code ec;
        socket_.set_option(tcp::no_delay(true), ec);
        socket_.non_blocking(true, ec);  // for write_now
        asio::dispatch(socket_.get_executor(), [self = this->shared_from_this()] { self->read_request(); });
    }
    void close() {
        this->cancel_deadline();
        beast::error_code ec;
        socket_.shutdown(tcp::socket::shutdown_send, ec);
        socket_.close(ec);
    }

  private:
    Socket socket_;
};

template <class Executor>
class TlsSession : public Session<TlsSession<Executor>, Executor>, public std::enable_shared_from_this<TlsSession<Executor>> {
  public:
    using Socket = asio::basic_stream_socket<tcp, Executor>;
    static constexpr bool kPlain = false;
    TlsSession(HttpServer::Impl& server, Socket socket, ssl::context& ctx, std::string client, bool probes_only)
        : Session<TlsSession, Executor>(server, socket.get_executor(), std::move(client), probes_only), stream_(std::move(socket), ctx) {}
    ssl::stream<Socket>& stream() { return stream_; }
    Socket& socket() { return stream_.next_layer(); }
    void run() {
        asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
            self->set_deadline(std::min(self->server_.options.connections.header_timeout, self->server_.options.request_timeout));
            self->stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
                if (ec) return self->close();
                self->read_request();
            });
        });
    }
    void close() {
        if (closing_) return;
        closing_ = true;
        // The TLS goodbye gets 2 s; then, or on any error, the socket is closed.
        this->set_deadline(std::chrono::seconds(2));
        stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
            self->cancel_deadline();
            beast::error_code ec;
            self->socket().close(ec);
        });
    }

  private:
    ssl::stream<Socket> stream_;
    bool closing_ = false;
};

}  // namespace

void HttpServer::Impl::accept() {
    // The socket comes bound to the executor given to async_accept, and typed on it.
    auto on_accept = [this](beast::error_code ec, auto socket) {
        using Executor = typename decltype(socket)::executor_type;
        if (stopping || ec == asio::error::operation_aborted) return;
        if (ec) return accept_again_after(ec);
        beast::error_code peer_error;
        const auto peer = socket.remote_endpoint(peer_error);
        std::string client = peer_error ? std::string() : peer.address().to_string();
        const Admission admission = admit(client);
        const bool probes_only = admission == Admission::ProbesOnly;
        if (admission == Admission::Refuse) {
            beast::error_code ignored;
            socket.close(ignored);
        } else if (tls) {
            std::make_shared<TlsSession<Executor>>(*this, std::move(socket), *tls, std::move(client), probes_only)->run();
        } else {
            std::make_shared<PlainSession<Executor>>(*this, std::move(socket), std::move(client), probes_only)->run();
        }
        accept();
    };
    // A connection's handlers must not run concurrently: its io_context has one thread (handler
    // threads hand their answers over through it), so no strand is needed.
    asio::io_context& home = *iocs[next_ioc++ % iocs.size()];
    acceptor->async_accept(home.get_executor(), std::move(on_accept));
}

void HttpServer::Impl::accept_again_after(const beast::error_code& ec) {
    // Out of descriptors (EMFILE) the pending connection stays in the backlog: accepting again
    // at once would spin. Accepting stops for nothing: the next attempt comes 50 ms later.
    ++counters->accept_errors;
    refusals_log.write(log::Level::Warn, "http", "accepting a connection failed (" + ec.message() + "); retrying in 50 ms");
    accept_retry->expires_after(std::chrono::milliseconds(50));
    accept_retry->async_wait([this](beast::error_code wait_error) {
        if (!wait_error && !stopping) accept();
    });
}

HttpServer::Impl::Admission HttpServer::Impl::admit(const std::string& client) {
    if (connections >= options.connections.max_connections + options.connections.probe_connections) {
        ++counters->refused_full;
        refusals_log.write(log::Level::Warn, "http", "connection from " + client + " refused: " +
                                                     std::to_string(connections.load()) + " open, the limit and its probe reserve");
        return Admission::Refuse;
    }
    {
        std::lock_guard lock(clients_mutex);
        size_t& open = clients[client];
        if (open >= options.connections.per_client) {
            ++counters->refused_per_client;
            refusals_log.write(log::Level::Warn, "http", "connection from " + client + " refused: it has " + std::to_string(open) +
                                                         " open, the limit per client (--max-connections-per-client)");
            return Admission::Refuse;
        }
        ++open;
    }
    if (connections < options.connections.max_connections) return Admission::Serve;
    ++counters->probes_only;
    return Admission::ProbesOnly;
}

void HttpServer::Impl::release(const std::string& client) {
    std::lock_guard lock(clients_mutex);
    auto it = clients.find(client);
    if (it != clients.end() && --it->second == 0) clients.erase(it);
}

namespace {

/// Raise the soft open-file limit to the hard one (once per process) and return it: each
/// connection is a descriptor, and Debian's default soft limit is 1,024.
size_t open_file_limit() {
    static const size_t limit = [] {
        rlimit fds{};
        if (getrlimit(RLIMIT_NOFILE, &fds) != 0) return size_t{1024};
        if (fds.rlim_cur < fds.rlim_max) {
            rlimit raised = fds;
            raised.rlim_cur = fds.rlim_max == RLIM_INFINITY ? std::max<rlim_t>(fds.rlim_cur, 1 << 20) : fds.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &raised) == 0) fds = raised;
        }
        return fds.rlim_cur == RLIM_INFINITY ? size_t{1} << 20 : static_cast<size_t>(fds.rlim_cur);
    }();
    return limit;
}

/// Fit the connection limits to the descriptors the process has, keeping 256 for the rest
/// (state files, connectors, clients of other servers).
void fit_connection_limits(HttpServerOptions& options) {
    const size_t fds = open_file_limit();
    const size_t usable = fds > 512 ? fds - 256 : fds / 2;
    if (options.connections.max_connections + options.connections.probe_connections <= usable) return;
    options.connections.probe_connections = std::min(options.connections.probe_connections, usable / 16);
    options.connections.max_connections = usable - options.connections.probe_connections;
    log::warn("http", "the open-file limit is " + std::to_string(fds) + ": at most " + std::to_string(options.connections.max_connections) +
                          " connections (raise `ulimit -n` for more)");
}

}  // namespace

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(HttpServerOptions options, HttpHandler handler) {
    fit_connection_limits(options);
    auto impl = std::make_unique<Impl>(std::move(options), std::move(handler));
    beast::error_code ec;
    auto address = asio::ip::make_address(impl->options.bind, ec);
    if (ec) return Status(ErrorCode::Invalid, "invalid bind address '" + impl->options.bind + "' (use an IP address such as 127.0.0.1)");
    if (!impl->options.tls_cert_file.empty() || !impl->options.tls_key_file.empty()) {
        if (impl->options.tls_cert_file.empty() || impl->options.tls_key_file.empty()) {
            return Status(ErrorCode::Invalid, "--tls-cert and --tls-key go together");
        }
        impl->tls.emplace(ssl::context::tls_server);
        impl->tls->use_certificate_chain_file(impl->options.tls_cert_file, ec);
        if (ec) return Status(ErrorCode::Io, "cannot use TLS certificate " + impl->options.tls_cert_file + ": " + ec.message());
        impl->tls->use_private_key_file(impl->options.tls_key_file, ssl::context::pem, ec);
        if (ec) return Status(ErrorCode::Io, "cannot use TLS key " + impl->options.tls_key_file + ": " + ec.message());
    }
    tcp::endpoint endpoint(address, impl->options.port);
    impl->acceptor->open(endpoint.protocol(), ec);
    if (!ec) impl->acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) impl->acceptor->bind(endpoint, ec);
    if (ec) {
        return Status(ErrorCode::Io, "cannot listen on " + impl->options.bind + ":" + std::to_string(impl->options.port) +
                                         ": " + ec.message());
    }
    impl->acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status(ErrorCode::Io, "cannot listen: " + ec.message());
    impl->port = impl->acceptor->local_endpoint().port();
    impl->accept();
    for (auto& io : impl->iocs) {
        impl->io_threads.emplace_back([io = io.get(), spin = impl->options.busy_poll] { run_io(*io, spin); });
    }
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return impl_->port; }

std::string connection_metrics_text(const ConnectionCounters& counters) {
    PrometheusText out;
    auto n = [](uint64_t v) { return std::to_string(v); };
    out.family("varpulis_http_connections", "gauge", "HTTP connections open.");
    out.sample("varpulis_http_connections", "", n(counters.open));
    out.family("varpulis_http_connections_refused_total", "counter",
               "Connections closed at accept: over the limit per client, or over the limit and its probe reserve.");
    out.sample("varpulis_http_connections_refused_total", "reason=\"per_client\"", n(counters.refused_per_client));
    out.sample("varpulis_http_connections_refused_total", "reason=\"full\"", n(counters.refused_full));
    out.family("varpulis_http_probe_only_connections_total", "counter",
               "Connections accepted past the limit, which answer only /health, /ready and /metrics.");
    out.sample("varpulis_http_probe_only_connections_total", "", n(counters.probes_only));
    out.family("varpulis_http_timeouts_total", "counter", "Connections closed at a deadline: headers, or the rest of a request.");
    out.sample("varpulis_http_timeouts_total", "phase=\"headers\"", n(counters.header_timeouts));
    out.sample("varpulis_http_timeouts_total", "phase=\"request\"", n(counters.request_timeouts));
    out.family("varpulis_http_accept_errors_total", "counter", "Accepts that failed (out of descriptors), retried after 50 ms.");
    out.sample("varpulis_http_accept_errors_total", "", n(counters.accept_errors));
    return out.take();
}
bool HttpServer::tls() const { return impl_->tls.has_value(); }
asio::io_context& HttpServer::io_context() { return *impl_->iocs[0]; }

void HttpServer::stop(std::chrono::milliseconds grace) {
    if (!impl_ || impl_->io_threads.empty()) return;
    asio::post(*impl_->iocs[0], [impl = impl_.get()] {
        beast::error_code ec;
        impl->acceptor->close(ec);
    });
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (impl_->in_flight > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    impl_->stopping = true;
    for (auto& io : impl_->iocs) io->stop();
    for (auto& t : impl_->io_threads) t.join();
    impl_->io_threads.clear();
    impl_->workers.join();
}

}  // namespace varpulis::server
