// SPDX-License-Identifier: Apache-2.0
#pragma once

// An inject body read just enough to route it: the event types, and a batch's events as parsed
// elements to split per pipeline. Private to the cluster library (simdjson is).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "varpulis/server/http_types.hpp"

namespace varpulis::cluster {

/// Views into the calling thread's parser: valid until that thread parses again.
struct ParsedInject {
    std::vector<std::string_view> types;  ///< one per event; "" when a batch's event has none
    simdjson::dom::array events;          ///< a batch's events
};

/// The calling thread's JSON parser (kept: it reuses its buffers).
simdjson::dom::parser& thread_parser();

/// Read an inject (`batch`: {"events": [...]}; else one event) body's event types. None, with
/// `error` set to the 400 answer, when it is malformed.
std::optional<ParsedInject> parse_inject(const std::string& body, bool batch, server::HttpResponse& error);

}  // namespace varpulis::cluster
