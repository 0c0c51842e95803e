// SPDX-License-Identifier: Apache-2.0
#pragma once

// A small blocking HTTP/1.1 client with kept-alive connections per host (the coordinator calls
// workers; workers call the coordinator). Beast stays inside http_client.cpp.

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "varpulis/common/status.hpp"

namespace varpulis::cluster {

struct HttpResult {
    int status = 0;
    std::string body;
};

class HttpClient {
  public:
    explicit HttpClient(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    /// Send a request to `url` (http://host:port/path). A transport failure (refused, timeout)
    /// is an error status; any HTTP answer, 4xx and 5xx included, is a result.
    common::Result<HttpResult> request(const std::string& method, const std::string& url, const std::string& body = {},
                                       const std::map<std::string, std::string>& headers = {});

    class Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace varpulis::cluster
