// SPDX-License-Identifier: Apache-2.0
#pragma once

// The cluster control plane (cluster-tutorial.md, decisions.md §3): worker registry with
// heartbeats and a health sweep, pipeline groups placed on workers, event routing, failover.
// It never processes events itself: it forwards them to the worker that runs the pipeline.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "varpulis/cluster/coordinator_options.hpp"
#include "varpulis/cluster/http_client.hpp"
#include "varpulis/cluster/inject_coalescer.hpp"
#include "varpulis/server/http_server.hpp"

namespace varpulis::cluster {

enum class WorkerStatus { Registering, Ready, Busy, Unhealthy, Draining };

struct WorkerInfo {
    std::string id;
    std::string address;      ///< http://host:port
    std::string api_key;      ///< the worker's own key, used to call it
    std::string heartbeat_token;
    WorkerStatus status = WorkerStatus::Registering;
    size_t max_pipelines = 100;
    uint64_t events_processed = 0;
    size_t pipelines_reported = 0;
    size_t connectors_total = 0;      ///< from heartbeats: broker connections of its pipelines
    size_t connectors_connected = 0;
    std::chrono::steady_clock::time_point last_heartbeat;
    uint64_t order = 0;       ///< registration order
};

struct Placement {
    std::string pipeline_name;
    std::string worker_id;
    std::string worker_address;
    std::string pipeline_id;
    std::string status = "running";
    uint64_t epoch = 1;
};

struct PipelineSpec {
    std::string name;
    std::string source;
    std::string worker_affinity;
};

struct Route {
    std::string from_pipeline;
    std::string to_pipeline;
    std::vector<std::string> event_types;
    std::string mqtt_topic;
};

struct PipelineGroup {
    std::string id;
    std::string name;
    std::string placement = "round_robin";  ///< or least_loaded
    std::vector<PipelineSpec> pipelines;
    std::vector<Route> routes;
    std::vector<Placement> placements;
};

/// A copy of a pipeline left on a worker after failover, to delete when that worker returns.
struct StaleCopy {
    std::string worker_id;
    std::string pipeline_id;
};

class Coordinator {
  public:
    explicit Coordinator(CoordinatorOptions options);
    ~Coordinator();

    /// Serve the coordinator API on bind:port (port 0: a free one) and start the health sweep.
    /// Returns the port.
    common::Result<uint16_t> serve(const std::string& bind, uint16_t port);
    /// Stop serving (in-flight requests finish), then the sweep.
    void stop();

  private:
    /// Answer one request; `respond` is called exactly once, maybe later on an I/O thread.
    void handle(const server::HttpRequest& req, const server::HttpResponder& respond);
    /// The answer, or none when `respond` will be called when a forward completes.
    std::optional<server::HttpResponse> route(const server::HttpRequest& req, const server::HttpResponder& respond);
    server::HttpResponse register_worker(const server::HttpRequest& req);
    server::HttpResponse heartbeat(const server::HttpRequest& req, const std::string& id);
    server::HttpResponse list_workers() const;
    server::HttpResponse get_worker(const std::string& id) const;
    server::HttpResponse delete_worker(const std::string& id);
    server::HttpResponse drain_worker(const std::string& id);
    server::HttpResponse deploy_group(const server::HttpRequest& req);
    server::HttpResponse list_groups() const;
    server::HttpResponse get_group(const std::string& id) const;
    server::HttpResponse teardown_group(const std::string& id);
    /// Forward an event (or a batch, split per target pipeline) to the workers, asynchronously.
    std::optional<server::HttpResponse> inject(const server::HttpRequest& req, const std::string& group_id, bool batch,
                                               const server::HttpResponder& respond);
    server::HttpResponse topology() const;
    server::HttpResponse prometheus() const;

    nlohmann::ordered_json worker_json(const WorkerInfo& w) const;
    nlohmann::ordered_json group_json(const PipelineGroup& g) const;
    /// Choose a worker for a pipeline (lock held). Empty when none is available.
    std::string choose_worker(const PipelineGroup& g, const PipelineSpec& spec, const std::vector<std::string>& exclude);
    /// Deploy one pipeline on a worker (no lock held). Returns the worker's pipeline id.
    common::Result<std::string> deploy_on(const WorkerInfo& w, const PipelineGroup& group, const PipelineSpec& spec);
    /// The MQTT topic of a pipeline-to-pipeline route.
    static std::string route_topic(const PipelineGroup& group, const Route& route);
    /// The publish and subscribe routes a pipeline of the group is deployed with.
    nlohmann::ordered_json mqtt_routes_for(const PipelineGroup& group, const std::string& pipeline) const;
    void remove_from(const WorkerInfo& w, const std::string& pipeline_id);
    void start_sweep();
    void sweep();
    void failover(const std::string& worker_id);
    /// Forget unhealthy workers silent for longer than the expiry that run nothing any more.
    void expire_silent_workers();
    void remove_stale_copies(const std::string& worker_id);
    /// After a worker (re)registers: deploy again the pipelines placed on it that it no longer
    /// runs (a restarted process starts empty).
    void reconcile(const std::string& worker_id);
    bool available(const WorkerInfo& w) const;
    size_t assigned(const std::string& worker_id) const;
    /// Write the state directory (no lock held); OK without one.
    common::Status save() const;
    /// Save after a change made in the background (sweep, failover): a failure is logged.
    void save_or_log(const std::string& change) const;
    void load();

    CoordinatorOptions options_;
    mutable std::mutex mutex_;
    std::map<std::string, WorkerInfo> workers_;
    std::map<std::string, std::string> deregistered_;  ///< tombstones: id → reason
    std::vector<std::shared_ptr<PipelineGroup>> groups_;
    std::vector<StaleCopy> stale_;
    uint64_t next_order_ = 0;
    uint64_t round_robin_ = 0;
    HttpClient client_;  ///< control calls (deploys, deletes), from pool and sweep threads
    std::unique_ptr<server::HttpServer> http_;
    std::shared_ptr<AsyncHttpClient> forwarder_;  ///< injects, on http_'s I/O threads; set under mutex_
    std::shared_ptr<InjectCoalescer> coalescer_;  ///< single injects, through forwarder_; set under mutex_
    std::thread sweeper_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::atomic<uint64_t> injects_{0}, heartbeats_{0}, failovers_{0};
};

const char* worker_status_name(WorkerStatus s);

}  // namespace varpulis::cluster
