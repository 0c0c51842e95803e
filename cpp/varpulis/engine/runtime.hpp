// SPDX-License-Identifier: Apache-2.0
#pragma once

// The façade every front door uses (CLI, server, Python): load a VPL program from source, push
// events in, get outputs back. A program whose streams use contexts runs one engine per context
// thread behind it (context_runtime.hpp); others run one engine on the caller's thread.

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "varpulis/common/status.hpp"
#include "varpulis/engine/engine.hpp"
#include "varpulis/vpl/diagnostic.hpp"

namespace varpulis::engine {

class ContextRuntime;

struct RuntimeOptions {
    EngineOptions engine;
    size_t context_queue_capacity = 10'000;  ///< events waiting per context before pushes block
    /// Empty: file connectors write where their path says (the CLI runs the user's own files).
    /// Set (absolute, without `..`): every file connector's path is opened inside
    /// this directory, and a path outside it refuses the program (the servers).
    std::string file_root;
};

class Runtime;

/// The outcome of loading a program: a runtime, or the diagnostics that refused it.
struct LoadResult {
    std::unique_ptr<Runtime> runtime;
    vpl::Diagnostics diagnostics;  ///< errors (when runtime is null) and warnings
};

/// The outcome of compiling a program without starting it: its plan, or the diagnostics that
/// refused it.
struct PlanResult {
    std::optional<ProgramPlan> plan;
    vpl::Diagnostics diagnostics;  ///< errors (when plan is empty) and warnings
};

/// Counters over all of a runtime's engines.
struct RuntimeStats {
    uint64_t events_in = 0;
    uint64_t outputs = 0;
    uint64_t errors = 0;
    uint64_t dropped_by_depth = 0;
    size_t held = 0;
    uint64_t evicted = 0;  ///< state dropped at a limit (sequence runs past their caps, the state budget)
    size_t state_bytes = 0;  ///< what the state budget counts (EngineOptions::max_state_bytes)

    RuntimeStats& operator+=(const RuntimeStats& other);
};

/// Thread-safe: pushes from several threads are serialised on a single engine, and run in
/// parallel across contexts.
class Runtime {
  public:
    /// Check, validate and compile a program, then start it. Engine-level refusals, and sinks
    /// that cannot be opened, become diagnostics too.
    static LoadResult from_source(std::string_view source, const RuntimeOptions& options = {});

    /// Check, validate and compile a program without starting it: every refusal of from_source
    /// but a sink's that cannot be opened, and nothing opened, connected or started.
    static PlanResult compile(std::string_view source, const RuntimeOptions& options = {});

    /// Start a compiled program: open the sinks of its plan once (every context's engine shares
    /// them) and start its context threads. Fails when a sink cannot be opened.
    static common::Result<std::unique_ptr<Runtime>> start(ProgramPlan plan, const RuntimeOptions& options = {});
    ~Runtime();

    /// Process one event to completion and append its outputs.
    common::Status push(const EventPtr& event, std::vector<EventPtr>& outputs);

    /// Build an event and push it. Without a timestamp, the previous event's time is used.
    common::Status push(std::string_view type, std::vector<std::pair<std::string, Value>> fields,
                        std::optional<int64_t> timestamp, std::vector<EventPtr>& outputs);

    /// Process several events; with contexts they run in parallel. Outputs of different events
    /// may interleave when contexts are used. Every event is processed: one that fails is added
    /// to `failures` with its position in `events`, and the ones after it still run.
    void push_many(const std::vector<EventPtr>& events, std::vector<EventPtr>& outputs,
                   std::vector<EventFailure>& failures);
    /// The same, answering the first failure, which names the event's position.
    common::Status push_many(const std::vector<EventPtr>& events, std::vector<EventPtr>& outputs);

    /// Close open time and session windows (end of input).
    common::Status flush(std::vector<EventPtr>& outputs);

    /// Process every event of a `.evt` file, then flush.
    common::Status run_file(const std::string& path, std::vector<EventPtr>& outputs);

    /// Fire the `timer(...)` sources due up to `now_ns` (event time, nanoseconds). The first call
    /// sets the timers' origin. Returns the outputs of the timer events.
    common::Status advance_time(int64_t now_ns, std::vector<EventPtr>& outputs);

    /// Snapshot the state of every window, sequence run, join buffer, distinct set, limit and
    /// variable (in every context).
    common::Result<nlohmann::json> checkpoint();
    /// Restore a snapshot of a runtime of the same program.
    common::Status restore(const nlohmann::json& state);

    std::vector<std::string> stream_names() const;
    std::vector<std::string> contexts() const;
    const std::vector<TimerSpec>& timers() const;
    const std::vector<SourceBinding>& source_bindings() const;
    const ConnectorConfig* connector(const std::string& name) const;
    std::vector<ConnectorHealth> sink_health() const;
    /// The program's sinks (Engine::sinks).
    std::vector<NamedSink> sinks() const;
    RuntimeStats stats() const;
    std::optional<Value> variable(const std::string& name) const;
    int64_t last_timestamp() const { return last_timestamp_.load(std::memory_order_relaxed); }
    bool uses_contexts() const { return contexts_ != nullptr; }
    /// The directory its file connectors are confined to (RuntimeOptions::file_root); connectors
    /// the host opens for it, such as routes, take it too.
    const std::string& file_root() const { return file_root_; }
    /// True when processing can wait on something outside the engine (see Engine::may_wait).
    bool may_wait() const;
    /// The single engine held by a caller that must not wait for it, or an unowned lock when
    /// another thread holds it (or with contexts, which have no single engine). Pushes from the
    /// holding thread go on while it holds the engine (hence a recursive mutex: the holder
    /// pushes through the ordinary calls rather than a second, lock-free set of them).
    std::unique_lock<std::recursive_mutex> try_hold() const;

  private:
    Runtime() = default;

    const Engine& first_engine() const;

    std::unique_ptr<Engine> engine_;           ///< without contexts
    std::unique_ptr<ContextRuntime> contexts_; ///< with contexts
    std::unique_ptr<Engine> shape_;            ///< with contexts: a full engine for metadata only
    mutable std::recursive_mutex mutex_;       ///< serialises pushes on the single engine; see try_hold
    std::atomic<int64_t> last_timestamp_{0};  ///< written by every pushing thread (HTTP, sources)
    std::optional<int64_t> timer_origin_;
    std::vector<int64_t> next_fire_;           ///< per timer
    std::string file_root_;
};

}  // namespace varpulis::engine
