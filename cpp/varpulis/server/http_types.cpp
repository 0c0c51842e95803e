// SPDX-License-Identifier: Apache-2.0
#include "varpulis/server/http_types.hpp"

#include <algorithm>

#include "varpulis/server/json_http.hpp"
#include "varpulis/common/log.hpp"

#include <nlohmann/json.hpp>

namespace varpulis::server {

const std::string& HttpRequest::header(std::string_view lower_name) const {
    static const std::string kEmpty;
    for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
        if (it->first == lower_name) return it->second;
    }
    return kEmpty;
}

void SseChannel::push(std::string data) {
    std::function<void()> notify;
    {
        std::lock_guard lock(mutex_);
        if (closed_) return;
        if (queue_.size() >= kCapacity) {
            ++dropped_;
            return;
        }
        queue_.push_back(std::move(data));
        notify = notify_;
    }
    if (notify) notify();
}

void SseChannel::close() {
    std::function<void()> notify;
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
        notify = notify_;
    }
    if (notify) notify();
}

bool SseChannel::take(std::vector<std::string>& out) {
    std::lock_guard lock(mutex_);
    while (!queue_.empty()) {
        out.push_back(std::move(queue_.front()));
        queue_.pop_front();
    }
    return !closed_;
}

void SseChannel::set_notifier(std::function<void()> notify) {
    std::lock_guard lock(mutex_);
    notify_ = std::move(notify);
}

bool SseChannel::closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
}

size_t SseChannel::dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
}

HttpResponse error_response(int status, const std::string& code, const std::string& message) {
    HttpResponse r;
    r.status = status;
    // Messages may quote client bytes that are not UTF-8: replace those rather than fail.
    r.body = nlohmann::ordered_json{{"error", message}, {"code", code}}.dump(-1, ' ', false,
                                                                             nlohmann::json::error_handler_t::replace);
    return r;
}

HttpResponse json_response(int status, const nlohmann::ordered_json& body) {
    HttpResponse r;
    r.status = status;
    r.body = body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    return r;
}

std::optional<nlohmann::ordered_json> parse_json_body(const HttpRequest& req, HttpResponse& error) {
    return parse_json_body(std::string_view(req.body), error);
}

bool json_nested_deeper_than(std::string_view text, size_t limit) {
    size_t depth = 0;
    bool in_string = false, escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) return true;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return false;
}

std::optional<nlohmann::ordered_json> parse_json_body(std::string_view body, HttpResponse& error) {
    if (json_nested_deeper_than(body, kMaxJsonBodyDepth)) {
        error = error_response(400, "invalid_json", "malformed JSON: nested deeper than " + std::to_string(kMaxJsonBodyDepth) + " levels");
        return std::nullopt;
    }
    try {
        return nlohmann::ordered_json::parse(body);
    } catch (const nlohmann::ordered_json::exception& e) {  // parse_error, and out_of_range for 1e400
        std::string what = e.what();
        if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
        error = error_response(400, "invalid_json", body.empty() ? "request body is empty; a JSON object is required"
                                                                     : "malformed JSON: " + what);
        return std::nullopt;
    }
}

HttpResponse vpl_error_response(const vpl::Diagnostics& diagnostics, const std::string& pipeline) {
    const vpl::Diagnostic* d = vpl::first_error(diagnostics);
    if (!d) return error_response(400, "parse_error", "invalid program");
    nlohmann::ordered_json body = {{"error", (pipeline.empty() ? "" : "pipeline '" + pipeline + "': ") + vpl::one_line(*d)},
                                   {"code", "parse_error"}};
    if (!pipeline.empty()) body["pipeline"] = pipeline;
    body["line"] = d->span.line;
    body["column"] = d->span.column;
    body["vpl_code"] = d->code;
    body["message"] = d->message;
    body["hint"] = d->hint;
    return json_response(400, body);
}

HttpResponse internal_error_response(const std::exception& e) {
    static log::Throttle throttle;
    throttle.write(log::Level::Error, "server", std::string("a request failed inside the server: ") + e.what());
    return error_response(500, "internal_error", "internal error; the server's log has the details");
}

nlohmann::json connector_totals_json(const engine::ConnectorTotals& t) {
    return {{"total", t.total}, {"connected", t.connected}, {"spooled", t.spooled}, {"dropped", t.dropped}, {"redelivered", t.redelivered}};
}

}  // namespace varpulis::server
