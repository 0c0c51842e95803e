// SPDX-License-Identifier: Apache-2.0
#pragma once

// Routes between the pipelines of a group, carried over MQTT: their topics, the publish and
// subscribe routes a pipeline is deployed with, and the rules a group's routes must follow.

#include <string>

#include <nlohmann/json.hpp>

#include "varpulis/cluster/groups/pipeline_group.hpp"
#include "varpulis/common/status.hpp"

namespace varpulis::cluster {

/// Return the MQTT topic of a pipeline-to-pipeline route: its `mqtt_topic`, or
/// varpulis/cluster/{group}/{from}/{to}.
std::string route_topic(const PipelineGroup& group, const Route& route);

/// Return the publish and subscribe routes a pipeline of the group is deployed with, through
/// `mqtt_broker` (host:port); both empty without a broker.
nlohmann::ordered_json mqtt_routes_for(const PipelineGroup& group, const std::string& pipeline,
                                       const std::string& mqtt_broker);

/// Check one route against the group's pipelines: it names pipelines of the group, not one to
/// itself, and names and topic fit in MQTT topics. Invalid, saying why, when it does not.
common::Status check_route(const PipelineGroup& group, const Route& route);

/// Check that the group's routes form no cycle. Invalid, naming one, when they do.
common::Status check_no_cycle(const PipelineGroup& group);

}  // namespace varpulis::cluster
