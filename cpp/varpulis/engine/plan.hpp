// SPDX-License-Identifier: Apache-2.0
#pragma once

// What a program compiles to (plan_compiler.hpp), before anything runs: each stream with its
// operators and inputs, the routes by type, the functions and globals, the timers and source
// bindings, and the connectors its `.to()`s send to, declared but not opened. The runtime opens
// those sinks when it starts the plan, and an Engine is built from it.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "varpulis/common/span.hpp"
#include "varpulis/engine/function.hpp"
#include "varpulis/engine/operators.hpp"
#include "varpulis/engine/sink.hpp"
#include "varpulis/engine/state_budget.hpp"

namespace varpulis::engine {

struct EngineOptions {
    FunctionLimits functions;
    size_t max_runs_per_partition = 10'000;  ///< sequence runs kept per partition
    /// Sequence runs kept by one sequence in all its partitions (unique keys would otherwise grow
    /// it without end): past it, a new run is not started and counts as evicted.
    size_t max_runs_total = 1'000'000;
    /// Streams of one program: a compile-time `for` of 60 bytes made 500,000 (3.6 GB).
    size_t max_streams = 10'000;
    /// Contexts of one program: each is a thread, and compiles the program again for itself.
    size_t max_contexts = 64;
    size_t distinct_capacity = 100'000;      ///< keys remembered by .distinct()
    int max_depth = 10;                      ///< stream-to-stream hops before an event is dropped (cycles)
    /// Bytes the windows, joins and distinct sets of one pipeline may hold (state_budget.hpp);
    /// past it the oldest give way, counted as evicted. A program with contexts splits it evenly.
    size_t max_state_bytes = size_t{64} << 20;
    /// When set, only streams whose `.context(...)` is this name (and streams without a context)
    /// are compiled: the plan of one context thread.
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

/// One compiled stream: its inputs, its operators, and whether its results leave the engine.
struct Stream {
    std::string name;
    Symbol symbol = kNoSymbol;
    std::vector<Symbol> inputs;
    std::vector<OperatorPtr> ops;
    bool external = false;  ///< has .emit or .process: its results are outputs
    std::string context;    ///< `.context(name)`, or empty
};

/// A connector that `.to()` sends to: the runtime opens it once and binds `slot`, which every
/// `.to()` of it in the plan reads.
struct SinkDecl {
    ConnectorConfig config;
    std::string stream;  ///< the first stream sending to it, which a refusal to open names
    common::Span span;   ///< that stream's declaration
    std::shared_ptr<SinkSlot> slot;
};

/// One engine's compiled program.
struct Plan {
    EngineOptions options;
    std::vector<std::unique_ptr<Stream>> streams;  ///< in declaration order
    std::vector<std::vector<Stream*>> routes;      ///< by symbol id: the streams consuming it
    std::unique_ptr<FunctionTable> functions;
    std::unordered_map<std::string, size_t> global_slots;
    std::vector<Value> globals;  ///< top-level let/var/const by slot, initialised
    std::map<std::string, ConnectorConfig> connectors;
    std::vector<SinkDecl> sinks;  ///< in order of first use
    bool writes_console = false;  ///< a `.print` or `.log` operator
    std::vector<TimerSpec> timers;
    std::vector<SourceBinding> bindings;
    std::vector<std::string> contexts;  ///< declared, in order
    /// What the plan's windows, joins and distinct sets hold (options.max_state_bytes); they point
    /// at it, so it lives as long as the plan's operators.
    std::unique_ptr<StateBudget> state_budget;
};

/// The plan of one context thread: the streams placed there and the unplaced ones.
struct ContextPlan {
    std::string name;
    int core = -1;  ///< the first of `cores: [..]`, or -1
    Plan plan;
};

/// A whole program compiled: one plan for all its streams (what runs without contexts, and the
/// metadata with them) and, when streams are placed in contexts, one plan per context used.
struct ProgramPlan {
    Plan program;
    std::vector<ContextPlan> contexts;  ///< in declaration order; empty without contexts
};

}  // namespace varpulis::engine
