// SPDX-License-Identifier: Apache-2.0
#pragma once

// The JSON and Prometheus shapes the coordinator's routes answer with, drawn from its tables.
// Pure: the caller holds whatever lock guards the tables.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "varpulis/cluster/groups/group_table.hpp"
#include "varpulis/cluster/groups/route_connector.hpp"
#include "varpulis/cluster/membership/worker_table.hpp"

namespace varpulis::cluster {

/// The coordinator's counters and age, for /metrics.
struct CoordinatorCounters {
    uint64_t injects = 0, heartbeats = 0, failovers = 0;
    uint64_t workers_found_gone = 0;  ///< marked unhealthy after a refused connection and probe
    uint64_t injects_held = 0, injects_rerouted = 0, injects_given_up = 0;  ///< ForwardCounters
    uint64_t moves = 0;  ///< live moves with state (drain, return to affinity)
    uint64_t checkpoints_taken = 0, checkpoint_failures = 0, restores = 0, orphans_removed = 0;
    double uptime_seconds = 0;
};

/// A worker as GET /workers/{id} shows it: busy when its placements fill it.
nlohmann::ordered_json worker_json(const WorkerInfo& w, const GroupTable& groups);
/// A group as GET /pipeline-groups/{id} shows it, with its status from its placements'.
nlohmann::ordered_json group_json(const PipelineGroup& g);
/// GET /topology: each group's placements and routes; with a route connector, the routes
/// between pipelines show their topic (as `mqtt_topic`) and transport.
nlohmann::ordered_json topology_json(const GroupTable& groups, const RouteConnector& connector);
/// GET /metrics, in the Prometheus text format.
std::string prometheus_text(const WorkerTable& workers, const GroupTable& groups, const CoordinatorCounters& counters);

}  // namespace varpulis::cluster
