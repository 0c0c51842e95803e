// SPDX-License-Identifier: Apache-2.0
#pragma once

// A declarative route table shared by the worker and the coordinator APIs: each route is a
// method, a path pattern ("/api/v1/pipelines/{id}/events"), the authentication it needs and a
// handler. Matching answers the same way for both servers: the route, or 404, or 405 with the
// methods the path takes. The table also lists its routes, so tests can hold each server to its
// REST contract (api/*.openapi.json).

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "varpulis/server/http_types.hpp"

namespace varpulis::server {

/// What a route needs before its handler runs.
enum class RouteAuth {
    None,    ///< probes and metrics
    ApiKey,  ///< `x-api-key`
    Custom,  ///< the handler authenticates (a join token, a worker's heartbeat token)
};

/// One route as declared, for listings and contract checks.
struct RouteSpec {
    std::string method;
    std::string pattern;
    RouteAuth auth = RouteAuth::ApiKey;
};

/// The outcome of matching a request: the route's index with its path parameters, or why none.
struct RouteMatch {
    enum class Kind { Found, NotFound, MethodNotAllowed };
    static constexpr size_t kMaxParams = 4;

    Kind kind = Kind::NotFound;
    size_t index = 0;  ///< Found: the route; MethodNotAllowed: a route of the path
    std::array<std::string_view, kMaxParams> params{};  ///< `{...}` segments in order, views into the path
    size_t param_count = 0;
    std::string allowed;  ///< MethodNotAllowed: "GET, DELETE", for the `Allow` header

    /// The first path parameter (`{id}`), or "".
    std::string_view id() const { return param_count > 0 ? params[0] : std::string_view(); }
};

/// The matching half of a route table, independent of the handlers' type.
class RouteMatcher {
  public:
    static constexpr size_t kMaxSegments = 8;

    /// Add a route; patterns have at most kMaxSegments segments and kMaxParams parameters.
    void add(RouteSpec spec);
    /// Match a request. Of the routes whose pattern matches the path, the most specific ones
    /// (most literal segments) decide, so `/workers/register` is not taken for `/workers/{id}`.
    RouteMatch match(std::string_view method, std::string_view path) const;
    const std::vector<RouteSpec>& specs() const { return specs_; }

  private:
    struct Pattern {
        std::vector<std::string> segments;  ///< "" for a parameter
        size_t literals = 0;
    };

    std::vector<RouteSpec> specs_;
    std::vector<Pattern> patterns_;
};

/// A route table whose handlers are of type `Handler` (each server calls them its own way).
template <typename Handler>
class RouteTable {
  public:
    void add(std::string method, std::string pattern, RouteAuth auth, Handler handler) {
        matcher_.add({std::move(method), std::move(pattern), auth});
        handlers_.push_back(std::move(handler));
    }
    RouteMatch match(std::string_view method, std::string_view path) const { return matcher_.match(method, path); }
    const Handler& handler(const RouteMatch& m) const { return handlers_[m.index]; }
    const RouteSpec& spec(const RouteMatch& m) const { return matcher_.specs()[m.index]; }
    const std::vector<RouteSpec>& specs() const { return matcher_.specs(); }

  private:
    RouteMatcher matcher_;
    std::vector<Handler> handlers_;
};

/// The answers both servers give when no route takes a request.
HttpResponse route_not_found(const HttpRequest& req);
HttpResponse method_not_allowed(const HttpRequest& req, const RouteMatch& m);

}  // namespace varpulis::server
