// SPDX-License-Identifier: Apache-2.0
#pragma once

// JSON bodies in and out of HTTP handlers, shared by the worker and the coordinator APIs.

#include <optional>

#include <nlohmann/json.hpp>

#include "varpulis/server/http_types.hpp"

namespace varpulis::server {

/// A response with `body` as JSON (keys in insertion order; bytes that are not UTF-8 replaced).
HttpResponse json_response(int status, const nlohmann::ordered_json& body);

/// Parse a request body as JSON, or set `error` to a 400 `invalid_json` that says what and where.
std::optional<nlohmann::ordered_json> parse_json_body(const HttpRequest& req, HttpResponse& error);
std::optional<nlohmann::ordered_json> parse_json_body(std::string_view body, HttpResponse& error);

}  // namespace varpulis::server
