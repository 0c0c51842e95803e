// SPDX-License-Identifier: Apache-2.0
#pragma once

// The `mqtt` connector kind on libmosquitto: `connector Out = mqtt(host: "localhost", port: 1883,
// client_id: "w0", qos: 1)`; `.to(Out, topic: "t")` publishes each event as one JSON object
// `{"event_type", "timestamp", ...fields}` and `Type.from(Out, topic: "t/#")` turns JSON
// payloads into events.

#include <memory>

#include "varpulis/common/status.hpp"
#include "varpulis/connectors/mqtt/mqtt_options.hpp"
#include "varpulis/engine/connector_registry.hpp"

namespace varpulis::connectors {

/// Open the sink of an mqtt declaration (its client connects in the background).
common::Result<std::shared_ptr<engine::Sink>> make_mqtt_sink(const engine::ConnectorConfig& config);

/// Subscribe to the topic filter of a `.from(...)` binding.
common::Result<std::unique_ptr<engine::Source>> make_mqtt_source(const engine::ConnectorConfig& config,
                                                                  const engine::SourceBinding& binding,
                                                                  engine::EventHandler handler);

/// Add the `mqtt` kind to a registry (called once, from connectors/register.cpp).
common::Status register_mqtt(engine::ConnectorRegistry& registry);

}  // namespace varpulis::connectors
