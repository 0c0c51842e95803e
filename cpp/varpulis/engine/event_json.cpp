// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/event_json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <optional>

#include "varpulis/common/json_text.hpp"
#include "varpulis/common/time.hpp"

namespace varpulis::engine {

using common::ErrorCode;
using common::Result;
using common::Status;
using common::append_json_string;
using json = OrderedJson;

std::string rfc3339(int64_t ns) {
    int64_t secs = ns / 1'000'000'000;
    int64_t rem = ns % 1'000'000'000;
    if (rem < 0) {
        rem += 1'000'000'000;
        --secs;
    }
    int64_t days = secs / 86400;
    int64_t sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        --days;
    }
    // civil_from_days (Howard Hinnant)
    days += 719468;
    const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const auto doe = static_cast<unsigned>(days - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t y = static_cast<int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", static_cast<long long>(y + (m <= 2)),
                  m, d, static_cast<long long>(sod / 3600), static_cast<long long>(sod / 60 % 60),
                  static_cast<long long>(sod % 60), static_cast<long long>(rem / 1'000'000));
    return buf;
}

json value_json(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Null: return nullptr;
        case Value::Kind::Bool: return v.as_bool();
        case Value::Kind::Int: return v.as_int();
        case Value::Kind::Float: {
            double d = v.as_float();
            return std::isfinite(d) ? json(d) : json(nullptr);
        }
        case Value::Kind::Str: return v.as_string();
        case Value::Kind::Timestamp: return rfc3339(v.as_timestamp().ns);
        case Value::Kind::Duration: return v.as_duration().ns;
        case Value::Kind::Array: {
            json out = json::array();
            for (const auto& item : v.as_array()) out.push_back(value_json(item));
            return out;
        }
        case Value::Kind::Map: {
            json out = json::object();
            for (const auto& [k, item] : v.as_map()) out[k] = value_json(item);
            return out;
        }
    }
    return nullptr;
}

Result<Value> json_value(const json& j, const EventLimits& limits, size_t depth) {
    if (depth > limits.max_depth) {
        return Status(ErrorCode::LimitExceeded, "value nested deeper than " + std::to_string(limits.max_depth) + " levels");
    }
    switch (j.type()) {
        case json::value_t::null: return Value();
        case json::value_t::boolean: return Value(j.get<bool>());
        case json::value_t::number_integer: return Value(j.get<int64_t>());
        case json::value_t::number_unsigned: {
            auto u = j.get<uint64_t>();
            if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
            return Value(static_cast<int64_t>(u));
        }
        case json::value_t::number_float: return Value(j.get<double>());
        case json::value_t::string: {
            const auto& s = j.get_ref<const std::string&>();
            if (s.size() > limits.max_string_bytes) {
                return Status(ErrorCode::LimitExceeded, "string of " + std::to_string(s.size()) + " bytes exceeds the limit of " +
                                                            std::to_string(limits.max_string_bytes));
            }
            return Value(s);
        }
        case json::value_t::array: {
            common::Array out;
            out.reserve(j.size());
            for (const auto& item : j) {
                VP_ASSIGN_OR_RETURN(auto v, json_value(item, limits, depth + 1));
                out.push_back(std::move(v));
            }
            return Value(std::move(out));
        }
        case json::value_t::object: {
            common::Map out;
            out.reserve(j.size());
            for (const auto& [k, item] : j.items()) {
                VP_ASSIGN_OR_RETURN(auto v, json_value(item, limits, depth + 1));
                out.emplace_back(k, std::move(v));
            }
            return Value(std::move(out));
        }
        default: return Status(ErrorCode::Invalid, "unsupported JSON value");
    }
}

json event_json(const Event& e, bool with_timestamp) {
    json out = json::object();
    out["event_type"] = e.type_name();
    if (with_timestamp) out["timestamp"] = rfc3339(e.timestamp);
    for (const auto& [name, value] : e.fields) {
        const std::string& key = symbol_name(name);
        if (key == "event_type" || (with_timestamp && key == "timestamp")) continue;
        out[key] = value_json(value);
    }
    return out;
}

namespace {

void append_value_json(std::string& out, const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Null: out += "null"; return;
        case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
        case Value::Kind::Int: out += std::to_string(v.as_int()); return;
        case Value::Kind::Duration: out += std::to_string(v.as_duration().ns); return;
        case Value::Kind::Str: append_json_string(out, v.as_string()); return;
        case Value::Kind::Timestamp: append_json_string(out, rfc3339(v.as_timestamp().ns)); return;
        // Floats (nlohmann's shortest form) and containers. A string inside a container is not
        // always UTF-8 (an .evt file's bytes): replaced as append_json_string does (evt_fuzz found
        // the throw).
        default: out += value_json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
}

}  // namespace

void append_event_json(std::string& out, const Event& e, bool with_timestamp) {
    out += "{\"event_type\":";
    append_json_string(out, e.type_name());
    if (with_timestamp) {
        // Events of one batch share their timestamp: format it once per thread, not per event.
        thread_local int64_t formatted_ns = INT64_MIN;
        thread_local std::string formatted;
        if (e.timestamp != formatted_ns) {
            formatted_ns = e.timestamp;
            formatted.clear();
            append_json_string(formatted, rfc3339(e.timestamp));
        }
        out += ",\"timestamp\":";
        out += formatted;
    }
    for (const auto& [name, value] : e.fields) {
        const std::string& key = symbol_name(name);
        if (key == "event_type" || (with_timestamp && key == "timestamp")) continue;
        out += ',';
        append_json_string(out, key);
        out += ':';
        append_value_json(out, value);
    }
    out += '}';
}

namespace {

/// Copy the members of a JSON object into the event's fields, except the names in `skip`.
Status add_fields(Event& e, const json& object, const EventLimits& limits, std::initializer_list<std::string_view> skip = {}) {
    e.fields.reserve(object.size());
    for (const auto& [k, v] : object.items()) {
        if (std::find(skip.begin(), skip.end(), k) != skip.end()) continue;
        auto value = json_value(v, limits, 1);
        if (!value) return Status(value.status().code(), "field '" + k + "': " + value.status().message());
        Symbol name = intern_event_name(k);
        if (name == kNoSymbol) return Status(ErrorCode::LimitExceeded, event_names_full_message());
        e.fields.emplace_back(name, std::move(*value));
    }
    return Status::ok();
}

Status check_field_count(size_t n, const EventLimits& limits) {
    if (n <= limits.max_fields) return Status::ok();
    return Status(ErrorCode::LimitExceeded, "event has " + std::to_string(n) + " fields; the limit is " + std::to_string(limits.max_fields));
}

}  // namespace

Result<EventPtr> event_from_json(std::string_view type, const json& fields, int64_t timestamp, const EventLimits& limits) {
    if (type.empty()) return Status(ErrorCode::Invalid, "event_type must be a non-empty string");
    if (!fields.is_object() && !fields.is_null()) return Status(ErrorCode::Invalid, "fields must be a JSON object");
    VP_RETURN_NOT_OK(check_field_count(fields.size(), limits));
    auto e = std::make_shared<Event>();
    e->type = intern_event_name(type);
    if (e->type == kNoSymbol) return Status(ErrorCode::LimitExceeded, event_names_full_message());
    e->timestamp = timestamp;
    if (fields.is_object()) VP_RETURN_NOT_OK(add_fields(*e, fields, limits));
    return EventPtr(std::move(e));
}

Result<EventPtr> event_from_flat_json(const json& object, std::string_view default_type, int64_t now_ns, const EventLimits& limits) {
    if (!object.is_object()) return Status(ErrorCode::Invalid, "the payload is not a JSON object");
    std::string type(default_type);
    std::string_view type_key;  // the member that named the type; a "type" field is kept otherwise
    for (const char* key : {"event_type", "type"}) {
        auto it = object.find(key);
        if (it == object.end()) continue;
        if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
            return Status(ErrorCode::Invalid, std::string("\"") + key + "\" must be a non-empty string");
        }
        type = it->get<std::string>();
        type_key = key;
        break;
    }
    if (type.empty()) return Status(ErrorCode::Invalid, "the payload has no \"event_type\"");
    int64_t timestamp = now_ns;
    if (auto it = object.find("timestamp"); it != object.end()) {
        std::optional<int64_t> parsed;
        if (it->is_number_integer()) parsed = it->get<int64_t>();
        if (it->is_string()) parsed = common::parse_rfc3339(it->get_ref<const std::string&>());
        if (!parsed) return Status(ErrorCode::Invalid, "\"timestamp\" must be RFC 3339 text or integer nanoseconds since the epoch");
        timestamp = *parsed;
    }
    VP_RETURN_NOT_OK(check_field_count(object.size(), limits));
    auto e = std::make_shared<Event>();
    e->type = intern_event_name(type);
    if (e->type == kNoSymbol) return Status(ErrorCode::LimitExceeded, event_names_full_message());
    e->timestamp = timestamp;
    VP_RETURN_NOT_OK(add_fields(*e, object, limits, {"event_type", type_key, "timestamp"}));
    return EventPtr(std::move(e));
}

}  // namespace varpulis::engine
