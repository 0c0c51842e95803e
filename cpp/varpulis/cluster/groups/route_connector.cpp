// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/groups/route_connector.hpp"

namespace varpulis::cluster {

common::Result<RouteConnector> RouteConnector::mqtt(const std::string& broker) {
    // Read as the worker reads the first release's {"broker": "host:port"}: the same broker
    // either way.
    const size_t colon = broker.rfind(':');
    const std::string host = broker.substr(0, colon);
    int port = 0;
    try {
        port = colon == std::string::npos ? 1883 : std::stoi(broker.substr(colon + 1));
    } catch (...) {
        port = 0;
    }
    if (host.empty() || port < 1 || port > 65535) {
        return common::Status(common::ErrorCode::Invalid, "--mqtt-broker '" + broker + "' is not host:port");
    }
    RouteConnector c;
    c.kind = "mqtt";
    c.params = {{"host", host}, {"port", port}, {"qos", 1}};
    c.session_param = "client_id";
    c.transport = "mqtt://" + broker;
    return c;
}

}  // namespace varpulis::cluster
