// SPDX-License-Identifier: Apache-2.0
#pragma once

// The connector kinds a process knows: one registry for sinks (`.to`), sources (`.from`) and,
// later, lookups (`.enrich`). The engine registers `console` and `file`; each external system
// registers its kind from connectors/register.cpp at start-up. A name is registered once: a
// second registration is refused, never silently replaces the first.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "varpulis/common/status.hpp"
#include "varpulis/engine/sink.hpp"
#include "varpulis/engine/source.hpp"

namespace varpulis::engine {

using SinkFactory = std::function<common::Result<std::shared_ptr<Sink>>(const ConnectorConfig&)>;
using SourceFactory =
    std::function<common::Result<std::unique_ptr<Source>>(const ConnectorConfig&, const SourceBinding&, EventHandler)>;
/// Check a declaration's parameters without connecting anything (for `check` and load).
using ConfigCheck = std::function<common::Status(const ConnectorConfig&)>;

/// What one connector kind can do. A null factory: the kind cannot play that role.
struct ConnectorKind {
    std::string name;  ///< as written in VPL: `connector X = <name>(...)`
    SinkFactory sink;
    SourceFactory source;
    ConfigCheck check;  ///< null: the parameters are checked when the connector opens
};

class ConnectorRegistry {
  public:
    /// Return the process's registry, with the built-in `console` and `file` kinds.
    static ConnectorRegistry& global();

    /// Add a kind; Invalid when its name is empty or already registered.
    common::Status add(ConnectorKind kind);
    /// Return the names of the registered kinds, sorted.
    std::vector<std::string> kinds() const;
    /// Return the names of the kinds that can be sources, sorted.
    std::vector<std::string> source_kinds() const;

    /// Check that a declaration names a registered kind and that its parameters are valid;
    /// opens nothing.
    common::Status check(const ConnectorConfig& config) const;
    /// Open the sink of a declaration.
    common::Result<std::shared_ptr<Sink>> make_sink(const ConnectorConfig& config) const;
    /// Start a source reading `binding` from a declaration.
    common::Result<std::unique_ptr<Source>> make_source(const ConnectorConfig& config, const SourceBinding& binding,
                                                        EventHandler handler) const;

  private:
    ConnectorRegistry();
    /// The kind of a declaration, or an error that lists the registered kinds.
    common::Result<ConnectorKind> find(const ConnectorConfig& config) const;

    mutable std::mutex mutex_;
    std::map<std::string, ConnectorKind, std::less<>> kinds_;
};

}  // namespace varpulis::engine
