// SPDX-License-Identifier: Apache-2.0
#pragma once

// Routes between pipelines, given to a worker by the coordinator at deploy time. A route names a
// connector declaration (its kind and parameters, as a VPL `connector` would) and a topic or
// subject on it: a publish route sends the pipeline's output events of some types there, a
// subscribe route processes what arrives there like injected events. Nothing here knows a
// particular kind: MQTT today, Kafka or NATS routes are other connector declarations.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "varpulis/common/status.hpp"
#include "varpulis/engine/sink.hpp"

namespace varpulis::server {

struct RouteLink {
    engine::ConnectorConfig connector;     ///< kind and params; the pipeline names it
    std::string topic;                     ///< the topic or subject on the connector
    std::vector<std::string> event_types;  ///< publish routes: patterns of the types sent
};

struct PipelineRoutes {
    std::vector<RouteLink> publish, subscribe;

    bool empty() const { return publish.empty() && subscribe.empty(); }
    /// `{"publish": [{"connector": {"kind", "params": {...}}, "topic", "event_types"}],
    /// "subscribe": [{"connector": {...}, "topic"}]}`.
    nlohmann::json to_json() const;
    /// Read routes in to_json's shape, or in the first release's MQTT shape `{"broker":
    /// "host:port", "topic", "client_id"?}` (older coordinators and state files), which is an
    /// mqtt connector at QoS 1.
    static common::Result<PipelineRoutes> from_json(const nlohmann::json& j);
};

}  // namespace varpulis::server
