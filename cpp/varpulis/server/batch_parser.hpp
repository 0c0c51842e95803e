// SPDX-License-Identifier: Apache-2.0
#pragma once

// Streaming parse of a batch body `{"events": [{"event_type": ..., "fields": {...}}, ...]}`
// straight into events (SAX: no JSON tree is built), with per-index errors for invalid events.

#include <string>
#include <string_view>
#include <vector>

#include "varpulis/common/status.hpp"
#include "varpulis/engine/event.hpp"
#include "varpulis/engine/event_json.hpp"

namespace varpulis::server {

struct BatchError {
    size_t index = 0;
    std::string message;
    std::string code;  ///< invalid_event | limit_exceeded
};

struct ParsedBatch {
    std::vector<engine::EventPtr> events;
    std::vector<BatchError> errors;
    size_t total = 0;  ///< elements of the "events" array
};

/// Parse a batch body. Events without a "timestamp" get `default_ts`. A body that is not JSON or
/// has no "events" array is an error (invalid_json / invalid_request in the message's code).
common::Result<ParsedBatch> parse_batch(std::string_view body, int64_t default_ts, const engine::EventLimits& limits);

}  // namespace varpulis::server
