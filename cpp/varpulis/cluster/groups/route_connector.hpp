// SPDX-License-Identifier: Apache-2.0
#pragma once

// The connector that routes between pipelines travel on, declared as a VPL `connector` is: a
// kind and its parameters. Workers open it through their connector registry like any sink or
// source (server/pipeline_routes), so a Kafka or NATS route is another declaration, not new
// coordinator code. `--mqtt-broker host:port` is one way to spell an mqtt declaration.

#include <string>

#include <nlohmann/json.hpp>

#include "varpulis/common/status.hpp"

namespace varpulis::cluster {

struct RouteConnector {
    std::string kind;  ///< empty: none, and routes between pipelines carry nothing
    nlohmann::ordered_json params = nlohmann::ordered_json::object();
    /// The parameter that names a pipeline's session on the connector ("client_id" for MQTT):
    /// set per pipeline, so a copy placed again after a failover resumes the session and gets
    /// what was queued meanwhile. Empty: none.
    std::string session_param;
    std::string transport;  ///< as the topology shows it: "mqtt://host:port"

    bool empty() const { return kind.empty(); }
    /// An mqtt connector at QoS 1 on `broker` ("host:port"; the port defaults to 1883). Invalid
    /// when it is not host:port.
    static common::Result<RouteConnector> mqtt(const std::string& broker);
};

}  // namespace varpulis::cluster
