// SPDX-License-Identifier: Apache-2.0
#pragma once

// Routes between the pipelines of a group, carried by a route connector (MQTT today): their
// topics, the publish and subscribe routes a pipeline is deployed with, and the rules a group's
// routes must follow.

#include <string>

#include <nlohmann/json.hpp>

#include "varpulis/cluster/groups/pipeline_group.hpp"
#include "varpulis/cluster/groups/route_connector.hpp"
#include "varpulis/common/status.hpp"

namespace varpulis::cluster {

/// Return the topic of a pipeline-to-pipeline route: its own, or
/// varpulis/cluster/{group}/{from}/{to}.
std::string route_topic(const PipelineGroup& group, const Route& route);

/// Return the publish and subscribe routes a pipeline of the group is deployed with, in the
/// worker's shape (server/pipeline_routes): {"publish": [{"connector": {"kind", "params"},
/// "topic", "event_types"}], "subscribe": [{"connector", "topic"}]}; both empty without a
/// connector.
nlohmann::ordered_json routes_for(const PipelineGroup& group, const std::string& pipeline, const RouteConnector& connector);

/// Check one route against the group's pipelines: it names pipelines of the group, not one to
/// itself, and names and topic fit in MQTT topics. Invalid, saying why, when it does not.
common::Status check_route(const PipelineGroup& group, const Route& route);

/// Check that the group's routes form no cycle. Invalid, naming one, when they do.
common::Status check_no_cycle(const PipelineGroup& group);

}  // namespace varpulis::cluster
