// SPDX-License-Identifier: Apache-2.0
#pragma once

// Where events come from besides HTTP and files: `Type.from(Connector, topic: "t")` sources.
// Connector kinds register with the connector registry (connector_registry.hpp); a front door
// (the server, `varpulis run`) starts the sources of a program and gives each a handler that
// processes its events. Sinks and sources report their health in the same shape.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "varpulis/common/status.hpp"
#include "varpulis/engine/engine.hpp"
#include "varpulis/engine/event.hpp"
#include "varpulis/engine/sink.hpp"

namespace varpulis::engine {

class Runtime;

/// Receives the events of a source, on the source's own thread.
using EventHandler = std::function<void(EventPtr)>;

/// A running source: delivers events to its handler until it is destroyed. Destruction waits
/// for a handler call in progress, so the handler's captures may be freed right after.
class Source {
  public:
    virtual ~Source() = default;
    virtual ConnectorHealth health() const = 0;
    /// True once the source receives: for a broker subscription, once the broker acknowledged it
    /// (what is published before that is not delivered to it).
    virtual bool ready() const { return true; }
};

/// Start one source for `binding` reading from `config`, of any registered kind
/// (connector_registry.hpp). Fails for kinds that cannot be sources.
common::Result<std::unique_ptr<Source>> make_source(const ConnectorConfig& config, const SourceBinding& binding,
                                                    EventHandler handler);

/// Start every `.from(...)` source of a runtime's program; all or nothing.
common::Result<std::vector<std::unique_ptr<Source>>> start_sources(const Runtime& runtime, const EventHandler& handler);

}  // namespace varpulis::engine
