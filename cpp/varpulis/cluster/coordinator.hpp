// SPDX-License-Identifier: Apache-2.0
#pragma once

// The cluster control plane (cluster-tutorial.md, decisions.md §3): it never processes events
// itself, it forwards them to the worker that runs the pipeline. The composition root of its
// parts (after Redpanda's members_table, members_backend and balancer planner):
// membership/ (the worker table), groups/ (the group table, routes between pipelines),
// placement/ (the planner), routing/ (forwarding injects), store/ (state between runs) and
// api/ (the HTTP routes). What is left here is what joins them: one mutex over the tables, the
// calls to workers (deploy, delete, list) made without it, and the health sweep's thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "varpulis/cluster/api/coordinator_routes.hpp"
#include "varpulis/cluster/coordinator_options.hpp"
#include "varpulis/cluster/groups/group_table.hpp"
#include "varpulis/cluster/http_client.hpp"
#include "varpulis/cluster/membership/worker_table.hpp"
#include "varpulis/cluster/placement/placement_planner.hpp"
#include "varpulis/cluster/routing/inject_forwarder.hpp"
#include "varpulis/cluster/store/checkpoint_store.hpp"
#include "varpulis/cluster/store/state_store.hpp"
#include "varpulis/server/http_server.hpp"

namespace varpulis::cluster {

struct RegistrationBody;  // a registration request read (coordinator.cpp)

class Coordinator : private CoordinatorEndpoints {
  public:
    /// State in `options.state_dir` (coordinator.json), or in memory without one.
    explicit Coordinator(CoordinatorOptions options);
    /// State in `store` (tests).
    Coordinator(CoordinatorOptions options, std::unique_ptr<StateStore> store);
    ~Coordinator() override;

    /// Serve the coordinator API on bind:port (port 0: a free one) and start the health sweep.
    /// Returns the port.
    common::Result<uint16_t> serve(const std::string& bind, uint16_t port);
    /// Stop serving (in-flight requests finish), then the sweep.
    void stop();
    /// The routes served.
    const std::vector<server::RouteSpec>& routes() const { return routes_.specs(); }

  private:
    /// A pipeline of a group to deploy on a worker (no lock held while it is).
    struct Deployment {
        std::shared_ptr<PipelineGroup> group;
        size_t index;  ///< of the pipeline and its placement
        PipelineSpec spec;
        WorkerInfo worker;
        std::string pipeline_id;  ///< the placement's when planned: a reconciliation sees it did not move
    };

    // The routes' operations (api/coordinator_routes.hpp).
    server::HttpResponse metrics() const override;
    server::HttpResponse topology() const override;
    server::HttpResponse register_worker(const server::HttpRequest& req) override;
    server::HttpResponse heartbeat(const server::HttpRequest& req, const std::string& id) override;
    server::HttpResponse list_workers() const override;
    server::HttpResponse get_worker(const std::string& id) const override;
    server::HttpResponse delete_worker(const std::string& id) override;
    server::HttpResponse drain_worker(const server::HttpRequest& req, const std::string& id) override;
    server::HttpResponse deploy_group(const server::HttpRequest& req) override;
    server::HttpResponse list_groups() const override;
    server::HttpResponse get_group(const std::string& id) const override;
    server::HttpResponse teardown_group(const std::string& id) override;
    std::optional<server::HttpResponse> inject(const server::HttpRequest& req, const std::string& group_id, bool batch,
                                               const server::HttpResponder& respond) override;

    // Deploying a group (coordinator_groups.cpp): plan under the lock, perform without it, roll
    // back what was deployed when any pipeline failed.
    /// The refusal of a group whose worker_affinity names a worker never registered (a typo
    /// would otherwise fall back to round-robin silently); none when every affinity is known.
    std::optional<std::string> unknown_affinity(const PipelineGroup& group) const;
    common::Result<std::vector<Deployment>> plan(const std::shared_ptr<PipelineGroup>& group);
    nlohmann::ordered_json perform(const std::vector<Deployment>& plan);
    void rollback(const std::vector<Deployment>& plan);

    // Calls to workers, with no lock held.
    /// Deploy a pipeline of the group; `checkpoint` (a checkpoint's JSON text) is restored
    /// before its sources and routes start.
    common::Result<std::string> deploy_on(const WorkerInfo& w, const PipelineGroup& group, const PipelineSpec& spec,
                                          const std::string* checkpoint = nullptr);
    void remove_from(const WorkerInfo& w, const std::string& pipeline_id);
    /// A pipeline a worker runs, and the group that deployed it (empty: deployed directly).
    struct Running {
        std::string id, group_id;
    };
    /// The pipelines a worker runs; none when it cannot say.
    std::optional<std::vector<Running>> running_on(const WorkerInfo& w);
    /// The JSON text of a pipeline's checkpoint taken now; none when the worker gives none (logged).
    std::optional<std::string> checkpoint_from(const WorkerInfo& w, const std::string& pipeline_id);

    // Who may register a worker id (no lock held). Anyone when no live worker holds it; else a
    // registration that presents the holder's heartbeat token, or whose process is the one at
    // the holder's address (a restart there), or any once nothing answers at that address.
    bool may_take_id(const RegistrationBody& presented);
    bool holder_stopped_or_is(const WorkerInfo& holder, const std::string& instance);

    // The health sweep and what follows a worker's failure or return.
    void start_sweep();
    void sweep();
    /// A worker's address refused a connection (forwarder, I/O thread): the sweep probes it now.
    void suspect(const std::string& worker_id);
    /// Probe the suspects; those whose /health does not answer are unhealthy now and fail over.
    void confirm_suspects(const std::vector<std::string>& ids);
    /// Where a forward refused at `failed` goes now, once its pipeline has moved (lock taken).
    std::optional<InjectTarget> moved_target(const InjectTarget& failed) const;
    // Moving pipelines (coordinator_moves.cpp).
    /// Where each pipeline placed on `worker_id` goes, planned against the loads as the moves
    /// fill them (lock held); those no other worker can take go to `stuck`, when given.
    std::vector<Deployment> plan_moves_off(const std::string& worker_id, std::vector<Deployment>* stuck = nullptr);
    /// Deploy from `state` (a checkpoint's text) when there is one (`restored` says whether it
    /// was taken); when the worker refuses it, again with empty state, counted as a checkpoint
    /// failure.
    common::Result<std::string> deploy_with_state(const WorkerInfo& w, const PipelineGroup& group, const PipelineSpec& spec,
                                                  const std::optional<std::string>& state, bool* restored = nullptr);
    /// Place the pipelines of a gone worker elsewhere, each from its last kept checkpoint.
    void failover(const std::string& worker_id);
    /// Move a pipeline off a live worker with its state: injects to it are held, the old copy
    /// is checkpointed and removed, the new one deployed from the checkpoint (back on `from`
    /// when the target refuses). True when it runs at `d.worker` now.
    bool move_live(const Deployment& d, const WorkerInfo& from);
    /// Move the pipelines whose worker_affinity names `worker_id` back to it, when their group
    /// rebalances (the default).
    void return_to_affinity(const std::string& worker_id);
    void remove_stale_copies(const std::string& worker_id);
    /// After a worker (re)registers: deploy again the pipelines placed on it that it no longer
    /// runs (a restarted process starts empty), and note the pipelines it runs that no group owns.
    void reconcile(const std::string& worker_id);
    /// Remove the pipelines of `running` that a group deployed and no placement names, once seen
    /// so for longer than the orphan grace (a deploy or move in progress is not an orphan).
    void remove_orphans(const WorkerInfo& w, const std::vector<Running>& running);
    /// The periodic work besides the health sweep: checkpoints and the orphan scan.
    void start_housekeeping();
    void checkpoint_all();
    void scan_for_orphans();

    /// The workers as the planner sees them (lock held).
    std::vector<WorkerLoad> loads() const;
    /// Where an injected event of `type` goes in `group` (lock held); none when unplaced.
    std::optional<InjectTarget> inject_target(const PipelineGroup& group, std::string_view type) const;

    /// Save the state (no lock held).
    common::Status save() const;
    /// Save after a change made in the background (sweep, failover): a failure is logged.
    void save_or_log(const std::string& change) const;
    void load();

    CoordinatorOptions options_;
    std::unique_ptr<StateStore> store_;
    mutable std::mutex save_mutex_;  ///< saves in order: the last change's state is written last
    mutable std::mutex mutex_;       ///< over the three tables, forwarder_ and stopping_
    WorkerTable workers_;
    GroupTable groups_;
    PlacementPlanner planner_;
    HttpClient client_;  ///< control calls (deploys, deletes), from pool and sweep threads
    HttpClient probe_client_;  ///< /health of a worker whose id is registered again: a short timeout
    CheckpointStore checkpoints_;
    CoordinatorRoutes routes_;
    std::shared_ptr<server::ConnectionCounters> connection_counters_ = std::make_shared<server::ConnectionCounters>();
    std::unique_ptr<server::HttpServer> http_;
    std::shared_ptr<InjectForwarder> forwarder_;  ///< injects, on http_'s I/O thread
    std::thread sweeper_;
    std::thread housekeeper_;
    std::set<std::string> deploying_;  ///< groups whose deploy is in progress (under mutex_)
    /// Pipelines found on workers that no placement names, by worker id/pipeline id: when first seen.
    std::map<std::string, std::chrono::steady_clock::time_point> orphans_seen_;
    std::set<std::string> suspects_;  ///< workers to probe now (under mutex_)
    std::condition_variable wake_;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::atomic<uint64_t> injects_{0}, heartbeats_{0}, failovers_{0}, workers_found_gone_{0};
    std::atomic<uint64_t> moves_{0}, checkpoints_taken_{0}, checkpoint_failures_{0}, restores_{0}, orphans_removed_{0};
};

}  // namespace varpulis::cluster
