// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/source.hpp"

#include "varpulis/engine/runtime.hpp"

namespace varpulis::engine {

using common::ErrorCode;
using common::Result;
using common::Status;

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
