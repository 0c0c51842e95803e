// SPDX-License-Identifier: Apache-2.0
#pragma once

// The engine: a compiled VPL program (a plan, plan.hpp) that takes events and returns the events
// its streams emit (vpl-language.md §1.4). Single-threaded; contexts run one engine per thread.

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "varpulis/common/status.hpp"
#include "varpulis/engine/plan.hpp"

namespace varpulis::engine {

/// An event of a batch that failed: its position in the batch and why.
struct EventFailure {
    size_t index = 0;
    common::Status status;
};

struct EngineStats {
    uint64_t events_in = 0;
    uint64_t outputs = 0;
    uint64_t errors = 0;
    uint64_t dropped_by_depth = 0;  ///< events dropped by the cycle guard
};

class Engine {
  public:
    /// Take over a compiled plan (compile_plan) whose sinks the runtime has opened. Fails when
    /// one is not open.
    static common::Result<std::unique_ptr<Engine>> create(Plan plan);

    /// Process one event to completion; append the outputs it caused, in order. Results of the
    /// streams marked with `set_exports` are also appended to `exported` (for other contexts).
    common::Status process(const EventPtr& event, std::vector<EventPtr>& outputs,
                           std::vector<EventPtr>* exported = nullptr);

    /// End of input: close open time and session windows and push what they hold through.
    common::Status flush(std::vector<EventPtr>& outputs, std::vector<EventPtr>* exported = nullptr);

    /// Mark the streams whose results other contexts consume.
    void set_exports(std::vector<Symbol> streams) { exports_ = std::move(streams); }

    /// Return true when some stream consumes events of this type.
    bool consumes(Symbol type) const;

    const std::vector<std::unique_ptr<Stream>>& streams() const { return plan_.streams; }
    const std::vector<TimerSpec>& timers() const { return plan_.timers; }
    const std::vector<SourceBinding>& source_bindings() const { return plan_.bindings; }
    /// A `connector` declaration by name, or null.
    const ConnectorConfig* connector(const std::string& name) const;
    /// The health of every sink that reports one.
    std::vector<ConnectorHealth> sink_health() const;
    /// The sinks `.to()` sends to, opened once and shared by every context's engine.
    std::vector<NamedSink> sinks() const;
    /// True when processing can wait on something outside the engine: a sink's send, or a
    /// `.print`/`.log` write to a stdout or stderr pipe that nobody drains.
    bool may_wait() const { return !plan_.sinks.empty() || plan_.writes_console; }
    const std::vector<std::string>& contexts() const { return plan_.contexts; }
    const EngineStats& stats() const { return stats_; }
    /// Events and runs held by windows, sequences, joins and distinct sets.
    size_t held() const;
    /// Events and runs dropped at a limit of an operator's state, since the start.
    uint64_t evicted() const;
    /// Bytes its windows, joins and distinct sets hold, as the state budget counts them.
    size_t state_bytes() const { return plan_.state_budget ? plan_.state_budget->held() : 0; }

    /// Snapshot the state of every stream and the top-level variables.
    nlohmann::json checkpoint() const;
    /// Restore a snapshot of an engine compiled from the same program.
    common::Status restore(const nlohmann::json& state);

    /// Read a top-level variable (for tests and the Python API).
    std::optional<Value> variable(const std::string& name) const;

  private:
    explicit Engine(Plan plan) : plan_(std::move(plan)) {}
    void run_stream(Stream& s, Batch& batch, size_t from_op);
    /// Process the work list (events flowing from stream to stream) to the end.
    /// Return the first stream error met (every other stream still ran), or nothing.
    std::optional<std::string> drain(std::vector<EventPtr>& outputs);
    void deliver(Stream& s, Batch& batch, int depth, std::vector<EventPtr>& outputs);
    OpContext op_context(const Stream& s) const;
    const std::vector<Stream*>* routes_for(Symbol type) const;

    Plan plan_;  ///< streams and routes, functions, globals (restore writes them), connectors, sinks
    std::deque<std::pair<EventPtr, int>> work_;
    Batch batch_;  ///< reused for every stream run
    std::vector<Symbol> exports_;
    std::vector<EventPtr>* exported_ = nullptr;  ///< where exported results go during a call
    EngineStats stats_;
};

}  // namespace varpulis::engine
