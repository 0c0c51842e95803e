// SPDX-License-Identifier: Apache-2.0
#pragma once

// The HTTP/1.1 transport (Boost.Beast): keep-alive, HTTPS, limits, timeouts, graceful stop.
// Handlers run on a worker pool, never on the I/O threads, so engine work cannot stall I/O.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "varpulis/common/status.hpp"
#include "varpulis/server/http_types.hpp"

namespace boost::asio {
class io_context;
}

namespace varpulis::server {

using HttpResponder = std::function<void(HttpResponse)>;
/// Called on a worker thread; must call `respond` exactly once (possibly later, on any thread).
using HttpHandler = std::function<void(const HttpRequest&, HttpResponder respond)>;
/// Offered each request first, on the I/O thread that read it. Returns true when it took the
/// request (and will call `respond`), false to leave it to the handler on the pool. It must never
/// block: it is for requests answered by asynchronous I/O on the same threads, such as the
/// coordinator's forwards, which then never change threads.
using HttpFastPath = std::function<bool(const HttpRequest&, const HttpResponder& respond)>;

struct HttpServerOptions {
    std::string bind = "127.0.0.1";
    uint16_t port = 0;                 ///< 0: a free port
    int io_threads = 2;  ///< each with its own io_context; a connection stays on one
    /// Threads that run handlers; 0: one per core, at least 2. More threads than cores only adds
    /// context switches to CPU-bound engine work (64 connections: 36-38 K req/s with 4 on 2 cores,
    /// 41-49 K with 2).
    int worker_threads = 0;
    size_t max_connections = 1024;
    size_t header_limit = 16 * 1024;
    /// Body limit for a path (bytes); requests over it get 413 without being read whole.
    std::function<size_t(const std::string& path)> body_limit = [](const std::string&) { return size_t{1} << 20; };
    std::chrono::seconds request_timeout{30};  ///< time to receive a whole request (slow clients)
    std::chrono::seconds idle_timeout{60};     ///< keep-alive connection with no request
    std::string tls_cert_file;         ///< both set: HTTPS
    std::string tls_key_file;
    HttpFastPath fast_path;            ///< optional
    /// Busy polling: an I/O thread that ran handlers keeps polling for this long before it
    /// sleeps, so an answer that comes back within it is read without a wake-up. Zero: off. It
    /// trades a core's time for latency while traffic flows (in a virtual machine a wake-up costs
    /// tens of microseconds); an idle server still sleeps.
    std::chrono::microseconds busy_poll{0};
};

class HttpServer {
  public:
    /// Bind and start serving. Fails with a clear message (address in use, bad bind address,
    /// unreadable certificate).
    static common::Result<std::unique_ptr<HttpServer>> start(HttpServerOptions options, HttpHandler handler);
    ~HttpServer();

    uint16_t port() const;
    bool tls() const;
    /// The first I/O thread's context (the only one with io_threads = 1, as the coordinator runs),
    /// for clients whose requests a fast path starts. It lives as long as the server: such
    /// clients must be destroyed first.
    boost::asio::io_context& io_context();

    /// Stop accepting, let in-flight requests finish (up to `grace`), close everything, join.
    void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

    class Impl;

  private:
    explicit HttpServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace varpulis::server
