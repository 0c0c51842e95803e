// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/groups/group_routes.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <vector>

namespace varpulis::cluster {

using json = nlohmann::ordered_json;

namespace {

bool is_external(const Route& r) { return r.from_pipeline == "_external"; }

/// A cycle among the routes between pipelines, as "a -> b -> a", if there is one. What a route
/// carries goes to every pipeline subscribed to its topic, so two routes that share a topic link
/// each one's publisher to both subscribers (a -> b on t and c -> d on t: a -> d and c -> b too).
std::optional<std::string> route_cycle(const PipelineGroup& group) {
    std::map<std::string, std::vector<std::string>> subscribers;  // topic -> pipelines
    for (const auto& r : group.routes) {
        if (!is_external(r)) subscribers[route_topic(group, r)].push_back(r.to_pipeline);
    }
    std::map<std::string, std::vector<std::string>> next;
    for (const auto& r : group.routes) {
        if (is_external(r)) continue;
        for (const auto& to : subscribers[route_topic(group, r)]) next[r.from_pipeline].push_back(to);
    }
    enum class Mark { Unseen, OnPath, Done };
    std::map<std::string, Mark> mark;
    std::vector<std::string> path;
    std::function<std::optional<std::string>(const std::string&)> visit = [&](const std::string& node) -> std::optional<std::string> {
        mark[node] = Mark::OnPath;
        path.push_back(node);
        for (const auto& to : next[node]) {
            if (mark[to] == Mark::OnPath) {
                std::string out;
                for (auto it = std::find(path.begin(), path.end(), to); it != path.end(); ++it) out += *it + " -> ";
                return out + to;
            }
            if (mark[to] == Mark::Unseen) {
                if (auto found = visit(to)) return found;
            }
        }
        path.pop_back();
        mark[node] = Mark::Done;
        return std::nullopt;
    };
    for (const auto& r : group.routes) {
        if (is_external(r) || mark[r.from_pipeline] != Mark::Unseen) continue;
        if (auto found = visit(r.from_pipeline)) return found;
    }
    return std::nullopt;
}

/// Names end up in the default topic and the topic in subscriptions: no wildcards, and no '/'
/// in names (a/b -> c and a -> b/c would share a topic).
bool topic_safe(const std::string& s, bool allow_slash) {
    return !s.empty() && s.find_first_of(allow_slash ? "+#" : "+#/") == std::string::npos;
}

common::Status invalid(std::string message) { return {common::ErrorCode::Invalid, std::move(message)}; }

}  // namespace

std::string route_topic(const PipelineGroup& group, const Route& route) {
    if (!route.topic.empty()) return route.topic;
    return "varpulis/cluster/" + group.id + "/" + route.from_pipeline + "/" + route.to_pipeline;
}

json routes_for(const PipelineGroup& group, const std::string& pipeline, const RouteConnector& connector) {
    json publish = json::array(), subscribe = json::array();
    if (connector.empty()) return {{"publish", publish}, {"subscribe", subscribe}};
    json params = connector.params;
    // Named after the group and the pipeline, not the placement: a copy placed again after a
    // failover resumes the session and gets what was queued meanwhile.
    if (!connector.session_param.empty()) params[connector.session_param] = "varpulis-" + group.id + "-" + pipeline;
    const json declared = {{"kind", connector.kind}, {"params", params}};
    for (const auto& r : group.routes) {
        if (is_external(r)) continue;
        const std::string topic = route_topic(group, r);
        if (r.from_pipeline == pipeline) {
            json types = r.event_types.empty() ? json::array({"*"}) : json(r.event_types);
            publish.push_back({{"connector", declared}, {"topic", topic}, {"event_types", types}});
        }
        // Two routes on one topic (split by event types) are one subscription: each message once.
        const bool subscribed = std::any_of(subscribe.begin(), subscribe.end(), [&](const json& s) { return s["topic"] == topic; });
        if (r.to_pipeline == pipeline && !subscribed) subscribe.push_back({{"connector", declared}, {"topic", topic}});
    }
    return {{"publish", publish}, {"subscribe", subscribe}};
}

common::Status check_route(const PipelineGroup& group, const Route& route) {
    const bool internal = !is_external(route);
    auto known = [&](const std::string& name) {
        return std::any_of(group.pipelines.begin(), group.pipelines.end(), [&](const auto& p) { return p.name == name; });
    };
    if (internal && (!known(route.from_pipeline) || !known(route.to_pipeline))) {
        return invalid("route from '" + route.from_pipeline + "' to '" + route.to_pipeline + "' names a pipeline that is not in the group");
    }
    if (internal && route.from_pipeline == route.to_pipeline) {
        return invalid("route from '" + route.from_pipeline + "' to itself would loop forever");
    }
    if (internal && route.topic.empty() && (!topic_safe(route.from_pipeline, false) || !topic_safe(route.to_pipeline, false))) {
        return invalid("pipelines linked by a route without mqtt_topic need names without '/', '+' or '#'");
    }
    if (!route.topic.empty() && !topic_safe(route.topic, true)) {
        return invalid("mqtt_topic '" + route.topic + "' must not contain '+' or '#'");
    }
    return common::Status::ok();
}

common::Status check_no_cycle(const PipelineGroup& group) {
    if (auto cycle = route_cycle(group)) return invalid("routes " + *cycle + " form a cycle: events would loop forever");
    return common::Status::ok();
}

}  // namespace varpulis::cluster
