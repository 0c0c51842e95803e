// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/api/coordinator_routes.hpp"

#include "varpulis/common/path.hpp"
#include "varpulis/common/secret.hpp"
#include "varpulis/common/version.hpp"
#include "varpulis/server/json_http.hpp"

namespace varpulis::cluster {

using server::HttpRequest;
using server::HttpResponse;
using server::RouteAuth;
using server::RouteMatch;

namespace {

/// Under /api/v1/cluster/ and below it (the paths the API key guards, known or not).
bool under_cluster_api(const std::string& path) {
    const auto parts = common::split_path(path);
    return parts.size() >= 4 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "cluster";
}

}  // namespace

CoordinatorRoutes::CoordinatorRoutes(CoordinatorEndpoints& endpoints, std::string api_key) : api_key_(std::move(api_key)) {
    add_routes(endpoints);
}

void CoordinatorRoutes::add_routes(CoordinatorEndpoints& e) {
    using A = RouteAuth;
    auto route = [this](const char* method, const char* pattern, RouteAuth auth, Handler handler) {
        table_.add(method, pattern, auth, std::move(handler));
    };
    route("GET", "/health", A::None, [](const Call&) {
        return server::json_response(200, {{"role", "coordinator"}, {"status", "healthy"}, {"version", common::kVersion}});
    });
    route("GET", "/ready", A::None, [](const Call&) { return server::json_response(200, {{"status", "ready"}, {"role", "coordinator"}}); });
    route("GET", "/metrics", A::None, [&e](const Call&) { return e.metrics(); });
    route("GET", "/api/v1/cluster/topology", A::ApiKey, [&e](const Call&) { return e.topology(); });
    route("GET", "/api/v1/cluster/workers", A::ApiKey, [&e](const Call&) { return e.list_workers(); });
    route("POST", "/api/v1/cluster/workers/register", A::Custom, [&e](const Call& c) { return e.register_worker(c.req); });
    route("GET", "/api/v1/cluster/workers/{id}", A::ApiKey, [&e](const Call& c) { return e.get_worker(c.id); });
    route("DELETE", "/api/v1/cluster/workers/{id}", A::ApiKey, [&e](const Call& c) { return e.delete_worker(c.id); });
    route("POST", "/api/v1/cluster/workers/{id}/heartbeat", A::Custom, [&e](const Call& c) { return e.heartbeat(c.req, c.id); });
    route("POST", "/api/v1/cluster/workers/{id}/drain", A::Custom, [this, &e](const Call& c) {
        // The worker's own token is checked by the coordinator; anyone else needs the key.
        if (c.req.header("x-worker-token").empty() && !authorised(c.req)) {
            return server::error_response(401, "unauthorized", c.req.header("x-api-key").empty() ? "missing x-api-key header" : "invalid API key");
        }
        return e.drain_worker(c.req, c.id);
    });
    route("POST", "/api/v1/cluster/pipeline-groups", A::ApiKey, [&e](const Call& c) { return e.deploy_group(c.req); });
    route("GET", "/api/v1/cluster/pipeline-groups", A::ApiKey, [&e](const Call&) { return e.list_groups(); });
    route("GET", "/api/v1/cluster/pipeline-groups/{id}", A::ApiKey, [&e](const Call& c) { return e.get_group(c.id); });
    route("DELETE", "/api/v1/cluster/pipeline-groups/{id}", A::ApiKey, [&e](const Call& c) { return e.teardown_group(c.id); });
    route("POST", "/api/v1/cluster/pipeline-groups/{id}/inject", A::ApiKey,
          [&e](const Call& c) { return e.inject(c.req, c.id, false, c.respond); });
    route("POST", "/api/v1/cluster/pipeline-groups/{id}/inject-batch", A::ApiKey,
          [&e](const Call& c) { return e.inject(c.req, c.id, true, c.respond); });
}

void CoordinatorRoutes::handle(const HttpRequest& req, const server::HttpResponder& respond) const {
    std::optional<HttpResponse> answer;
    try {
        answer = dispatch(req, respond);
    } catch (const std::exception& e) {
        answer = server::internal_error_response(e);
    }
    if (answer) respond(std::move(*answer));
}

bool CoordinatorRoutes::authorised(const HttpRequest& req) const {
    return api_key_.empty() || common::constant_time_equal(req.header("x-api-key"), api_key_);
}

std::optional<HttpResponse> CoordinatorRoutes::dispatch(const HttpRequest& req, const server::HttpResponder& respond) const {
    const RouteMatch m = table_.match(req.method, req.path);
    const bool own_auth = m.kind == RouteMatch::Kind::Found && table_.spec(m).auth != RouteAuth::ApiKey;
    if (!own_auth && under_cluster_api(req.path) && !authorised(req)) {
        return server::error_response(401, "unauthorized", req.header("x-api-key").empty() ? "missing x-api-key header" : "invalid API key");
    }
    if (m.kind == RouteMatch::Kind::NotFound) return server::route_not_found(req);
    if (m.kind == RouteMatch::Kind::MethodNotAllowed) return server::method_not_allowed(req, m);
    return table_.handler(m)(Call{req, std::string(m.id()), respond});
}

}  // namespace varpulis::cluster
