// SPDX-License-Identifier: Apache-2.0
#pragma once

// The parameters of `connector X = mqtt(host: ..., port: ..., ...)`.

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

/// The error of a bad parameter of an mqtt declaration, naming it.
common::Status mqtt_bad_param(const engine::ConnectorConfig& config, const std::string& what);

}  // namespace varpulis::connectors
