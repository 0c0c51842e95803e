// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/http_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <sys/socket.h>
#include <sys/time.h>
#include <vector>

namespace varpulis::cluster {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using common::ErrorCode;
using common::Result;
using common::Status;

class HttpClient::Impl {
  public:
    explicit Impl(std::chrono::milliseconds t) : timeout(t) {}
    std::chrono::milliseconds timeout;
    asio::io_context ioc;
    std::mutex mutex;
    std::multimap<std::string, std::unique_ptr<beast::tcp_stream>> idle;  ///< "host:port" → kept-alive connections

    std::unique_ptr<beast::tcp_stream> take(const std::string& key) {
        std::lock_guard lock(mutex);
        auto it = idle.find(key);
        if (it == idle.end()) return nullptr;
        auto s = std::move(it->second);
        idle.erase(it);
        return s;
    }
    void give_back(const std::string& key, std::unique_ptr<beast::tcp_stream> s) {
        std::lock_guard lock(mutex);
        if (idle.count(key) < 64) idle.emplace(key, std::move(s));
    }
};

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

}  // namespace

HttpClient::HttpClient(std::chrono::milliseconds timeout) : impl_(std::make_unique<Impl>(timeout)) {}
HttpClient::~HttpClient() = default;

Result<HttpResult> HttpClient::request(const std::string& method, const std::string& url, const std::string& body,
                                       const std::map<std::string, std::string>& headers) {
    auto u = parse_url(url);
    if (!u) return Status(ErrorCode::Invalid, "unsupported URL '" + url + "' (expected http://host:port/...)");
    std::string key = u->host + ":" + u->port;
    http::request<http::string_body> req(http::string_to_verb(method), u->target, 11);
    req.set(http::field::host, u->host);
    req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    // A kept-alive connection may have been closed by the peer: one retry on a fresh one.
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto stream = attempt == 0 ? impl_->take(key) : nullptr;
        beast::error_code ec;
        if (!stream) {
            stream = std::make_unique<beast::tcp_stream>(impl_->ioc);
            tcp::resolver resolver(impl_->ioc);
            auto endpoints = resolver.resolve(u->host, u->port, ec);
            if (ec) return Status(ErrorCode::Io, "cannot resolve " + key + ": " + ec.message());
            stream->expires_after(impl_->timeout);
            stream->connect(endpoints, ec);
            if (ec) return Status(ErrorCode::Io, "cannot connect to " + key + ": " + ec.message());
            // Beast's timeouts cover only asynchronous calls: bound the blocking reads and
            // writes at the socket, so a peer that stops answering cannot hang the caller.
            timeval tv{static_cast<time_t>(impl_->timeout.count() / 1000),
                       static_cast<suseconds_t>((impl_->timeout.count() % 1000) * 1000)};
            int fd = stream->socket().native_handle();
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        }
        stream->expires_after(impl_->timeout);
        http::write(*stream, req, ec);
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(64u << 20);
        if (!ec) http::read(*stream, buffer, parser, ec);
        if (ec) {
            if (attempt == 0 && ec != beast::error::timeout) continue;
            return Status(ErrorCode::Io, method + " " + url + " failed: " + ec.message());
        }
        auto& res = parser.get();
        HttpResult out{static_cast<int>(res.result_int()), std::move(res.body())};
        if (res.keep_alive()) impl_->give_back(key, std::move(stream));
        return out;
    }
    return Status(ErrorCode::Io, method + " " + url + " failed");
}

}  // namespace varpulis::cluster
