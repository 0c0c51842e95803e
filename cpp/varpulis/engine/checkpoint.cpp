// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/checkpoint.hpp"

namespace varpulis::engine {

using common::ErrorCode;
using common::Result;
using common::Status;

Json save_value(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Null: return nullptr;
        case Value::Kind::Bool: return v.as_bool();
        case Value::Kind::Int: return v.as_int();
        case Value::Kind::Float: return Json{{"f", v.as_float()}};
        case Value::Kind::Str: return v.as_string();
        case Value::Kind::Timestamp: return Json{{"ts", v.as_timestamp().ns}};
        case Value::Kind::Duration: return Json{{"dur", v.as_duration().ns}};
        case Value::Kind::Array: {
            Json out = Json::array();
            for (const auto& item : v.as_array()) out.push_back(save_value(item));
            return out;
        }
        case Value::Kind::Map: {
            Json pairs = Json::array();
            for (const auto& [k, item] : v.as_map()) pairs.push_back(Json::array({k, save_value(item)}));
            return Json{{"map", pairs}};
        }
    }
    return nullptr;
}

Result<Value> load_value(const Json& j) {
    if (j.is_null()) return Value();
    if (j.is_boolean()) return Value(j.get<bool>());
    if (j.is_number_integer()) return Value(j.get<int64_t>());
    if (j.is_number()) return Value(j.get<double>());
    if (j.is_string()) return Value(j.get<std::string>());
    if (j.is_array()) {
        common::Array out;
        for (const auto& item : j) {
            VP_ASSIGN_OR_RETURN(auto v, load_value(item));
            out.push_back(std::move(v));
        }
        return Value(std::move(out));
    }
    if (j.is_object() && j.size() == 1) {
        if (j.contains("f") && j["f"].is_number()) return Value(j["f"].get<double>());
        if (j.contains("ts") && j["ts"].is_number_integer()) return Value(common::Timestamp{j["ts"].get<int64_t>()});
        if (j.contains("dur") && j["dur"].is_number_integer()) return Value(common::Duration{j["dur"].get<int64_t>()});
        if (j.contains("map") && j["map"].is_array()) {
            common::Map out;
            for (const auto& pair : j["map"]) {
                if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string()) return Status(ErrorCode::Invalid, "bad map entry");
                VP_ASSIGN_OR_RETURN(auto v, load_value(pair[1]));
                out.emplace_back(pair[0].get<std::string>(), std::move(v));
            }
            return Value(std::move(out));
        }
    }
    return Status(ErrorCode::Invalid, "unrecognised value in checkpoint: " + j.dump().substr(0, 80));
}

Json save_event(const EventPtr& e) {
    if (!e) return nullptr;
    Json fields = Json::array();
    for (const auto& [name, value] : e->fields) fields.push_back(Json::array({symbol_name(name), save_value(value)}));
    return Json{{"type", e->type_name()}, {"ts", e->timestamp}, {"fields", fields}};
}

Result<EventPtr> load_event(const Json& j) {
    if (j.is_null()) return EventPtr();
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string() || !j.contains("ts") || !j["ts"].is_number_integer() ||
        !j.contains("fields") || !j["fields"].is_array()) {
        return Status(ErrorCode::Invalid, "bad event in checkpoint");
    }
    auto e = std::make_shared<Event>();
    e->type = intern_event_name(j["type"].get<std::string>());
    if (e->type == kNoSymbol) return Status(ErrorCode::LimitExceeded, event_names_full_message());
    e->timestamp = j["ts"].get<int64_t>();
    for (const auto& pair : j["fields"]) {
        if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string()) return Status(ErrorCode::Invalid, "bad field in checkpoint");
        VP_ASSIGN_OR_RETURN(auto v, load_value(pair[1]));
        Symbol name = intern_event_name(pair[0].get<std::string>());
        if (name == kNoSymbol) return Status(ErrorCode::LimitExceeded, event_names_full_message());
        e->fields.emplace_back(name, std::move(v));
    }
    return EventPtr(std::move(e));
}

}  // namespace varpulis::engine
