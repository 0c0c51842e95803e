// SPDX-License-Identifier: Apache-2.0
#pragma once

// Small HTTP/1.1 clients with kept-alive connections per host (the coordinator calls workers;
// workers call the coordinator): an asynchronous one that runs on a server's I/O threads so a
// forwarded request never parks a thread, and a blocking one, which is the asynchronous one on a
// thread of its own. The timeout bounds a whole exchange (resolve, connect, write, read). Beast
// stays inside http_client.cpp.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "varpulis/common/status.hpp"

namespace boost::asio {
class io_context;
}

namespace varpulis::cluster {

struct HttpResult {
    int status = 0;
    std::string body;
};

class HttpClient {
  public:
    /// `ca_file`: PEM certificates that https peers' certificates must chain to; empty: the
    /// system's trusted certificates.
    explicit HttpClient(std::chrono::milliseconds timeout = std::chrono::seconds(10), std::string ca_file = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    /// Send a request to `url` (http://host:port/path or https://...). A transport failure (refused, timeout)
    /// is an error status; any HTTP answer, 4xx and 5xx included, is a result.
    common::Result<HttpResult> request(const std::string& method, const std::string& url, const std::string& body = {},
                                       const std::map<std::string, std::string>& headers = {});

    class Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

using HttpCallback = std::function<void(common::Result<HttpResult>)>;

/// The same exchanges without blocking: each runs on `io`, which must be run by one thread (an
/// HttpServer with one I/O thread, such as the coordinator's), and calls back there. Requests may
/// be started from any thread; the client may be destroyed with exchanges in flight (they finish,
/// or end when `io` is destroyed), but not after `io`. The timeout bounds a whole exchange.
class AsyncHttpClient {
  public:
    AsyncHttpClient(boost::asio::io_context& io, std::chrono::milliseconds timeout = std::chrono::seconds(10), std::string ca_file = {});
    ~AsyncHttpClient();
    AsyncHttpClient(const AsyncHttpClient&) = delete;
    AsyncHttpClient& operator=(const AsyncHttpClient&) = delete;

    /// As HttpClient::request; `done` is called exactly once, on an I/O thread.
    void request(const std::string& method, const std::string& url, std::string body,
                 const std::map<std::string, std::string>& headers, HttpCallback done);

    class Pool;

  private:
    std::shared_ptr<Pool> pool_;
};

}  // namespace varpulis::cluster
