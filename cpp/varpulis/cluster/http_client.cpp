// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/http_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <array>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

namespace varpulis::cluster {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using common::ErrorCode;
using common::Result;
using common::Status;

namespace {

struct Url {
    std::string host, port, target;
};

std::optional<Url> parse_url(const std::string& url) {
    const std::string prefix = "http://";
    if (url.rfind(prefix, 0) != 0) return std::nullopt;
    std::string rest = url.substr(prefix.size());
    size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    Url u;
    u.target = slash == std::string::npos ? "/" : rest.substr(slash);
    size_t colon = authority.rfind(':');
    u.host = colon == std::string::npos ? authority : authority.substr(0, colon);
    u.port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
    if (u.host.empty()) return std::nullopt;
    return u;
}

/// The request head, written by hand: it goes out with the body in one gathered write.
std::string request_head(const std::string& method, const Url& u, size_t body_size, const std::map<std::string, std::string>& headers) {
    std::string head = method + " " + u.target + " HTTP/1.1\r\nHost: " + u.host + "\r\nContent-Type: application/json\r\n";
    for (const auto& [k, v] : headers) head += k + ": " + v + "\r\n";
    head += "Content-Length: " + std::to_string(body_size) + "\r\n\r\n";
    return head;
}

}  // namespace

// ---- AsyncHttpClient: one Exchange object per request walks connect → write → read on the
// stream's strand, and hands its connection back to the pool when the peer keeps it alive.

/// A kept-alive connection and its read buffer, which keeps its room from one answer to the next.
struct Connection {
    Connection(asio::io_context& io, bool one_io_thread)
        : stream(one_io_thread ? asio::any_io_executor(io.get_executor()) : asio::any_io_executor(asio::make_strand(io))) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
};

class AsyncHttpClient::Pool {
  public:
    Pool(asio::io_context& i, std::chrono::milliseconds t, bool one) : io(i), timeout(t), one_io_thread(one) {}
    asio::io_context& io;
    std::chrono::milliseconds timeout;
    bool one_io_thread;
    std::mutex mutex;
    std::multimap<std::string, std::unique_ptr<Connection>> idle;

    std::unique_ptr<Connection> take(const std::string& key) {
        std::lock_guard lock(mutex);
        auto it = idle.find(key);
        if (it == idle.end()) return nullptr;
        auto s = std::move(it->second);
        idle.erase(it);
        return s;
    }
    void give_back(const std::string& key, std::unique_ptr<Connection> s) {
        std::lock_guard lock(mutex);
        if (idle.count(key) < 64) idle.emplace(key, std::move(s));
    }
};

namespace {

class Exchange : public std::enable_shared_from_this<Exchange> {
  public:
    Exchange(std::shared_ptr<AsyncHttpClient::Pool> pool, Url url, std::string head, std::string body, std::string what,
             HttpCallback done)
        : pool_(std::move(pool)), url_(std::move(url)), key_(url_.host + ":" + url_.port), head_(std::move(head)),
          body_(std::move(body)), what_(std::move(what)), done_(std::move(done)) {}

    void start() {
        conn_ = pool_->take(key_);
        reused_ = conn_ != nullptr;
        if (reused_) return send();
        connect();
    }

  private:
    void connect() {
        conn_ = std::make_unique<Connection>(pool_->io, pool_->one_io_thread);
        // Beast reads at most the buffer's free capacity: without room, a large answer (a batch's
        // outputs) arrives in ~500-byte reads.
        conn_->buffer.reserve(64 * 1024);
        conn_->stream.expires_after(pool_->timeout);
        auto self = shared_from_this();
        auto on_connect = [self](beast::error_code ec, auto&&...) {
            if (ec) return self->finish(Status(ErrorCode::Io, "cannot connect to " + self->key_ + ": " + ec.message()));
            self->send();
        };
        // Workers advertise numeric addresses in most set-ups: no resolver (and its thread) then.
        beast::error_code ec;
        auto address = asio::ip::make_address(url_.host, ec);
        uint16_t port = static_cast<uint16_t>(std::strtoul(url_.port.c_str(), nullptr, 10));
        if (!ec) return conn_->stream.async_connect(tcp::endpoint(address, port), on_connect);
        resolver_ = std::make_unique<tcp::resolver>(conn_->stream.get_executor());
        resolver_->async_resolve(url_.host, url_.port, [self, on_connect](beast::error_code rec, tcp::resolver::results_type found) {
            if (rec) return self->finish(Status(ErrorCode::Io, "cannot resolve " + self->key_ + ": " + rec.message()));
            self->conn_->stream.async_connect(found, on_connect);
        });
    }

    void send() {
        conn_->stream.expires_after(pool_->timeout);
        std::array<asio::const_buffer, 2> request{asio::buffer(head_), asio::buffer(body_)};
        asio::async_write(conn_->stream, request, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return self->retry_or_fail(ec);
            self->receive();
        });
    }

    void receive() {
        parser_.emplace();
        parser_->body_limit(64u << 20);
        conn_->buffer.clear();
        http::async_read(conn_->stream, conn_->buffer, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return self->retry_or_fail(ec);
            auto& res = self->parser_->get();
            HttpResult out{static_cast<int>(res.result_int()), std::move(res.body())};
            if (res.keep_alive()) {
                self->conn_->stream.expires_never();  // an idle connection has no deadline
                self->pool_->give_back(self->key_, std::move(self->conn_));
            }
            self->finish(std::move(out));
        });
    }

    // A kept-alive connection may have been closed by the peer: one retry on a fresh one.
    void retry_or_fail(beast::error_code ec) {
        if (reused_ && ec != beast::error::timeout) {
            reused_ = false;
            return connect();
        }
        finish(Status(ErrorCode::Io, what_ + " failed: " + ec.message()));
    }

    void finish(Result<HttpResult> result) {
        auto done = std::move(done_);
        done(std::move(result));
    }

    std::shared_ptr<AsyncHttpClient::Pool> pool_;
    Url url_;
    std::string key_;
    std::string head_, body_;
    std::string what_;
    HttpCallback done_;
    std::unique_ptr<Connection> conn_;
    std::unique_ptr<tcp::resolver> resolver_;
    std::optional<http::response_parser<http::string_body>> parser_;
    bool reused_ = false;
};

}  // namespace

AsyncHttpClient::AsyncHttpClient(asio::io_context& io, std::chrono::milliseconds timeout, bool one_io_thread)
    : pool_(std::make_shared<Pool>(io, timeout, one_io_thread)) {}
AsyncHttpClient::~AsyncHttpClient() = default;

void AsyncHttpClient::request(const std::string& method, const std::string& url, std::string body,
                              const std::map<std::string, std::string>& headers, HttpCallback done) {
    auto u = parse_url(url);
    if (!u) {
        // Called back on an I/O thread like every other answer, never inside request().
        Status bad(ErrorCode::Invalid, "unsupported URL '" + url + "' (expected http://host:port/...)");
        return asio::post(pool_->io, [done = std::move(done), bad]() mutable { done(bad); });
    }
    std::string head = request_head(method, *u, body.size(), headers);
    std::make_shared<Exchange>(pool_, std::move(*u), std::move(head), std::move(body), method + " " + url, std::move(done))->start();
}

// ---- HttpClient: the asynchronous client on a thread of its own, waited for. Its deadlines
// are the asynchronous ones (a blocking read would wait past any socket timeout: asio polls
// again on EAGAIN), and there is one implementation of connections, retries and timeouts.

class HttpClient::Impl {
  public:
    explicit Impl(std::chrono::milliseconds timeout) : client(std::in_place, ioc, timeout, true), thread([this] { ioc.run(); }) {}
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

HttpClient::HttpClient(std::chrono::milliseconds timeout) : impl_(std::make_unique<Impl>(timeout)) {}
HttpClient::~HttpClient() = default;

Result<HttpResult> HttpClient::request(const std::string& method, const std::string& url, const std::string& body,
                                       const std::map<std::string, std::string>& headers) {
    std::promise<Result<HttpResult>> answer;
    auto future = answer.get_future();
    impl_->client->request(method, url, body, headers, [&answer](Result<HttpResult> r) { answer.set_value(std::move(r)); });
    return future.get();
}

}  // namespace varpulis::cluster
