// SPDX-License-Identifier: Apache-2.0
#include "varpulis/server/pipeline_routes.hpp"

#include "varpulis/common/path.hpp"

namespace varpulis::server {

using common::ErrorCode;
using common::Status;
using common::Value;
using nlohmann::json;

namespace {

Status bad(const std::string& why) { return Status(ErrorCode::Invalid, "routes: " + why); }

json param_json(const Value& v) {
    if (v.is_bool()) return v.as_bool();
    if (v.is_int()) return v.as_int();
    if (v.is_float()) return v.as_float();
    return v.to_display();
}

common::Result<Value> param_value(const std::string& key, const json& j) {
    if (j.is_boolean()) return Value(j.get<bool>());
    if (j.is_number_integer()) return Value(j.get<int64_t>());
    if (j.is_number_float()) return Value(j.get<double>());
    if (j.is_string()) return Value(j.get<std::string>());
    return bad("connector parameter '" + key + "' must be a string, a number or a boolean");
}

/// `{"kind": "mqtt", "params": {"host": "h", ...}}`.
common::Result<engine::ConnectorConfig> connector_of(const json& j) {
    if (!j.is_object() || !j.value("kind", json()).is_string() || j["kind"].get_ref<const std::string&>().empty()) {
        return bad("a route's \"connector\" is {\"kind\": string, \"params\": {...}}");
    }
    engine::ConnectorConfig c{"", j["kind"], {}, {}};
    const json params = j.value("params", json::object());
    if (!params.is_object()) return bad("a route connector's \"params\" must be an object");
    for (const auto& [key, value] : params.items()) {
        VP_ASSIGN_OR_RETURN(c.params[key], param_value(key, value));
    }
    return c;
}

/// The first release's spelling: `"broker": "host:port"` (port 1883 when absent), an optional
/// `client_id`; routes then always published and subscribed at QoS 1.
common::Result<engine::ConnectorConfig> legacy_mqtt_connector(const json& item) {
    const std::string broker = item["broker"];
    const auto address = common::split_host_port(broker, 1883);
    if (!address) return bad("broker '" + broker + "' is not host:port");
    engine::ConnectorConfig c{"", "mqtt", {{"host", Value(address->host)}, {"port", Value(int64_t{address->port})}, {"qos", Value(int64_t{1})}}, {}};
    if (!item.value("client_id", json("")).is_string()) return bad("client_id must be a string");
    if (const std::string id = item.value("client_id", std::string()); !id.empty()) c.params["client_id"] = Value(id);
    return c;
}

common::Result<RouteLink> link_of(const json& item, bool publish) {
    const char* kind = publish ? "publish" : "subscribe";
    const bool topic_ok = item.is_object() && item.value("topic", json()).is_string() && !item["topic"].get_ref<const std::string&>().empty();
    const bool legacy = item.is_object() && item.value("broker", json()).is_string();
    if (!topic_ok || (!legacy && !item.contains("connector"))) {
        return bad(std::string("every ") + kind + " route needs a \"connector\" (or \"broker\": \"host:port\") and a non-empty \"topic\"");
    }
    RouteLink link;
    if (legacy) {
        VP_ASSIGN_OR_RETURN(link.connector, legacy_mqtt_connector(item));
    } else {
        VP_ASSIGN_OR_RETURN(link.connector, connector_of(item["connector"]));
    }
    link.topic = item["topic"];
    if (publish) {
        const json types = item.value("event_types", json::array({"*"}));
        if (!types.is_array()) return bad("event_types must be an array of patterns");
        for (const auto& t : types) {
            if (!t.is_string()) return bad("event_types must be an array of patterns");
            link.event_types.push_back(t);
        }
    }
    return link;
}

}  // namespace

json PipelineRoutes::to_json() const {
    auto list = [](const std::vector<RouteLink>& links, bool with_types) {
        json out = json::array();
        for (const auto& l : links) {
            json params = json::object();
            for (const auto& [key, value] : l.connector.params) params[key] = param_json(value);
            json item = {{"connector", {{"kind", l.connector.kind}, {"params", params}}}, {"topic", l.topic}};
            if (with_types) item["event_types"] = l.event_types;
            out.push_back(std::move(item));
        }
        return out;
    };
    return {{"publish", list(publish, true)}, {"subscribe", list(subscribe, false)}};
}

common::Result<PipelineRoutes> PipelineRoutes::from_json(const json& j) {
    if (!j.is_object()) return bad("must be an object {\"publish\": [...], \"subscribe\": [...]}");
    PipelineRoutes routes;
    for (const bool publish : {true, false}) {
        const char* kind = publish ? "publish" : "subscribe";
        const json list = j.value(kind, json::array());
        if (!list.is_array()) return bad(std::string(kind) + " must be an array");
        for (const auto& item : list) {
            VP_ASSIGN_OR_RETURN(auto link, link_of(item, publish));
            (publish ? routes.publish : routes.subscribe).push_back(std::move(link));
        }
    }
    return routes;
}

}  // namespace varpulis::server
