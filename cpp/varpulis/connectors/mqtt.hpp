// SPDX-License-Identifier: Apache-2.0
#pragma once

// The `mqtt` connector kind on libmosquitto: `connector Out = mqtt(host: "localhost", port: 1883,
// client_id: "w0", qos: 1)` and `.to(Out, topic: "t")` publish each event as one JSON object
// `{"event_type", "timestamp", ...fields}`.

#include <cstdint>
#include <string>

#include "varpulis/common/status.hpp"
#include "varpulis/engine/sink.hpp"

namespace varpulis::connectors {

struct MqttOptions {
    std::string host = "localhost";
    int port = 1883;
    std::string client_id;  ///< empty: the broker assigns one
    int qos = 0;
    std::string username, password;
    int keepalive_s = 30;
    /// Messages handed to libmosquitto and not yet sent (QoS 0) or acknowledged (QoS 1, 2)
    /// before `send` waits: the bound of the publish queue.
    int64_t max_pending = 10'000;
    /// How long `send` waits for room in the queue or for the broker; after that it drops the
    /// event, counts it and logs once per outage, so the engine thread never waits forever.
    int64_t block_timeout_ms = 10'000;
    /// TLS: on with `tls: true` or a `ca_file`; the broker is verified against `ca_file`, else
    /// the system's certificates. `cert_file` and `key_file` (together) authenticate the client.
    bool tls = false;
    std::string ca_file, cert_file, key_file;
};

/// Read a connector declaration's parameters; unknown keys and bad values are errors.
common::Result<MqttOptions> mqtt_options(const engine::ConnectorConfig& config);

/// Register the connector kinds of this module with the engine (idempotent). Every front door
/// (CLI, servers, Python) calls it once at start-up.
void register_connectors();

}  // namespace varpulis::connectors
