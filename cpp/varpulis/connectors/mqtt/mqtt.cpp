// SPDX-License-Identifier: Apache-2.0
#include "varpulis/connectors/mqtt/mqtt.hpp"

#include <mosquitto.h>

namespace varpulis::connectors {

common::Status register_mqtt(engine::ConnectorRegistry& registry) {
    mosquitto_lib_init();
    return registry.add({"mqtt", make_mqtt_sink, make_mqtt_source,
                         [](const engine::ConnectorConfig& config) { return mqtt_options(config).status(); }});
}

}  // namespace varpulis::connectors
