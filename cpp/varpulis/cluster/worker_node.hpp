// SPDX-License-Identifier: Apache-2.0
#pragma once

// One worker process's assembly, used by `varpulis server` and the Python `Server` alike: the
// worker API with its restored pipelines, its HTTP listener (and an optional metrics listener),
// and, with a coordinator, the agent that registers and heartbeats. Stopping drains it in one
// order for both: stop registering, stop listening, then stop each pipeline's sources, flush its
// windows and sinks, and close its log streams.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "varpulis/cluster/worker_agent.hpp"
#include "varpulis/common/status.hpp"
#include "varpulis/server/http_server.hpp"
#include "varpulis/server/worker_api.hpp"

namespace varpulis::cluster {

struct WorkerNodeOptions {
    server::WorkerApiOptions api;
    server::HttpServerOptions http;
    /// Also serve `/metrics` on its own listener at this port (0: a free one); none when unset.
    std::optional<uint16_t> metrics_port;
    /// Register with this coordinator (http://host:port); standalone when empty.
    std::string coordinator_url;
    std::string worker_id;          ///< empty: a random UUID
    std::string advertise_address;  ///< empty: scheme://bind:port of the listener
    std::string join_token;
    /// PEM certificates an https coordinator's certificate must chain to; empty: the system's.
    std::string tls_ca_file;
    /// On stop, how long the coordinator may take to move this worker's pipelines away (the
    /// listener serves meanwhile). 20 s leaves room in Kubernetes' default 30 s grace period.
    std::chrono::milliseconds drain_timeout{20000};
};

class WorkerNode {
  public:
    /// Restore the state directory's pipelines (what cannot be restored is logged), listen, and
    /// register with the coordinator if one is given. Fails when a listener cannot start or the
    /// CA file cannot be read.
    static common::Result<std::unique_ptr<WorkerNode>> start(WorkerNodeOptions options);
    ~WorkerNode();

    uint16_t port() const { return http_->port(); }
    bool tls() const { return http_->tls(); }
    /// The listener's base URL, scheme://bind:port.
    std::string url() const;
    /// The metrics listener's port, when there is one.
    std::optional<uint16_t> metrics_port() const;
    /// The worker id registered with the coordinator (empty when standalone).
    const std::string& worker_id() const { return worker_id_; }
    server::WorkerApi& api() { return *api_; }

    /// Drain (with a coordinator: /ready answers 503, the coordinator moves the pipelines away
    /// with their state, up to drain_timeout), stop registering and listening (requests in
    /// flight get `grace`), then stop every pipeline's sources, flush its windows and sinks and
    /// close its log streams. Idempotent.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

  private:
    WorkerNode() = default;
    common::Status start_metrics(uint16_t port);
    common::Status start_agent();
    void drain_pipelines();

    WorkerNodeOptions options_;
    std::unique_ptr<server::WorkerApi> api_;
    std::unique_ptr<server::HttpServer> http_;
    std::unique_ptr<server::HttpServer> metrics_;
    std::unique_ptr<WorkerAgent> agent_;
    std::string worker_id_;
    bool stopped_ = false;
};

}  // namespace varpulis::cluster
