// SPDX-License-Identifier: Apache-2.0
#pragma once

// The façade every front door uses (CLI, server, Python): load a VPL program from source, push
// events in, get outputs back. Programs with contexts will run their context threads behind it.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "varpulis/common/status.hpp"
#include "varpulis/engine/engine.hpp"
#include "varpulis/vpl/diagnostic.hpp"

namespace varpulis::engine {

struct RuntimeOptions {
    EngineOptions engine;
};

class Runtime;

/// The outcome of loading a program: a runtime, or the diagnostics that refused it.
struct LoadResult {
    std::unique_ptr<Runtime> runtime;
    vpl::Diagnostics diagnostics;  ///< errors (when runtime is null) and warnings
};

class Runtime {
  public:
    /// Check, validate and compile a program. Engine-level refusals become diagnostics too.
    static LoadResult from_source(std::string_view source, const RuntimeOptions& options = {});

    /// Process one event to completion and append its outputs.
    common::Status push(const EventPtr& event, std::vector<EventPtr>& outputs);

    /// Build an event and push it. Without a timestamp, the previous event's time is used.
    common::Status push(std::string_view type, std::vector<std::pair<std::string, Value>> fields,
                        std::optional<int64_t> timestamp, std::vector<EventPtr>& outputs);

    /// Close open time and session windows (end of input).
    common::Status flush(std::vector<EventPtr>& outputs);

    /// Process every event of a `.evt` file, then flush.
    common::Status run_file(const std::string& path, std::vector<EventPtr>& outputs);

    const Engine& engine() const { return *engine_; }
    int64_t last_timestamp() const { return last_timestamp_; }

  private:
    explicit Runtime(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {}

    std::unique_ptr<Engine> engine_;
    int64_t last_timestamp_ = 0;
};

}  // namespace varpulis::engine
