// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/connector_registry.hpp"

namespace varpulis::engine {

using common::ErrorCode;
using common::Result;
using common::Status;

namespace {

std::string joined(const std::vector<std::string>& names) {
    if (names.empty()) return "none";
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

}  // namespace

ConnectorRegistry& ConnectorRegistry::global() {
    static ConnectorRegistry registry;
    return registry;
}

ConnectorRegistry::ConnectorRegistry() {
    (void)add({"console", open_console_sink, nullptr, nullptr});
    (void)add({"file", open_file_sink, nullptr, check_file_sink});
}

Status ConnectorRegistry::add(ConnectorKind kind) {
    if (kind.name.empty()) return Status(ErrorCode::Invalid, "a connector kind needs a name");
    std::lock_guard lock(mutex_);
    if (kinds_.count(kind.name)) return Status(ErrorCode::Invalid, "connector kind '" + kind.name + "' is registered twice");
    std::string name = kind.name;
    kinds_.emplace(std::move(name), std::move(kind));
    return Status::ok();
}

std::vector<std::string> ConnectorRegistry::kinds() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [name, kind] : kinds_) out.push_back(name);
    return out;
}

std::vector<std::string> ConnectorRegistry::source_kinds() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [name, kind] : kinds_) {
        if (kind.source) out.push_back(name);
    }
    return out;
}

Result<ConnectorKind> ConnectorRegistry::find(const ConnectorConfig& config) const {
    {
        std::lock_guard lock(mutex_);
        if (auto it = kinds_.find(config.kind); it != kinds_.end()) return it->second;
    }
    return Status(ErrorCode::Invalid, "connector '" + config.name + "': kind '" + config.kind +
                                          "' is not available in this build (kinds: " + joined(kinds()) + ")");
}

Status ConnectorRegistry::check(const ConnectorConfig& config) const {
    VP_ASSIGN_OR_RETURN(auto kind, find(config));
    return kind.check ? kind.check(config) : Status::ok();
}

Result<std::shared_ptr<Sink>> ConnectorRegistry::make_sink(const ConnectorConfig& config) const {
    VP_ASSIGN_OR_RETURN(auto kind, find(config));
    if (!kind.sink) return Status(ErrorCode::Invalid, "connector '" + config.name + "' of kind '" + config.kind + "' cannot be written to");
    return kind.sink(config);
}

Result<std::unique_ptr<Source>> ConnectorRegistry::make_source(const ConnectorConfig& config, const SourceBinding& binding,
                                                               EventHandler handler) const {
    VP_ASSIGN_OR_RETURN(auto kind, find(config));
    if (!kind.source) {
        return Status(ErrorCode::Invalid, "connector '" + config.name + "' of kind '" + config.kind +
                                              "' cannot be a source in this build (source kinds: " + joined(source_kinds()) + ")");
    }
    return kind.source(config, binding, std::move(handler));
}

Result<std::shared_ptr<Sink>> make_sink(const ConnectorConfig& config) { return ConnectorRegistry::global().make_sink(config); }

Result<std::unique_ptr<Source>> make_source(const ConnectorConfig& config, const SourceBinding& binding, EventHandler handler) {
    return ConnectorRegistry::global().make_source(config, binding, std::move(handler));
}

}  // namespace varpulis::engine
