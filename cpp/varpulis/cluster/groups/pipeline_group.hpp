// SPDX-License-Identifier: Apache-2.0
#pragma once

// A pipeline group as deployed: its pipelines, the routes into and between them, and where each
// pipeline was placed. Plain data.

#include <cstdint>
#include <string>
#include <vector>

namespace varpulis::cluster {

struct PipelineSpec {
    std::string name;
    std::string source;
    std::string worker_affinity;
};

/// From `_external` (injected events) or from a pipeline of the group (its output events) to a
/// pipeline, for the events whose type matches `event_types`.
struct Route {
    std::string from_pipeline;
    std::string to_pipeline;
    std::vector<std::string> event_types;
    /// The topic (or subject) it travels on, `mqtt_topic` or `topic` in a group spec; empty:
    /// varpulis/cluster/{group}/{from}/{to}.
    std::string topic;
};

struct Placement {
    std::string pipeline_name;
    std::string worker_id;
    std::string worker_address;
    std::string pipeline_id;
    std::string status = "running";
    uint64_t epoch = 1;
};

struct PipelineGroup {
    std::string id;
    std::string name;
    std::string placement = "round_robin";  ///< or least_loaded
    /// Move pipelines back to their worker_affinity when it returns (with their state).
    bool rebalance = true;
    std::vector<PipelineSpec> pipelines;
    std::vector<Route> routes;
    std::vector<Placement> placements;  ///< one per pipeline, in the same order
};

/// A copy of a pipeline left on a worker after failover, to delete when that worker returns.
struct StaleCopy {
    std::string worker_id;
    std::string pipeline_id;
};

}  // namespace varpulis::cluster
