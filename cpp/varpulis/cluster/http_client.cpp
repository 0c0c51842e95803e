// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/http_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <algorithm>
#include <array>
#include <future>
#include <optional>
#include <thread>

#include "varpulis/server/write_now.hpp"

namespace varpulis::cluster {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using common::ErrorCode;
using common::Result;
using common::Status;

namespace {

struct Url {
    bool tls = false;
    std::string host, port, target;
    /// host:port, an IPv6 host in brackets
    std::string authority() const { return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port; }
    std::string key() const { return (tls ? "https://" : "http://") + authority(); }
};

std::optional<Url> parse_url(const std::string& url) {
    Url u;
    u.tls = url.rfind("https://", 0) == 0;
    if (!u.tls && url.rfind("http://", 0) != 0) return std::nullopt;
    std::string_view rest = std::string_view(url).substr(u.tls ? 8 : 7);
    size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    u.target = slash == std::string::npos ? "/" : rest.substr(slash);
    // An IPv6 literal is bracketed ("[::1]:9000"): its colons are not the port's.
    size_t host_end = authority.starts_with('[') ? authority.find(']') : 0;
    if (host_end == std::string_view::npos) return std::nullopt;
    size_t colon = authority.find(':', host_end);
    if (host_end > 0 && colon != host_end + 1 && host_end + 1 != authority.size()) return std::nullopt;
    u.host = host_end > 0 ? authority.substr(1, host_end - 1) : authority.substr(0, colon);
    u.port = colon == std::string::npos ? (u.tls ? "443" : "80") : authority.substr(colon + 1);
    if (u.host.empty() || u.port.empty() || u.port.size() > 5 || u.port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(u.port) > 65535) {
        return std::nullopt;
    }
    return u;
}

/// The request head, written by hand: it goes out with the body in one gathered write.
std::string request_head(const std::string& method, const Url& u, size_t body_size, const std::map<std::string, std::string>& headers) {
    std::string head;
    head.reserve(128 + u.target.size() + u.host.size());
    head += method;
    head += ' ';
    head += u.target;
    head += " HTTP/1.1\r\nHost: ";
    head += u.authority();
    head += "\r\n";
    if (!headers.contains("Content-Type")) head += "Content-Type: application/json\r\n";
    for (const auto& [k, v] : headers) {
        head += k;
        head += ": ";
        head += v;
        head += "\r\n";
    }
    head += "Content-Length: ";
    head += std::to_string(body_size);
    head += "\r\n\r\n";
    return head;
}

}  // namespace

// ---- AsyncHttpClient: one Exchange object per request walks connect → write → read on the
// io_context's one thread, under one deadline, and hands its connection back to the pool when the
// peer keeps it alive.
//
// Sockets and timers are typed on the io_context's own executor, not Asio's type-erased
// any_io_executor, and an exchange arms one timer rather than Beast's timer per read and write:
// the two cost about a fifth of the coordinator's instructions per forward.

using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Executor>;
using Resolver = asio::ip::basic_resolver<tcp, Executor>;

/// A kept-alive connection, plain or TLS, and its read buffer, which keeps its room from one
/// answer to the next.
struct Connection {
    Connection(const Executor& executor, ssl::context* tls_context) {
        if (tls_context) {
            tls.emplace(executor, *tls_context);
        } else {
            plain.emplace(executor);
        }
    }
    Socket& socket() { return tls ? tls->next_layer() : *plain; }
    /// Call `f` with the stream requests are written to and answers read from.
    template <class F>
    void with_stream(F&& f) {
        if (tls) {
            f(*tls);
        } else {
            f(*plain);
        }
    }
    std::optional<Socket> plain;
    std::optional<ssl::stream<Socket>> tls;
    beast::flat_buffer buffer;
};

/// The client's shared state. Every exchange and the sweep run on the io_context's one thread, so
/// it needs no lock.
class AsyncHttpClient::Pool : public std::enable_shared_from_this<AsyncHttpClient::Pool> {
  public:
    Pool(asio::io_context& i, std::chrono::milliseconds t, std::string ca)
        : io(i), timeout(t), ca_file(std::move(ca)), sweep_timer_(i.get_executor()) {}
    asio::io_context& io;
    std::chrono::milliseconds timeout;
    std::string ca_file;  ///< empty: the system's trusted certificates

    /// The TLS context of https connections, made at the first one: peers' certificates are
    /// verified against `ca_file` or the system's store.
    Result<ssl::context*> tls_context() {
        if (!tls) {
            auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
            beast::error_code ec;
            if (ca_file.empty()) {
                ctx->set_default_verify_paths(ec);
            } else {
                ctx->load_verify_file(ca_file, ec);
            }
            if (ec) return Status(ErrorCode::Io, "cannot use the CA certificates " + (ca_file.empty() ? "of the system" : ca_file) + ": " + ec.message());
            ctx->set_verify_mode(ssl::verify_peer);
            tls = std::move(ctx);
        }
        return tls.get();
    }
    std::unique_ptr<ssl::context> tls;

    // Kept-alive connections by "scheme://host:port", the most recently used last: taking the
    // freshest makes a connection the peer has closed meanwhile rare. A connection idle for longer
    // than kIdleLimit (under the servers' 60 s idle timeout) is closed by a sweep that runs once a
    // second while any connection is kept, so workers that went away leave nothing behind.
    //
    // The sweep's near deadline also spares a system call or three per request: asio reprograms
    // its kernel timer (timerfd_settime) only when a new deadline is the earliest one, and with
    // the sweep pending the exchanges' 10 s deadlines never are. Measured at one connection
    // through the coordinator: 3 timerfd_settime calls per forward without it.
    static constexpr auto kIdleLimit = std::chrono::seconds(30);
    static constexpr size_t kIdlePerPeer = 64;
    static constexpr size_t kIdleTotal = 512;

    std::unique_ptr<Connection> take(const std::string& key) {
        auto it = idle.find(key);
        if (it == idle.end() || it->second.empty()) return nullptr;
        auto conn = std::move(it->second.back().conn);
        it->second.pop_back();
        --idle_total;
        return conn;  // an emptied list stays for the connection's return; prune() drops it
    }
    void give_back(const std::string& key, std::unique_ptr<Connection> conn) {
        if (idle_total >= kIdleTotal) return;  // closed
        auto& kept = idle[key];
        if (kept.size() >= kIdlePerPeer) return;  // closed
        kept.push_back({std::move(conn), std::chrono::steady_clock::now()});
        ++idle_total;
        if (!sweeping_) schedule_sweep();
    }

  private:
    struct Idle {
        std::unique_ptr<Connection> conn;
        std::chrono::steady_clock::time_point since;
    };

    void schedule_sweep() {
        sweeping_ = true;
        sweep_timer_.expires_after(std::chrono::seconds(1));
        sweep_timer_.async_wait([weak = weak_from_this()](beast::error_code ec) {
            if (auto pool = weak.lock(); pool && !ec) pool->sweep();
        });
    }

    void sweep() {
        prune();
        if (idle_total > 0) {
            schedule_sweep();
        } else {
            sweeping_ = false;
        }
    }

    /// Close what has been idle too long.
    void prune() {
        auto now = std::chrono::steady_clock::now();
        for (auto it = idle.begin(); it != idle.end();) {
            auto& kept = it->second;
            auto fresh = std::find_if(kept.begin(), kept.end(), [&](const Idle& i) { return now - i.since < kIdleLimit; });
            idle_total -= static_cast<size_t>(fresh - kept.begin());
            kept.erase(kept.begin(), fresh);
            it = kept.empty() ? idle.erase(it) : std::next(it);
        }
    }

    std::map<std::string, std::vector<Idle>> idle;
    size_t idle_total = 0;
    Timer sweep_timer_;
    bool sweeping_ = false;
};

namespace {

// A worker's checkpoint answer can be as large as its restore takes (144 MiB at the defaults).
constexpr std::uint64_t kAnswerLimit = 256u << 20;

class Exchange : public std::enable_shared_from_this<Exchange> {
  public:
    Exchange(std::shared_ptr<AsyncHttpClient::Pool> pool, Url url, std::string head, std::string body, std::string method,
             HttpCallback done)
        : pool_(std::move(pool)), url_(std::move(url)), key_(url_.key()), head_(std::move(head)),
          body_(std::move(body)), method_(std::move(method)), done_(std::move(done)), deadline_(pool_->io.get_executor()) {}

    /// On the I/O thread. The deadline covers the whole exchange: resolving, connecting, a retry.
    void start() {
        deadline_.expires_after(pool_->timeout);
        deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
            if (!ec && self->done_) self->expire();
        });
        conn_ = pool_->take(key_);
        reused_ = conn_ != nullptr;
        if (reused_) return send();
        connect();
    }

  private:
    /// The deadline passed: closing the socket ends whatever operation is pending, which then
    /// reports the timeout.
    void expire() {
        timed_out_ = true;
        if (resolving_) {
            // getaddrinfo runs on a thread of Asio's that cancel() cannot stop: answer now, and the
            // resolution's late result is dropped.
            resolver_->cancel();
            return fail("cannot resolve " + url_.host, asio::error::timed_out);
        }
        beast::error_code ignored;
        if (conn_) conn_->socket().close(ignored);
    }

    void connect() {
        ssl::context* tls_context = nullptr;
        if (url_.tls) {
            auto ctx = pool_->tls_context();
            if (!ctx) {
                // Answered like every other failure, never inside request().
                return asio::post(pool_->io, [self = shared_from_this(), status = ctx.status()] { self->finish(status); });
            }
            tls_context = *ctx;
        }
        conn_ = std::make_unique<Connection>(pool_->io.get_executor(), tls_context);
        // Beast reads at most the buffer's free capacity: without room, a large answer (a batch's
        // outputs) arrives in ~500-byte reads.
        conn_->buffer.reserve(64 * 1024);
        auto self = shared_from_this();
        auto on_connect = [self](beast::error_code ec, auto&&...) {
            if (ec && !self->timed_out_ && (ec == asio::error::connection_refused || ec == asio::error::host_unreachable ||
                                            ec == asio::error::network_unreachable)) {
                // Nothing reached the peer: a caller may send the request elsewhere.
                return self->finish(Status(ErrorCode::Unavailable, "cannot connect to " + self->key_ + ": " + ec.message()));
            }
            if (ec || self->timed_out_) return self->fail("cannot connect to " + self->key_, ec);
            self->conn_->socket().set_option(tcp::no_delay(true), ec);
            self->conn_->socket().non_blocking(true, ec);  // for write_now
            if (self->conn_->tls) return self->handshake();
            self->send();
        };
        // Workers advertise numeric addresses in most set-ups: no resolver (and its thread) then.
        beast::error_code ec;
        auto address = asio::ip::make_address(url_.host, ec);
        uint16_t port = static_cast<uint16_t>(std::strtoul(url_.port.c_str(), nullptr, 10));
        if (!ec) return conn_->socket().async_connect(tcp::endpoint(address, port), on_connect);
        resolver_ = std::make_unique<Resolver>(pool_->io.get_executor());
        resolving_ = true;
        resolver_->async_resolve(url_.host, url_.port, [self, on_connect](beast::error_code rec, tcp::resolver::results_type found) {
            self->resolving_ = false;
            if (!self->done_) return;  // the deadline answered already
            if (rec) return self->fail("cannot resolve " + self->url_.host, rec);
            asio::async_connect(self->conn_->socket(), found, on_connect);
        });
    }

    /// TLS: the name the peer's certificate must carry (SNI and verification), then the handshake.
    void handshake() {
        auto& stream = *conn_->tls;
        // OpenSSL checks the name while it verifies the chain. A DNS name is also sent as the
        // server name (SNI, which must not carry an IP address); an IP address is checked against
        // the certificate's IP entries, not its DNS names.
        beast::error_code ec;
        asio::ip::make_address(url_.host, ec);
        bool is_name = static_cast<bool>(ec);
        bool named = is_name ? SSL_set_tlsext_host_name(stream.native_handle(), url_.host.c_str()) == 1 &&
                                   SSL_set1_host(stream.native_handle(), url_.host.c_str()) == 1
                             : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream.native_handle()), url_.host.c_str()) == 1;
        if (!named) return finish(Status(ErrorCode::Io, "cannot check TLS certificates for " + url_.host));
        stream.async_handshake(ssl::stream_base::client, [self = shared_from_this()](beast::error_code hec) {
            if (hec || self->timed_out_) return self->fail("TLS handshake with " + self->key_ + " failed", hec);
            self->send();
        });
    }

    void send() {
        std::array<asio::const_buffer, 2> request{asio::buffer(head_), asio::buffer(body_)};
        if (conn_->plain) {  // a TLS write goes through OpenSSL's records
            beast::error_code ec;
            request = server::write_now(*conn_->plain, request, ec);
            if (ec) {
                // Reported like every other failure, never inside request().
                return asio::post(pool_->io, [self = shared_from_this(), ec] { self->retry_or_fail(ec, false); });
            }
            if (asio::buffer_size(request) == 0) return receive();
        }
        auto on_sent = [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec || self->timed_out_) return self->retry_or_fail(ec, false);
            self->receive();
        };
        conn_->with_stream([&](auto& stream) { asio::async_write(stream, request, on_sent); });
    }

    void receive() {
        parser_.emplace();
        parser_->body_limit(kAnswerLimit);
        conn_->buffer.clear();
        auto on_answer = [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return self->retry_or_fail(ec, self->parser_->got_some());
            auto& res = self->parser_->get();
            HttpResult out{static_cast<int>(res.result_int()), std::move(res.body())};
            // The answer is whole even when the deadline closed the socket just after it came.
            if (res.keep_alive() && self->conn_->socket().is_open()) self->pool_->give_back(self->key_, std::move(self->conn_));
            self->finish(std::move(out));
        };
        conn_->with_stream([&](auto& stream) { http::async_read(stream, conn_->buffer, *parser_, on_answer); });
    }

    // A kept-alive connection the peer had closed fails at once, before any byte of an answer:
    // then, and only then, the request goes again on a fresh connection. Any other failure may
    // come after the peer processed the request, and a resent inject would be processed twice.
    void retry_or_fail(beast::error_code ec, bool answer_started) {
        bool closed_by_peer = ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
                              ec == asio::error::broken_pipe || ec == ssl::error::stream_truncated;
        if (reused_ && closed_by_peer && !answer_started && !timed_out_) {
            reused_ = false;
            return connect();
        }
        if (ec == http::error::body_limit) {
            return finish(Status(ErrorCode::LimitExceeded, what() + ": the answer is larger than " + std::to_string(kAnswerLimit >> 20) + " MiB"));
        }
        fail(what() + " failed", ec);
    }

    /// A transport failure; a deadline that passed is reported as such, whatever the operation
    /// it cut short said.
    void fail(const std::string& context, beast::error_code ec) {
        if (timed_out_) {
            return finish(Status(ErrorCode::Io, context + ": timeout, no answer within " + std::to_string(pool_->timeout.count()) + " ms"));
        }
        finish(Status(ErrorCode::Io, context + ": " + ec.message()));
    }

    /// "POST http://host:port/path", for messages: built only when one is needed.
    std::string what() const { return method_ + " " + key_ + url_.target; }

    void finish(Result<HttpResult> result) {
        deadline_.cancel();
        auto done = std::move(done_);
        done_ = nullptr;
        done(std::move(result));
    }

    std::shared_ptr<AsyncHttpClient::Pool> pool_;
    Url url_;
    std::string key_;
    std::string head_, body_;
    std::string method_;
    HttpCallback done_;
    Timer deadline_;
    bool timed_out_ = false;
    bool resolving_ = false;
    std::unique_ptr<Connection> conn_;
    std::unique_ptr<Resolver> resolver_;
    std::optional<http::response_parser<http::string_body>> parser_;
    bool reused_ = false;
};

}  // namespace

AsyncHttpClient::AsyncHttpClient(asio::io_context& io, std::chrono::milliseconds timeout, std::string ca_file)
    : pool_(std::make_shared<Pool>(io, timeout, std::move(ca_file))) {}
AsyncHttpClient::~AsyncHttpClient() = default;

void AsyncHttpClient::request(const std::string& method, const std::string& url, std::string body,
                              const std::map<std::string, std::string>& headers, HttpCallback done) {
    auto u = parse_url(url);
    if (!u) {
        // Called back on an I/O thread like every other answer, never inside request().
        Status bad(ErrorCode::Invalid, "unsupported URL '" + url + "' (expected http:// or https://host:port/...)");
        return asio::post(pool_->io, [done = std::move(done), bad]() mutable { done(bad); });
    }
    std::string head = request_head(method, *u, body.size(), headers);
    auto exchange = std::make_shared<Exchange>(pool_, std::move(*u), std::move(head), std::move(body), method, std::move(done));
    // At once when called on the I/O thread (a fast path's forward), else handed to it: every
    // step of an exchange runs on that one thread.
    asio::dispatch(pool_->io.get_executor(), [exchange = std::move(exchange)] { exchange->start(); });
}

// ---- HttpClient: the asynchronous client on a thread of its own, waited for. Its deadlines
// are the asynchronous ones (a blocking read would wait past any socket timeout: asio polls
// again on EAGAIN), and there is one implementation of connections, retries and timeouts.

class HttpClient::Impl {
  public:
    Impl(std::chrono::milliseconds timeout, std::string ca_file)
        : client(std::in_place, ioc, timeout, std::move(ca_file)), thread([this] { ioc.run(); }) {}
    ~Impl() {
        client.reset();
        work.reset();
        ioc.stop();
        thread.join();
    }
    asio::io_context ioc{1};
    asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(ioc);
    std::optional<AsyncHttpClient> client;
    std::thread thread;
};

HttpClient::HttpClient(std::chrono::milliseconds timeout, std::string ca_file) : impl_(std::make_unique<Impl>(timeout, std::move(ca_file))) {}
HttpClient::~HttpClient() = default;

Result<HttpResult> HttpClient::request(const std::string& method, const std::string& url, const std::string& body,
                                       const std::map<std::string, std::string>& headers) {
    std::promise<Result<HttpResult>> answer;
    auto future = answer.get_future();
    impl_->client->request(method, url, body, headers, [&answer](Result<HttpResult> r) { answer.set_value(std::move(r)); });
    return future.get();
}

}  // namespace varpulis::cluster
