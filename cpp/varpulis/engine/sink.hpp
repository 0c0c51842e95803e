// SPDX-License-Identifier: Apache-2.0
#pragma once

// Where `.to(Connector, ...)` sends events. The engine has the console and file sinks; other
// connector kinds register with the connector registry (connector_registry.hpp).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "varpulis/common/log.hpp"
#include "varpulis/common/status.hpp"
#include "varpulis/engine/event.hpp"

namespace varpulis::engine {

/// The state of one connector endpoint (a sink or a source), for metrics and heartbeats.
struct ConnectorHealth {
    std::string connector;  ///< the declaration's name
    std::string kind;       ///< "mqtt"
    std::string role;       ///< "sink" or "source"
    std::string target;     ///< broker address and topic
    bool connected = false;
    std::string last_error;
    uint64_t messages = 0;  ///< sent (sink) or received (source)
    uint64_t failures = 0;  ///< dropped (sink) or malformed (source)
    uint64_t spooled = 0;   ///< sink at QoS 1/2: waiting for the broker's acknowledgement
    uint64_t redelivered = 0;  ///< sink at QoS 1/2: sent again after a reconnect
};

/// Connector endpoints summed (a worker's heartbeat, the coordinator's view of a worker).
struct ConnectorTotals {
    size_t total = 0;
    size_t connected = 0;
    uint64_t spooled = 0;      ///< sinks: waiting for their broker's acknowledgement
    uint64_t dropped = 0;      ///< sinks: lost (QoS 0 outages, refused payloads, closed unacknowledged)
    uint64_t redelivered = 0;  ///< sinks: sent again after a reconnect
    void add(const ConnectorHealth& h) {
        ++total;
        if (h.connected) ++connected;
        if (h.role != "sink") return;
        spooled += h.spooled;
        dropped += h.failures;
        redelivered += h.redelivered;
    }
};

class Sink {
  public:
    virtual ~Sink() = default;
    /// Send one event. Must not block the engine indefinitely (connectors queue).
    virtual void send(const Event& e, const std::string& topic) = 0;
    /// Push out anything buffered (end of input, shutdown).
    virtual void flush() {}
    /// At-least-once sinks (MQTT at QoS 1/2) keep every message until its destination
    /// acknowledges it. False while such a sink cannot take more (its broker is away, its spool
    /// is full): front doors then admit no new input, rather than accept what could be lost.
    virtual bool has_room() const { return true; }
    /// Wait until everything sent so far is acknowledged by the destination, or the deadline;
    /// false when the deadline came first (what was sent stays spooled and goes later).
    virtual bool wait_delivered(std::chrono::steady_clock::time_point /*deadline*/) { return true; }
    /// The connection state of sinks that have one (MQTT); nothing for console and file.
    virtual std::optional<ConnectorHealth> health() const { return std::nullopt; }
};

/// A sink with its declaration's name.
struct NamedSink {
    std::string name;
    std::shared_ptr<Sink> sink;
};

/// The first sink that cannot take more (Sink::has_room), as "sink 'NAME' cannot reach its
/// broker (...)" or "... has a full spool"; nothing when every sink can.
std::optional<std::string> blocked_sink(const std::vector<NamedSink>& sinks);

/// Wait until every sink's outputs so far are acknowledged (Sink::wait_delivered), or the deadline.
bool wait_delivered(const std::vector<NamedSink>& sinks, std::chrono::steady_clock::time_point deadline);

/// Hold a source's event while a sink is blocked, so the spool stays bounded (the source's broker
/// keeps the rest), until `stop` says to give up; logged through `log` as `prefix` + the reason.
void wait_for_room(const std::vector<NamedSink>& sinks, const std::function<bool()>& stop, log::Throttle& log,
                   const std::string& prefix);

/// The parameters of a `connector Name = kind(key: value, ...)` declaration, as literal values.
struct ConnectorConfig {
    std::string name;
    std::string kind;
    std::map<std::string, Value> params;
    /// Set by the host, never by the program (RuntimeOptions::file_root): when not empty, file
    /// connectors open their path inside this directory only.
    std::string file_root;
    std::string param_string(const std::string& key, const std::string& fallback = {}) const;
};

/// Open the sink of a connector declaration, of any registered kind (connector_registry.hpp).
common::Result<std::shared_ptr<Sink>> make_sink(const ConnectorConfig& config);

/// Open the `console` sink: one JSON line per event on standard output.
common::Result<std::shared_ptr<Sink>> open_console_sink(const ConnectorConfig& config);
/// Open the `file` sink of `path: "..."`, shared by every user of that path in the process.
common::Result<std::shared_ptr<Sink>> open_file_sink(const ConnectorConfig& config);
/// Check a `file` declaration: it needs a path.
common::Status check_file_sink(const ConnectorConfig& config);

}  // namespace varpulis::engine
