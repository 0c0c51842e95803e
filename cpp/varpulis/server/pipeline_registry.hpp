// SPDX-License-Identifier: Apache-2.0
#pragma once

// The pipelines a worker runs: each a VPL program compiled into a Runtime, with its own
// counters, its log subscribers, and (with a state directory) a durable definition.

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <condition_variable>
#include <optional>
#include <thread>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "varpulis/common/log.hpp"
#include "varpulis/common/status.hpp"
#include "varpulis/engine/runtime.hpp"
#include "varpulis/engine/source.hpp"
#include "varpulis/server/http_types.hpp"
#include "varpulis/server/pipeline_routes.hpp"
#include "varpulis/vpl/diagnostic.hpp"

namespace varpulis::server {

/// Latency histogram bucket bounds in seconds (Prometheus `le`).
inline constexpr std::array<double, 9> kLatencyBuckets = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0};

struct PipelineCounters {
    std::atomic<uint64_t> events_in{0};
    std::atomic<uint64_t> outputs{0};
    std::atomic<uint64_t> errors{0};
    std::atomic<uint64_t> refused_sink_unavailable{0};  ///< injects refused: a sink could not keep their outputs
    std::atomic<uint64_t> not_acknowledged{0};  ///< injects processed whose outputs the broker had not acknowledged in time
    std::atomic<uint64_t> latency_ns_total{0};
    std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> latency_buckets{};  ///< last: +Inf

    /// How cheap recent processing calls were: +1 per call under 100 µs per event (up to 2,000),
    /// -20 per call over it, back to 0 on a call over 1 ms per event. Recent, not lifetime: a
    /// pipeline that turns slow falls under kProvenCheap within a few dozen calls, or at once.
    std::atomic<int64_t> cheapness{0};
    static constexpr int64_t kProvenCheap = 1000;

    void record_latency(int64_t ns);
    /// Cheap enough to be processed on an I/O thread: 1,000 fast calls more than the slow ones' toll.
    bool proven_cheap() const { return cheapness.load(std::memory_order_relaxed) >= kProvenCheap; }
    /// Start proving again (a slow request, a new program).
    void demote() { cheapness.store(0, std::memory_order_relaxed); }
};

class Pipeline {
  public:
    ~Pipeline();

    std::string id;
    std::string name;
    /// The coordinator's group that deployed it (empty: deployed directly). A pipeline naming a
    /// group the coordinator does not know is an orphan of a crash, which it removes.
    std::string group_id;
    int64_t created_at_ms = 0;
    PipelineCounters counters;

    std::string source() const;
    std::shared_ptr<engine::Runtime> runtime() const;
    /// Set the program: before the pipeline is registered, or by reload (under the lifecycle lock,
    /// which an InlineHold also holds).
    void replace(std::string source, std::shared_ptr<engine::Runtime> runtime);

    /// The pipeline held for a call answered on an I/O thread: its program and routes cannot
    /// change (no reload or reconnect starts) and no other call can run on its engine until
    /// release(). False when such a call could wait: the pipeline is not proven cheap, fans out
    /// to contexts, has sinks, `.print`/`.log` or publish routes (a send may wait out a broker
    /// outage), or another call holds its engine or changes its program.
    class InlineHold {
      public:
        explicit operator bool() const { return engine_.owns_lock(); }
        /// Unlock the engine, drop the runtime, then let reloads in, in that order: the runtime
        /// must outlive its lock.
        void release();
        ~InlineHold() { release(); }
        InlineHold() = default;
        InlineHold(InlineHold&&) = default;
        InlineHold& operator=(InlineHold&&) = delete;

      private:
        friend class Pipeline;
        std::unique_lock<std::mutex> lifecycle_;
        std::shared_ptr<engine::Runtime> runtime_;
        std::unique_lock<std::recursive_mutex> engine_;
    };
    InlineHold hold_for_inline();

    /// Fire the pipeline's timers due by `now_ns` (wall clock); outputs go to log subscribers.
    void tick(int64_t now_ns);

    /// Process events and record counters and latency; outputs are appended and broadcast to
    /// log subscribers.
    /// Process events in order and deliver their outputs; return the events that failed (each
    /// counted as an error), by their position in `events`. The others are all processed.
    std::vector<engine::EventFailure> process(const std::vector<engine::EventPtr>& events,
                                              std::vector<engine::EventPtr>& outputs);

    /// Start the program's `.from(...)` sources and the pipeline's routes; their events are
    /// processed like injected ones. All or nothing.
    common::Status connect(const PipelineRoutes& routes);
    /// Stop sources and routes (the pipeline is going away or its program is replaced).
    void disconnect();
    /// Replace the program and restart its sources and routes; when the new program's sources
    /// cannot start, the old program goes on and the error is returned.
    common::Status reload(std::string source, std::shared_ptr<engine::Runtime> runtime);
    PipelineRoutes routes() const;
    /// Sinks, sources and routes that have a connection, with their state.
    std::vector<engine::ConnectorHealth> connector_health() const;

    /// Why new events must wait, when they must: an at-least-once sink or publish route whose
    /// broker is away or whose spool is full (it would have to keep what it cannot send).
    std::optional<std::string> blocked_sink() const;
    /// True once every source and subscribed route receives (Source::ready): status "running";
    /// before, "connecting".
    bool sources_ready() const;
    /// Wait until the outputs sent so far are acknowledged by their brokers, or the deadline.
    bool wait_delivered(std::chrono::steady_clock::time_point deadline) const;

    std::shared_ptr<SseChannel> subscribe();
    /// Close every log stream (the pipeline is going away).
    void close_subscribers();

  private:
    struct Outbound {
        std::shared_ptr<engine::Sink> sink;
        RouteLink route;
    };

    common::Status connect_locked(const PipelineRoutes& routes);
    /// Every sink outputs go to: the program's and the publish routes', collected once per
    /// connect (a reload connects again), so the inject path only copies a pointer.
    std::shared_ptr<const std::vector<engine::NamedSink>> all_sinks() const;
    static std::shared_ptr<const std::vector<engine::NamedSink>> collect_sinks(const engine::Runtime& rt,
                                                                              const std::vector<Outbound>& outbound);
    /// A source's event waits while a sink is blocked, so the spool stays bounded; a
    /// disconnect ends the wait.
    void wait_for_sinks();
    void disconnect_locked();
    void broadcast(const std::vector<engine::EventPtr>& outputs);
    /// Send outputs along the publish routes.
    void forward(const std::vector<engine::EventPtr>& outputs);
    /// Outputs of the events at and after `from` reach log subscribers and routes.
    void deliver(const std::vector<engine::EventPtr>& outputs, size_t from);

    mutable std::mutex mutex_;
    std::string source_;
    std::shared_ptr<engine::Runtime> runtime_;
    std::vector<std::weak_ptr<SseChannel>> subscribers_;
    std::mutex lifecycle_mutex_;      ///< serialises connect, disconnect and reload
    log::Throttle source_errors_;     ///< the log of events from sources that fail
    log::Throttle source_waits_{std::chrono::seconds(10)};  ///< the log of sources waiting for a sink
    std::atomic<bool> disconnecting_{false};  ///< ends a source's wait for its sinks
    PipelineRoutes routes_;
    mutable std::mutex links_mutex_;  ///< sources_ and outbound_; never held while a source stops or a sink sends
    std::shared_ptr<const std::vector<Outbound>> outbound_;  ///< null: no publish routes
    std::vector<std::unique_ptr<engine::Source>> sources_;
    std::shared_ptr<const std::vector<engine::NamedSink>> sinks_;  ///< all_sinks(); null before the first connect
};

/// What a deploy may bring besides the program: the owning group, and the state to start from.
struct DeployExtras {
    std::string group_id;
    /// A checkpoint (POST .../checkpoint's `checkpoint`) restored before sources and routes
    /// start, so nothing they deliver is processed against empty state and then overwritten.
    const nlohmann::ordered_json* checkpoint = nullptr;
};

/// Deploy failed: the program's diagnostics, or a plain error (e.g. the state could not be saved).
struct DeployError {
    vpl::Diagnostics diagnostics;
    common::Status status;
    bool bad_checkpoint = false;  ///< the program compiled, the checkpoint given with it did not restore
};

class PipelineRegistry {
  public:
    /// `state_dir` empty: definitions live in memory only. Every pipeline starts with `options`
    /// (its file root, say).
    explicit PipelineRegistry(std::string state_dir = {}, engine::RuntimeOptions options = {});
    ~PipelineRegistry();

    /// Start the thread that fires `timer(...)` sources of every pipeline (every 10 ms).
    void start_timers();

    /// Compile and register a pipeline (a new id unless `id` is given).
    std::variant<std::shared_ptr<Pipeline>, DeployError> deploy(const std::string& name, const std::string& source,
                                                                std::optional<std::string> id = std::nullopt,
                                                                const PipelineRoutes& routes = {}, const DeployExtras& extras = {});
    std::shared_ptr<Pipeline> get(const std::string& id) const;
    /// Pipelines in deployment order.
    std::vector<std::shared_ptr<Pipeline>> list() const;
    bool remove(const std::string& id);
    /// Replace a pipeline's program, keeping its id; state starts fresh.
    std::optional<DeployError> reload(const std::shared_ptr<Pipeline>& pipeline, const std::string& source);
    size_t size() const;

    /// Load the definitions saved in the state directory. Returns messages about what could not
    /// be restored (a corrupt file is set aside, never fatal).
    std::vector<std::string> restore();

  private:
    /// Compile, connect and list a pipeline without saving (restore saves once at the end).
    std::variant<std::shared_ptr<Pipeline>, DeployError> add(const std::string& name, const std::string& source,
                                                             std::optional<std::string> id, const PipelineRoutes& routes,
                                                             const DeployExtras& extras);
    /// Write the definitions to the state file. Saves run one at a time and each takes its
    /// snapshot after the previous write, so the last write holds every change made before it
    /// started: concurrent deploys cannot overwrite each other's entries.
    common::Status save() const;

    std::string state_dir_;
    engine::RuntimeOptions runtime_options_;
    mutable std::mutex save_mutex_;
    mutable std::mutex mutex_;
    std::vector<std::shared_ptr<Pipeline>> pipelines_;
    std::thread timer_thread_;
    std::condition_variable timer_cv_;
    bool stopping_ = false;
};

}  // namespace varpulis::server
