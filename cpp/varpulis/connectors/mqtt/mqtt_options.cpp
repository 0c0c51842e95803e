// SPDX-License-Identifier: Apache-2.0
#include "varpulis/connectors/mqtt/mqtt_options.hpp"

namespace varpulis::connectors {

using common::ErrorCode;
using common::Result;
using common::Status;

Status mqtt_bad_param(const engine::ConnectorConfig& config, const std::string& what) {
    return Status(ErrorCode::Invalid, "mqtt connector '" + config.name + "': " + what);
}

Result<MqttOptions> mqtt_options(const engine::ConnectorConfig& config) {
    MqttOptions o;
    for (const auto& [key, value] : config.params) {
        if (key == "host") {
            if (!value.is_string() || value.as_string().empty()) return mqtt_bad_param(config, "host must be a non-empty string");
            o.host = value.as_string();
        } else if (key == "port" || key == "qos" || key == "keepalive" || key == "max_pending" || key == "block_timeout_ms") {
            if (!value.is_int()) return mqtt_bad_param(config, key + " must be an integer");
            int64_t n = value.as_int();
            if (key == "port" && (n < 1 || n > 65535)) return mqtt_bad_param(config, "port must be from 1 to 65535");
            if (key == "qos" && (n < 0 || n > 2)) return mqtt_bad_param(config, "qos must be 0, 1 or 2");
            if (key != "port" && key != "qos" && n < 1) return mqtt_bad_param(config, key + " must be positive");
            if (key == "port") o.port = static_cast<int>(n);
            if (key == "qos") o.qos = static_cast<int>(n);
            if (key == "keepalive") o.keepalive_s = static_cast<int>(n);
            if (key == "max_pending") o.max_pending = n;
            if (key == "block_timeout_ms") o.block_timeout_ms = n;
        } else if (key == "client_id" || key == "username" || key == "password") {
            if (!value.is_string()) return mqtt_bad_param(config, key + " must be a string");
            (key == "client_id" ? o.client_id : key == "username" ? o.username : o.password) = value.as_string();
        } else if (key == "tls") {
            if (!value.is_bool()) return mqtt_bad_param(config, "tls must be true or false");
            o.tls = value.as_bool();
        } else if (key == "ca_file" || key == "cert_file" || key == "key_file") {
            if (!value.is_string() || value.as_string().empty()) return mqtt_bad_param(config, key + " must be a non-empty string");
            (key == "ca_file" ? o.ca_file : key == "cert_file" ? o.cert_file : o.key_file) = value.as_string();
        } else if (key != "topic") {
            return mqtt_bad_param(config, "unknown parameter '" + key +
                                         "' (host, port, client_id, qos, username, password, keepalive, max_pending, "
                                         "block_timeout_ms, tls, ca_file, cert_file, key_file, topic)");
        }
    }
    if (o.cert_file.empty() != o.key_file.empty()) return mqtt_bad_param(config, "cert_file and key_file go together");
    if (!o.ca_file.empty() || !o.cert_file.empty()) o.tls = true;
    return o;
}

}  // namespace varpulis::connectors
