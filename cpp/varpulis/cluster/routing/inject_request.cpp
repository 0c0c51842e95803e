// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/routing/inject_request.hpp"

namespace varpulis::cluster {

simdjson::dom::parser& thread_parser() {
    thread_local simdjson::dom::parser parser;
    return parser;
}

std::optional<ParsedInject> parse_inject(const std::string& body, bool batch, server::HttpResponse& error) {
    simdjson::dom::element doc;
    if (auto err = thread_parser().parse(body.data(), body.size()).get(doc); err) {
        error = server::error_response(400, "invalid_json", std::string("malformed JSON: ") + simdjson::error_message(err));
        return std::nullopt;
    }
    ParsedInject parsed;
    std::string_view type;
    if (!batch) {
        if (doc["event_type"].get(type) != simdjson::SUCCESS || type.empty()) {
            error = server::error_response(400, "invalid_event", "\"event_type\" must be a non-empty string");
            return std::nullopt;
        }
        parsed.types.push_back(type);
        return parsed;
    }
    if (doc["events"].get(parsed.events) != simdjson::SUCCESS) {
        error = server::error_response(400, "invalid_request", "a batch is {\"events\": [...]}");
        return std::nullopt;
    }
    for (auto e : parsed.events) parsed.types.push_back(e["event_type"].get(type) == simdjson::SUCCESS ? type : std::string_view());
    return parsed;
}

}  // namespace varpulis::cluster
