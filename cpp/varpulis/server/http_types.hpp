// SPDX-License-Identifier: Apache-2.0
#pragma once

// Plain HTTP request/response values shared by the Beast transport (http_server.cpp, the only
// file that sees Beast) and the request handlers, which can therefore be tested without sockets.

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace varpulis::server {

struct HttpRequest {
    std::string method;  ///< "GET", "POST"...
    std::string target;  ///< path and query as sent
    std::string path;    ///< without the query
    std::map<std::string, std::string> query;
    /// Lower-case names, in the order received. A handful per request: a list costs less than a
    /// map's node per header.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string client;  ///< peer address

    /// The value of a header ("" when absent); of a repeated header, the last one.
    const std::string& header(std::string_view lower_name) const;
    /// `GET /health` or `GET /ready`: a probe, which waits on nothing and so is answered on the
    /// I/O thread that read it (worker and coordinator alike).
    bool is_probe() const { return method == "GET" && (path == "/health" || path == "/ready"); }
};

/// A Server-Sent Events channel: the handler pushes events, the transport writes them.
class SseChannel {
  public:
    /// Queue one event (`data: <text>`); dropped when the client is too slow (counted).
    void push(std::string data);
    /// End the stream (pipeline deleted, server stopping).
    void close();
    /// Transport side: take what is queued; returns false once closed and drained.
    bool take(std::vector<std::string>& out);
    /// Transport side: called (on any thread) whenever something is queued or the channel closes.
    void set_notifier(std::function<void()> notify);
    bool closed() const;
    size_t dropped() const;

  private:
    mutable std::mutex mutex_;
    std::deque<std::string> queue_;
    std::function<void()> notify_;
    bool closed_ = false;
    size_t dropped_ = 0;
    static constexpr size_t kCapacity = 1024;
};

struct HttpResponse {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::shared_ptr<SseChannel> sse;  ///< set: the body is an event stream
};

/// Build the JSON error body every endpoint uses: {"error": message, "code": code}.
HttpResponse error_response(int status, const std::string& code, const std::string& message);

}  // namespace varpulis::server
