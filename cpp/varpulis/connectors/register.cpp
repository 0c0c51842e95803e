// SPDX-License-Identifier: Apache-2.0
#include "varpulis/connectors/register.hpp"

#include <mutex>

#include "varpulis/engine/connector_registry.hpp"

#ifdef VARPULIS_WITH_MQTT
#include "varpulis/connectors/mqtt/mqtt.hpp"
#endif

namespace varpulis::connectors {

namespace {

common::Status register_each(engine::ConnectorRegistry& registry) {
#ifdef VARPULIS_WITH_MQTT
    VP_RETURN_NOT_OK(register_mqtt(registry));
#endif
    (void)registry;  // a build without external connectors registers nothing
    return common::Status::ok();
}

}  // namespace

common::Status register_all() {
    static std::once_flag once;
    static common::Status outcome;
    std::call_once(once, [] { outcome = register_each(engine::ConnectorRegistry::global()); });
    return outcome;
}

}  // namespace varpulis::connectors
