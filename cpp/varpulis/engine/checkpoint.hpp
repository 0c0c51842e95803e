// SPDX-License-Identifier: Apache-2.0
#pragma once

// State snapshots: values and events as JSON that keeps every kind (ints, floats, timestamps,
// durations, ordered maps), for engine checkpoints and restores.

#include <nlohmann/json.hpp>

#include "varpulis/common/status.hpp"
#include "varpulis/engine/event.hpp"

namespace varpulis::engine {

using Json = nlohmann::json;

Json save_value(const Value& v);
common::Result<Value> load_value(const Json& j);

Json save_event(const EventPtr& e);  ///< null for a null pointer
common::Result<EventPtr> load_event(const Json& j);

}  // namespace varpulis::engine
