// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/groups/route_connector.hpp"

#include "varpulis/common/path.hpp"

namespace varpulis::cluster {

common::Result<RouteConnector> RouteConnector::mqtt(const std::string& broker) {
    // Read as the worker reads the first release's {"broker": "host:port"}: the same broker
    // either way.
    const auto address = common::split_host_port(broker, 1883);
    if (!address) return common::Status(common::ErrorCode::Invalid, "--mqtt-broker '" + broker + "' is not host:port");
    RouteConnector c;
    c.kind = "mqtt";
    c.params = {{"host", address->host}, {"port", address->port}, {"qos", 1}};
    c.session_param = "client_id";
    c.transport = "mqtt://" + broker;
    return c;
}

}  // namespace varpulis::cluster
