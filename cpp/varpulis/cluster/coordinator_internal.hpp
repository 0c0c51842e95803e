// SPDX-License-Identifier: Apache-2.0
#pragma once

// Names the coordinator's source files share (coordinator.cpp, coordinator_groups.cpp); private
// to this folder.

#include <nlohmann/json.hpp>

#include "varpulis/common/status.hpp"
#include "varpulis/server/json_http.hpp"

namespace varpulis::cluster {

using json = nlohmann::ordered_json;
using server::error_response;
using server::HttpRequest;
using server::HttpResponse;
using server::json_response;
using server::parse_json_body;

/// The answer to a change that was made but could not be saved to the state directory.
inline HttpResponse state_error(const common::Status& saved) {
    return error_response(500, "state_error", "the change was made but not saved: " + saved.message());
}

}  // namespace varpulis::cluster
