// SPDX-License-Identifier: Apache-2.0
#pragma once

// The engine: a compiled VPL program that takes events and returns the events its streams emit
// (vpl-language.md §1.4). Single-threaded; contexts run one engine per thread.

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "varpulis/common/status.hpp"
#include "varpulis/engine/function.hpp"
#include "varpulis/engine/operator.hpp"
#include "varpulis/engine/sink.hpp"
#include "varpulis/vpl/ast.hpp"

namespace varpulis::engine {

struct EngineOptions {
    FunctionLimits functions;
    size_t max_runs_per_partition = 10'000;  ///< sequence runs kept per partition
    size_t distinct_capacity = 100'000;      ///< keys remembered by .distinct()
    int max_depth = 10;                      ///< stream-to-stream hops before an event is dropped (cycles)
    /// When set, only streams whose `.context(...)` is this name (and streams without a context)
    /// are loaded: the engine of one context thread.
    std::optional<std::string> only_context;
};

/// A `timer(interval, initial_delay: d)` source: fires `Timer_<Stream>` events.
struct TimerSpec {
    std::string stream;
    Symbol event_type = kNoSymbol;
    int64_t interval_ns = 0;
    int64_t initial_delay_ns = 0;
};

/// A `Type.from(Connector, topic: ..., ...)` source binding, for `varpulis run`.
struct SourceBinding {
    std::string stream;
    std::string event_type;
    std::string connector;
    std::map<std::string, Value> params;
};

struct EngineStats {
    uint64_t events_in = 0;
    uint64_t outputs = 0;
    uint64_t errors = 0;
    uint64_t dropped_by_depth = 0;  ///< events dropped by the cycle guard
};

/// One compiled stream: its inputs, its operators, and whether its results leave the engine.
struct Stream {
    std::string name;
    Symbol symbol = kNoSymbol;
    std::vector<Symbol> inputs;
    std::vector<OperatorPtr> ops;
    bool external = false;  ///< has .emit or .process: its results are outputs
    std::string context;    ///< `.context(name)`, or empty
};

class Engine {
  public:
    /// Compile a (validated) program. Fails on constructs the engine cannot run.
    static common::Result<std::unique_ptr<Engine>> create(const vpl::Program& program, const EngineOptions& options = {});

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

    const std::vector<std::unique_ptr<Stream>>& streams() const { return streams_; }
    const std::vector<TimerSpec>& timers() const { return timers_; }
    const std::vector<SourceBinding>& source_bindings() const { return bindings_; }
    /// A `connector` declaration by name, or null.
    const ConnectorConfig* connector(const std::string& name) const;
    /// The health of every sink that reports one.
    std::vector<ConnectorHealth> sink_health() const;
    /// True when processing can wait on something outside the engine: a sink's send, or a
    /// `.print`/`.log` write to a stdout or stderr pipe that nobody drains.
    bool may_wait() const { return !sinks_.empty() || writes_console_; }
    const std::vector<std::string>& contexts() const { return contexts_; }
    const EngineStats& stats() const { return stats_; }
    /// Events and runs held by windows, sequences, joins and distinct sets.
    size_t held() const;

    /// Snapshot the state of every stream and the top-level variables.
    nlohmann::json checkpoint() const;
    /// Restore a snapshot of an engine compiled from the same program.
    common::Status restore(const nlohmann::json& state);

    /// Read a top-level variable (for tests and the Python API).
    std::optional<Value> variable(const std::string& name) const;

  private:
    friend class StreamCompiler;
    Engine() = default;
    common::Status load(const vpl::Program& program, const EngineOptions& options);
    common::Status evaluate_global(const std::string& name, const vpl::Expr& init);
    void run_stream(Stream& s, Batch& batch, size_t from_op);
    /// Process the work list (events flowing from stream to stream) to the end.
    void drain(std::vector<EventPtr>& outputs);
    void deliver(Stream& s, Batch& batch, int depth, std::vector<EventPtr>& outputs);
    OpContext op_context(const Stream& s) const;
    const std::vector<Stream*>* routes_for(Symbol type) const;

    EngineOptions options_;
    std::vector<std::unique_ptr<Stream>> streams_;
    std::vector<std::vector<Stream*>> routes_;  ///< by symbol id
    FunctionTable functions_;
    std::unordered_map<std::string, size_t> global_slots_;
    std::vector<Value> globals_;
    std::map<std::string, std::shared_ptr<Sink>> sinks_;
    bool writes_console_ = false;  ///< a `.print` or `.log` operator
    std::map<std::string, ConnectorConfig> connectors_;
    std::vector<TimerSpec> timers_;
    std::vector<SourceBinding> bindings_;
    std::vector<std::string> contexts_;
    std::deque<std::pair<EventPtr, int>> work_;
    Batch batch_;  ///< reused for every stream run
    std::vector<Symbol> exports_;
    std::vector<EventPtr>* exported_ = nullptr;  ///< where exported results go during a call
    EngineStats stats_;
};

}  // namespace varpulis::engine
