// SPDX-License-Identifier: Apache-2.0
#pragma once

// The coordinator's HTTP routes (cluster.md "Endpoints"), declared in the route table the worker
// uses: method, path pattern, authentication, handler. Dispatch answers 404 and 405 (with
// Allow) as the worker does, and checks the API key under /api/v1/cluster/ first: a caller
// without it learns nothing, not even 404 or 405. Registration and heartbeats authenticate
// themselves (join token, heartbeat token).

#include <optional>
#include <string>
#include <vector>

#include "varpulis/server/http_server.hpp"
#include "varpulis/server/route_table.hpp"

namespace varpulis::cluster {

/// What the routes call, one operation per route; the Coordinator implements it.
class CoordinatorEndpoints {
  public:
    virtual ~CoordinatorEndpoints() = default;
    virtual server::HttpResponse metrics() const = 0;
    virtual server::HttpResponse topology() const = 0;
    virtual server::HttpResponse register_worker(const server::HttpRequest& req) = 0;
    virtual server::HttpResponse heartbeat(const server::HttpRequest& req, const std::string& id) = 0;
    virtual server::HttpResponse list_workers() const = 0;
    virtual server::HttpResponse get_worker(const std::string& id) const = 0;
    virtual server::HttpResponse delete_worker(const std::string& id) = 0;
    /// Authorised by the API key or by the worker's own heartbeat token (a worker drains itself on SIGTERM).
    virtual server::HttpResponse drain_worker(const server::HttpRequest& req, const std::string& id) = 0;
    virtual server::HttpResponse deploy_group(const server::HttpRequest& req) = 0;
    virtual server::HttpResponse list_groups() const = 0;
    virtual server::HttpResponse get_group(const std::string& id) const = 0;
    virtual server::HttpResponse teardown_group(const std::string& id) = 0;
    /// Forward an event (`batch`: a batch) to the workers; none when `respond` answers later.
    virtual std::optional<server::HttpResponse> inject(const server::HttpRequest& req, const std::string& group_id, bool batch,
                                                       const server::HttpResponder& respond) = 0;
};

class CoordinatorRoutes {
  public:
    /// `api_key`: required in x-api-key under /api/v1/cluster/; empty: open.
    CoordinatorRoutes(CoordinatorEndpoints& endpoints, std::string api_key);

    /// Answer one request; `respond` is called exactly once, maybe later on an I/O thread. An
    /// exception a handler throws is answered 500.
    void handle(const server::HttpRequest& req, const server::HttpResponder& respond) const;
    /// The routes served (the REST contract is cluster.md's endpoint table).
    const std::vector<server::RouteSpec>& specs() const { return table_.specs(); }

  private:
    struct Call {
        const server::HttpRequest& req;
        std::string id;  ///< the path's {id}, if any
        const server::HttpResponder& respond;
    };
    using Handler = std::function<std::optional<server::HttpResponse>(const Call&)>;

    void add_routes(CoordinatorEndpoints& e);
    std::optional<server::HttpResponse> dispatch(const server::HttpRequest& req, const server::HttpResponder& respond) const;
    bool authorised(const server::HttpRequest& req) const;

    std::string api_key_;
    server::RouteTable<Handler> table_;
};

}  // namespace varpulis::cluster
