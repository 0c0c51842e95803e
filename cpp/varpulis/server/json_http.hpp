// SPDX-License-Identifier: Apache-2.0
#pragma once

// JSON bodies in and out of HTTP handlers, shared by the worker and the coordinator APIs.

#include <exception>
#include <optional>

#include <nlohmann/json.hpp>

#include "varpulis/engine/sink.hpp"
#include "varpulis/server/http_types.hpp"
#include "varpulis/vpl/diagnostic.hpp"

namespace varpulis::server {

/// A response with `body` as JSON (keys in insertion order; bytes that are not UTF-8 replaced).
HttpResponse json_response(int status, const nlohmann::ordered_json& body);

/// The deepest nesting a JSON body may have: above any body a client needs (events nest at most
/// 1,024 levels), far below the ~50,000 where the JSON library's recursive copies overflow
/// the stack.
inline constexpr size_t kMaxJsonBodyDepth = 2048;

/// True when `text` nests arrays and objects deeper than `limit` (brackets in strings do not
/// count). One pass, no recursion, so any body can be checked before it is parsed.
bool json_nested_deeper_than(std::string_view text, size_t limit);

/// Parse a request body as JSON, or set `error` to a 400 `invalid_json` that says what and where
/// (a body nested deeper than kMaxJsonBodyDepth included).
std::optional<nlohmann::ordered_json> parse_json_body(const HttpRequest& req, HttpResponse& error);
std::optional<nlohmann::ordered_json> parse_json_body(std::string_view body, HttpResponse& error);

/// The 500 answer to a handler that threw: the exception's text goes to the log (at most once a
/// second), never to the client, whose answer says where to look.
HttpResponse internal_error_response(const std::exception& e);

/// The 400 `parse_error` for a program that does not check: its first error as one line plus
/// line, column, vpl_code, message and hint. `pipeline`, when given, names the program (the
/// coordinator checks several in one request).
HttpResponse vpl_error_response(const vpl::Diagnostics& diagnostics, const std::string& pipeline = {});

/// {"total", "connected", "spooled", "dropped", "redelivered"}: a heartbeat's connectors, and the
/// coordinator's view of a worker's.
nlohmann::json connector_totals_json(const engine::ConnectorTotals& t);

}  // namespace varpulis::server
