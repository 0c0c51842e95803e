// SPDX-License-Identifier: Apache-2.0
#pragma once

// The worker's REST API (decisions.md §2, api-reference.md §1) as a request → response function:
// routing, authentication, JSON in and out, limits, metrics. No sockets here: the transport is
// http_server, and tests call `handle` directly.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "varpulis/common/secret.hpp"
#include "varpulis/engine/event_json.hpp"
#include "varpulis/server/http_server.hpp"
#include "varpulis/server/pipeline_registry.hpp"
#include "varpulis/server/route_table.hpp"

namespace varpulis::server {

struct WorkerApiOptions {
    std::string api_key;               ///< empty: no authentication (a warning at start-up)
    std::string state_dir;             ///< empty: definitions in memory only
    /// The directory file connectors of deployed programs write in (a path outside it refuses
    /// the deploy). Empty: `<state_dir>/files`, or `varpulis-files` in the working directory.
    std::string file_root;
    size_t json_body_limit = 1 << 20;  ///< deploy, single inject, reload
    size_t large_body_limit = 16 << 20;  ///< batch inject, and restore beside the state budget
    /// Bytes a pipeline's windows, joins and distinct sets may hold (EngineOptions::max_state_bytes).
    size_t max_state_bytes = size_t{64} << 20;
    engine::EventLimits event_limits;
    size_t max_outputs_in_response = 10'000;
    double rate_limit = 0;             ///< requests per second per client on /api/v1 (0: off)
    /// An events-each answer stops growing past this: the remaining events are answered "not
    /// processed" (status 0) and the coordinator sends them again.
    size_t each_answer_budget = 16 << 20;
    /// How long an inject waits for at-least-once sinks (MQTT at QoS 1/2) to have its outputs
    /// acknowledged; after it, the answer is 503 not_acknowledged (the outputs stay spooled).
    std::chrono::milliseconds delivery_timeout{5000};
    /// How long a deploy waits for its sources' subscriptions to be acknowledged before it
    /// answers "connecting" rather than "running".
    std::chrono::milliseconds subscribe_wait{2000};
};

/// What a worker route's handler gets: the request, its pipeline (routes with `{id}`), and the
/// rate-limit tokens granted to it.
struct WorkerCall {
    const HttpRequest& req;
    std::shared_ptr<Pipeline> pipeline;
    size_t granted = 1;
};
using WorkerHandler = std::function<HttpResponse(const WorkerCall&)>;


class WorkerApi {
  public:
    explicit WorkerApi(WorkerApiOptions options);

    /// Load the pipelines saved in the state directory; returns messages for the log.
    std::vector<std::string> restore();

    /// Answer one request (called on a worker thread).
    void handle(const HttpRequest& req, const HttpResponder& respond);
    HttpResponse handle(const HttpRequest& req);

    /// The body limit for a path (the transport enforces it before reading the body).
    size_t body_limit(std::string_view path) const;
    /// What restore takes: room for any checkpoint of state within the budget (a checkpoint
    /// writes an event in about as many bytes as the budget counts for it, twice is the margin).
    size_t restore_body_limit() const { return options_.large_body_limit + 2 * options_.max_state_bytes; }
    /// Set `http`'s body limits and fast path to this API's: the server then calls answer_inline
    /// on the I/O thread that read a request before it hands the request to the pool.
    void wire(HttpServerOptions& http);
    /// Answer `GET /health`, `GET /ready`, or an inject (events, or events-each of up to 16
    /// lines) on the calling I/O thread and return true: two thread hand-offs less per request.
    /// An inject only when nothing in it can wait (see Pipeline::hold_for_inline); anything
    /// else: false, and the pool answers it.
    bool answer_inline(const HttpRequest& req, const HttpResponder& respond);

    /// `/ready` answers 200 once this is true (set when serving; a cluster worker also waits
    /// for its registration).
    void set_ready(bool ready) { ready_ = ready; }
    /// Extra readiness condition (e.g. registered with the coordinator); null: none.
    void set_ready_check(std::function<bool()> check) { ready_check_ = std::move(check); }

    PipelineRegistry& registry() { return registry_; }
    /// Total events processed by all pipelines (heartbeats).
    uint64_t events_processed() const;
    /// Connectors (sinks, sources, routes) of every pipeline, and how many are connected.
    engine::ConnectorTotals connector_summary() const;
    /// The routes this API serves (its REST contract is api/worker.openapi.json).
    const std::vector<RouteSpec>& routes() const { return routes_.specs(); }
    /// A secret made when this process started; `GET /health` shows only its SHA-256 digest
    /// (`instance`). A worker's registration presents the secret, so that the coordinator can
    /// tell the process at a worker's address from one that only claims its id.
    const std::string& instance_secret() const { return instance_secret_; }

  private:
    void add_routes();
    HttpResponse route(const HttpRequest& req);
    HttpResponse health() const;
    HttpResponse ready() const;
    HttpResponse prometheus() const;
    HttpResponse deploy(const HttpRequest& req);
    HttpResponse list(const HttpRequest& req) const;
    HttpResponse inject(std::string_view body, Pipeline& p);
    /// POST .../events-each: JSON lines in, each processed as POST .../events would be, and one
    /// line per event out, {"status", "response"}, in order (the coordinator's grouped injects).
    /// Lines past `allowed` (the rate limit's tokens) are answered 429; status 0: not processed.
    HttpResponse inject_each(const HttpRequest& req, Pipeline& p, size_t allowed);
    HttpResponse inject_batch(const HttpRequest& req, Pipeline& p);
    /// Run an inject under the pipeline's delivery guarantee: refused (503, nothing processed)
    /// while a sink cannot keep what it would produce; 2xx only once its outputs are
    /// acknowledged by at-least-once sinks, else 503 not_acknowledged.
    HttpResponse delivered(Pipeline& p, const std::function<HttpResponse()>& inject);
    /// The 503 of an inject refused because a sink cannot keep its outputs.
    static HttpResponse sink_unavailable(Pipeline& p, const std::string& why);
    HttpResponse metrics(const Pipeline& p) const;
    HttpResponse reload(const HttpRequest& req, Pipeline& p);
    HttpResponse checkpoint(Pipeline& p);
    HttpResponse restore_checkpoint(const HttpRequest& req, Pipeline& p);
    HttpResponse usage() const;
    bool authorised(const HttpRequest& req) const;
    /// Take up to `wanted` of the client's rate-limit tokens; returns how many it got.
    size_t take_tokens(const std::string& client, size_t wanted);
    void count(int status);

    WorkerApiOptions options_;
    PipelineRegistry registry_;
    RouteTable<WorkerHandler> routes_;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    const std::string instance_secret_ = common::random_secret();
    const std::string instance_digest_ = common::sha256_hex(instance_secret_);
    std::atomic<bool> ready_{false};
    std::function<bool()> ready_check_;
    std::shared_ptr<ConnectionCounters> connection_counters_ = std::make_shared<ConnectionCounters>();
    mutable std::mutex stats_mutex_;
    std::map<int, uint64_t> requests_by_status_;
    struct Bucket {
        double tokens = 0;
        std::chrono::steady_clock::time_point last;
    };
    std::mutex rate_mutex_;
    std::map<std::string, Bucket> buckets_;
};

}  // namespace varpulis::server
