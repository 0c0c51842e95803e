// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/source.hpp"

#include <map>
#include <mutex>

#include "varpulis/engine/runtime.hpp"

namespace varpulis::engine {

using common::ErrorCode;
using common::Result;
using common::Status;

namespace {

std::mutex& factories_mutex() {
    static std::mutex m;
    return m;
}

std::map<std::string, SourceFactory>& factories() {
    static std::map<std::string, SourceFactory> f;
    return f;
}

}  // namespace

void register_source_factory(const std::string& kind, SourceFactory factory) {
    std::lock_guard lock(factories_mutex());
    factories()[kind] = std::move(factory);
}

Result<std::unique_ptr<Source>> make_source(const ConnectorConfig& config, const SourceBinding& binding, EventHandler handler) {
    SourceFactory factory;
    {
        std::lock_guard lock(factories_mutex());
        if (auto it = factories().find(config.kind); it != factories().end()) factory = it->second;
    }
    if (!factory) {
        return Status(ErrorCode::Invalid, "connector '" + config.name + "' of kind '" + config.kind +
                                              "' cannot be a source in this build (source kinds: mqtt)");
    }
    return factory(config, binding, std::move(handler));
}

Result<std::vector<std::unique_ptr<Source>>> start_sources(const Runtime& runtime, const EventHandler& handler) {
    std::vector<std::unique_ptr<Source>> sources;
    for (const auto& binding : runtime.source_bindings()) {
        const ConnectorConfig* config = runtime.connector(binding.connector);
        if (!config) {
            return Status(ErrorCode::Invalid, "stream '" + binding.stream + "' reads from unknown connector '" + binding.connector + "'");
        }
        VP_ASSIGN_OR_RETURN(auto source, make_source(*config, binding, handler));
        sources.push_back(std::move(source));
    }
    return sources;
}

}  // namespace varpulis::engine
