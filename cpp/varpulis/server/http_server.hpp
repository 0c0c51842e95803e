// SPDX-License-Identifier: Apache-2.0
#pragma once

// The HTTP/1.1 transport (Boost.Beast): keep-alive, HTTPS, limits, timeouts, graceful stop.
// Handlers run on a worker pool, never on the I/O threads, so engine work cannot stall I/O.

#include <atomic>
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

/// What the transport refused or cut off, for /metrics; shared with the API that prints them.
struct ConnectionCounters {
    std::atomic<size_t> open{0};                  ///< connections open now
    std::atomic<uint64_t> refused_per_client{0};  ///< over max_connections_per_client
    std::atomic<uint64_t> refused_full{0};        ///< over max_connections and the probe reserve
    std::atomic<uint64_t> probes_only{0};         ///< accepted past max_connections: probes only
    std::atomic<uint64_t> header_timeouts{0};     ///< headers not complete within header_timeout
    std::atomic<uint64_t> request_timeouts{0};    ///< a body, an idle wait or an answer past its deadline
    std::atomic<uint64_t> accept_errors{0};       ///< accept failed (out of descriptors): retried
};

/// The counters as Prometheus text (families varpulis_http_*), for a /metrics body.
std::string connection_metrics_text(const ConnectionCounters& counters);

/// How many connections a server holds, and how long a new one may take to say what it wants.
struct ConnectionLimits {
    /// Open connections of all clients; lowered at start to what the open-file limit allows
    /// (raised to its hard limit first).
    size_t max_connections = 4096;
    /// Open connections from one client address: one client cannot take every slot.
    size_t per_client = 256;
    /// Past max_connections, this many more are accepted for `GET /health`, `/ready` and
    /// `/metrics` only (anything else: 503): probes are answered when the server is full.
    size_t probe_connections = 64;
    /// A new connection's request headers must be complete within this; its body then has the
    /// rest of the request timeout. A client sending a byte a second holds a slot this long.
    std::chrono::seconds header_timeout{10};
};

struct HttpServerOptions {
    std::string bind = "127.0.0.1";
    uint16_t port = 0;                 ///< 0: a free port
    int io_threads = 2;  ///< each with its own io_context; a connection stays on one
    /// Threads that run handlers; 0: one per core, at least 2. More threads than cores only adds
    /// context switches to CPU-bound engine work (64 connections: 36-38 K req/s with 4 on 2 cores,
    /// 41-49 K with 2).
    int worker_threads = 0;
    ConnectionLimits connections;
    size_t header_limit = 16 * 1024;
    /// Body limit for a path (bytes); requests over it get 413 without being read whole.
    std::function<size_t(std::string_view path)> body_limit = [](std::string_view) { return size_t{1} << 20; };
    std::chrono::seconds request_timeout{30};  ///< time to receive a whole request (slow clients)
    std::chrono::seconds idle_timeout{60};     ///< keep-alive connection with no request
    std::string tls_cert_file;         ///< both set: HTTPS
    std::string tls_key_file;
    HttpFastPath fast_path;            ///< optional
    std::shared_ptr<ConnectionCounters> counters;  ///< optional; the server keeps its own otherwise
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
