// SPDX-License-Identifier: Apache-2.0
// The coordinator's pipeline groups: placement, deploy (validated, atomic), routes between
// pipelines over MQTT, teardown and the routing of injects.
#include "varpulis/cluster/coordinator.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>

#include <simdjson.h>

#include "varpulis/cluster/coordinator_internal.hpp"
#include "varpulis/common/json_text.hpp"
#include "varpulis/common/log.hpp"
#include "varpulis/common/type_pattern.hpp"
#include "varpulis/common/uuid.hpp"
#include "varpulis/server/pipeline_registry.hpp"
#include "varpulis/vpl/frontend.hpp"

namespace varpulis::cluster {

namespace {

simdjson::dom::parser& thread_parser() {
    thread_local simdjson::dom::parser parser;
    return parser;
}

/// A cycle among the routes between pipelines, as "a -> b -> a", if there is one. What a route
/// carries goes to every pipeline subscribed to its topic, so two routes that share a topic link
/// each one's publisher to both subscribers (a -> b on t and c -> d on t: a -> d and c -> b too).
std::optional<std::string> route_cycle(const std::vector<Route>& routes, const std::function<std::string(const Route&)>& topic_of) {
    std::map<std::string, std::vector<std::string>> subscribers;  // topic -> pipelines
    for (const auto& r : routes) {
        if (r.from_pipeline != "_external") subscribers[topic_of(r)].push_back(r.to_pipeline);
    }
    std::map<std::string, std::vector<std::string>> next;
    for (const auto& r : routes) {
        if (r.from_pipeline == "_external") continue;
        for (const auto& to : subscribers[topic_of(r)]) next[r.from_pipeline].push_back(to);
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
    for (const auto& r : routes) {
        if (r.from_pipeline == "_external" || mark[r.from_pipeline] != Mark::Unseen) continue;
        if (auto found = visit(r.from_pipeline)) return found;
    }
    return std::nullopt;
}
}  // namespace

std::string Coordinator::choose_worker(const PipelineGroup& g, const PipelineSpec& spec, const std::vector<std::string>& exclude) {
    std::vector<const WorkerInfo*> candidates;
    for (const auto& [id, w] : workers_) {
        if (available(w) && std::find(exclude.begin(), exclude.end(), id) == exclude.end() && assigned(id) < w.max_pipelines) {
            candidates.push_back(&w);
        }
    }
    if (candidates.empty()) return {};
    std::sort(candidates.begin(), candidates.end(), [](auto* a, auto* b) { return a->order < b->order; });
    if (!spec.worker_affinity.empty()) {
        for (auto* w : candidates) {
            if (w->id == spec.worker_affinity) return w->id;
        }
    }
    if (g.placement == "least_loaded") {
        auto best = std::min_element(candidates.begin(), candidates.end(), [this](auto* a, auto* b) {
            return std::make_pair(assigned(a->id), a->order) < std::make_pair(assigned(b->id), b->order);
        });
        return (*best)->id;
    }
    return candidates[round_robin_++ % candidates.size()]->id;
}

std::string Coordinator::route_topic(const PipelineGroup& group, const Route& route) {
    if (!route.mqtt_topic.empty()) return route.mqtt_topic;
    return "varpulis/cluster/" + group.id + "/" + route.from_pipeline + "/" + route.to_pipeline;
}

json Coordinator::mqtt_routes_for(const PipelineGroup& group, const std::string& pipeline) const {
    json publish = json::array(), subscribe = json::array();
    if (options_.mqtt_broker.empty()) return {{"publish", publish}, {"subscribe", subscribe}};
    for (const auto& r : group.routes) {
        if (r.from_pipeline == "_external") continue;
        const std::string topic = route_topic(group, r);
        // Named after the group and the pipeline, not the placement: a copy placed again after a
        // failover resumes the broker session and gets what was queued meanwhile.
        const std::string client_id = "varpulis-" + group.id + "-" + pipeline;
        if (r.from_pipeline == pipeline) {
            json types = r.event_types.empty() ? json::array({"*"}) : json(r.event_types);
            publish.push_back({{"broker", options_.mqtt_broker}, {"topic", topic}, {"event_types", types}, {"client_id", client_id}});
        }
        // Two routes on one topic (split by event types) are one subscription: each message once.
        const bool subscribed = std::any_of(subscribe.begin(), subscribe.end(), [&](const json& s) { return s["topic"] == topic; });
        if (r.to_pipeline == pipeline && !subscribed) {
            subscribe.push_back({{"broker", options_.mqtt_broker}, {"topic", topic}, {"client_id", client_id}});
        }
    }
    return {{"publish", publish}, {"subscribe", subscribe}};
}

common::Result<std::string> Coordinator::deploy_on(const WorkerInfo& w, const PipelineGroup& group, const PipelineSpec& spec) {
    json body = {{"name", spec.name}, {"source", spec.source}};
    json routes = mqtt_routes_for(group, spec.name);
    if (!routes["publish"].empty() || !routes["subscribe"].empty()) body["routes"] = std::move(routes);
    auto r = client_.request("POST", w.address + "/api/v1/pipelines", body.dump(), {{"x-api-key", w.api_key}});
    if (!r) return r.status();
    if (r->status != 201) {
        std::string message = r->body;
        try {
            message = json::parse(r->body).value("error", r->body);
        } catch (...) {
        }
        return common::Status(common::ErrorCode::Invalid, "worker " + w.id + " answered " + std::to_string(r->status) + ": " + message);
    }
    try {
        return json::parse(r->body).at("id").get<std::string>();
    } catch (...) {
        return common::Status(common::ErrorCode::Invalid, "worker " + w.id + " sent an unreadable deploy answer");
    }
}

void Coordinator::remove_from(const WorkerInfo& w, const std::string& pipeline_id) {
    (void)client_.request("DELETE", w.address + "/api/v1/pipelines/" + pipeline_id, {}, {{"x-api-key", w.api_key}});
}

json Coordinator::group_json(const PipelineGroup& g) const {
    json placements = json::array();
    size_t running = 0;
    for (const auto& p : g.placements) {
        running += p.status == "running";
        placements.push_back({{"pipeline_name", p.pipeline_name}, {"worker_id", p.worker_id}, {"worker_address", p.worker_address},
                              {"pipeline_id", p.pipeline_id}, {"status", p.status}, {"epoch", p.epoch}});
    }
    std::string status = running == g.pipelines.size() ? "running" : running == 0 ? "failed" : "partially_running";
    return {{"id", g.id}, {"name", g.name}, {"status", status}, {"pipeline_count", g.pipelines.size()}, {"placements", placements}};
}

HttpResponse Coordinator::deploy_group(const HttpRequest& req) {
    HttpResponse error;
    auto body = parse_json_body(req, error);
    if (!body) return error;
    if (!body->is_object() || !body->value("name", json()).is_string() || !body->value("pipelines", json()).is_array() ||
        (*body)["pipelines"].empty()) {
        return error_response(400, "invalid_request", "a group needs {\"name\": string, \"pipelines\": [{\"name\", \"source\"}, ...]}");
    }
    auto group = std::make_shared<PipelineGroup>();
    group->id = common::new_uuid();
    group->name = (*body)["name"];
    group->placement = body->value("placement", std::string("round_robin"));
    for (const auto& p : (*body)["pipelines"]) {
        if (!p.is_object() || !p.value("name", json()).is_string() || !p.value("source", json()).is_string()) {
            return error_response(400, "invalid_request", "every pipeline needs \"name\" and \"source\" strings");
        }
        PipelineSpec spec{p["name"], p["source"], p.value("worker_affinity", std::string())};
        // Validated before anything is placed: a bad program leaves nothing deployed.
        auto checked = vpl::check(spec.source);
        if (!checked.ok()) {
            for (const auto& d : checked.diagnostics) {
                if (d.severity != vpl::Severity::Error) continue;
                return json_response(400, {{"error", "pipeline '" + spec.name + "': " + std::to_string(d.span.line) + ":" +
                                                         std::to_string(d.span.column) + ": error[" + d.code + "] " + d.message},
                                           {"code", "parse_error"}, {"pipeline", spec.name}, {"line", d.span.line},
                                           {"column", d.span.column}});
            }
        }
        group->pipelines.push_back(std::move(spec));
    }
    for (const auto& r : body->value("routes", json::array())) {
        Route route{r.value("from_pipeline", std::string("_external")), r.value("to_pipeline", std::string()), {},
                    r.value("mqtt_topic", std::string())};
        for (const auto& t : r.value("event_types", json::array())) {
            if (t.is_string()) route.event_types.push_back(t);
        }
        const bool internal = route.from_pipeline != "_external";
        auto known = [&](const std::string& name) {
            return std::any_of(group->pipelines.begin(), group->pipelines.end(), [&](const auto& p) { return p.name == name; });
        };
        if (internal && (!known(route.from_pipeline) || !known(route.to_pipeline))) {
            return error_response(400, "invalid_request", "route from '" + route.from_pipeline + "' to '" + route.to_pipeline +
                                                              "' names a pipeline that is not in the group");
        }
        if (internal && route.from_pipeline == route.to_pipeline) {
            return error_response(400, "invalid_request", "route from '" + route.from_pipeline + "' to itself would loop forever");
        }
        // Names end up in the default topic and the topic in subscriptions: no wildcards, and no
        // '/' in names (a/b -> c and a -> b/c would share a topic).
        auto topic_safe = [](const std::string& s, bool allow_slash) {
            return !s.empty() && s.find_first_of(allow_slash ? "+#" : "+#/") == std::string::npos;
        };
        if (internal && route.mqtt_topic.empty() && (!topic_safe(route.from_pipeline, false) || !topic_safe(route.to_pipeline, false))) {
            return error_response(400, "invalid_request", "pipelines linked by a route without mqtt_topic need names without '/', '+' or '#'");
        }
        if (!route.mqtt_topic.empty() && !topic_safe(route.mqtt_topic, true)) {
            return error_response(400, "invalid_request", "mqtt_topic '" + route.mqtt_topic + "' must not contain '+' or '#'");
        }
        if (internal && options_.mqtt_broker.empty()) {
            log::warn("cluster", "group '" + group->name + "': the route from '" + route.from_pipeline + "' to '" + route.to_pipeline +
                                     "' carries nothing: start the coordinator with --mqtt-broker");
        }
        group->routes.push_back(std::move(route));
    }
    if (auto cycle = route_cycle(group->routes, [&](const Route& r) { return route_topic(*group, r); })) {
        return error_response(400, "invalid_request", "routes " + *cycle + " form a cycle: events would loop forever");
    }
    // Placement under the lock; deploys (HTTP) without it.
    std::vector<std::pair<PipelineSpec, WorkerInfo>> plan;
    {
        std::lock_guard lock(mutex_);
        for (const auto& spec : group->pipelines) {
            std::string wid = choose_worker(*group, spec, {});
            if (wid.empty()) return error_response(503, "no_workers_available", "no worker is available to run pipeline '" + spec.name + "'");
            plan.emplace_back(spec, workers_[wid]);
            group->placements.push_back({spec.name, wid, workers_[wid].address, "", "pending", 1});
        }
    }
    json failures = json::array();
    for (size_t i = 0; i < plan.size(); ++i) {
        auto id = deploy_on(plan[i].second, *group, plan[i].first);
        if (id) {
            group->placements[i].pipeline_id = *id;
            group->placements[i].status = "running";
        } else {
            failures.push_back({{"pipeline", plan[i].first.name}, {"worker_id", plan[i].second.id}, {"error", id.status().message()}});
        }
    }
    if (!failures.empty()) {
        for (size_t i = 0; i < plan.size(); ++i) {
            if (!group->placements[i].pipeline_id.empty()) remove_from(plan[i].second, group->placements[i].pipeline_id);
        }
        return json_response(502, {{"error", "deploy failed; pipelines already placed were removed"}, {"code", "deploy_failed"},
                                   {"failures", failures}});
    }
    {
        std::lock_guard lock(mutex_);
        groups_.push_back(group);
    }
    log::info("cluster", "pipeline group '" + group->name + "' deployed (" + std::to_string(plan.size()) + " pipelines)");
    if (common::Status saved = save(); !saved.is_ok()) return state_error(saved);
    std::lock_guard lock(mutex_);
    return json_response(201, group_json(*group));
}

HttpResponse Coordinator::list_groups() const {
    std::lock_guard lock(mutex_);
    json list = json::array();
    for (const auto& g : groups_) list.push_back(group_json(*g));
    return json_response(200, {{"groups", list}, {"total", list.size()}});
}

HttpResponse Coordinator::get_group(const std::string& id) const {
    std::lock_guard lock(mutex_);
    for (const auto& g : groups_) {
        if (g->id == id) return json_response(200, group_json(*g));
    }
    return error_response(404, "group_not_found", "unknown pipeline group " + id);
}

HttpResponse Coordinator::teardown_group(const std::string& id) {
    std::shared_ptr<PipelineGroup> group;
    std::vector<std::pair<WorkerInfo, std::string>> removals;
    {
        std::lock_guard lock(mutex_);
        auto it = std::find_if(groups_.begin(), groups_.end(), [&](const auto& g) { return g->id == id; });
        if (it == groups_.end()) return error_response(404, "group_not_found", "unknown pipeline group " + id);
        group = *it;
        groups_.erase(it);
        for (const auto& p : group->placements) {
            auto w = workers_.find(p.worker_id);
            if (w != workers_.end() && !p.pipeline_id.empty()) removals.emplace_back(w->second, p.pipeline_id);
        }
    }
    for (const auto& [w, pid] : removals) remove_from(w, pid);
    log::info("cluster", "pipeline group '" + group->name + "' torn down");
    if (common::Status saved = save(); !saved.is_ok()) return state_error(saved);
    return json_response(200, {{"torn_down", true}});
}

/// Where an event type goes in a group: the first matching external route, else the first pipeline.
static const Placement* target_of(const PipelineGroup& group, std::string_view type) {
    std::string_view name = group.pipelines.front().name;
    for (const auto& r : group.routes) {
        if (r.from_pipeline != "_external") continue;
        if (std::any_of(r.event_types.begin(), r.event_types.end(),
                        [&](const auto& p) { return common::event_type_matches(p, type); })) {
            name = r.to_pipeline;
            break;
        }
    }
    for (const auto& p : group.placements) {
        if (p.pipeline_name == name) return &p;
    }
    return nullptr;
}

namespace {

struct InjectTarget {
    std::string pipeline, worker_id, address, api_key, pipeline_id;
};

/// A worker's answer, or the coordinator's error when the worker could not be reached.
std::pair<int, std::string> worker_answer(const InjectTarget& t, common::Result<HttpResult>& r) {
    if (!r && r.status().code() == common::ErrorCode::LimitExceeded) {
        // The worker did take the events: only its answer could not be carried.
        return {502, error_response(502, "worker_answer_too_large", "worker " + t.worker_id + ": " + r.status().message()).body};
    }
    if (!r) return {502, error_response(502, "worker_unreachable", "worker " + t.worker_id + ": " + r.status().message()).body};
    return {r->status, std::move(r->body)};
}

/// {"routed_to", "worker_id", ["status",] "worker_response"}: the worker's answer spliced in as it came.
std::string routed_answer(std::string_view pipeline, std::string_view worker_id, std::string_view worker_response,
                          std::optional<int> status = std::nullopt) {
    std::string out;
    out.reserve(64 + pipeline.size() + worker_id.size() + worker_response.size());
    out += "{\"routed_to\":";
    common::append_json_string(out, pipeline);
    out += ",\"worker_id\":";
    common::append_json_string(out, worker_id);
    if (status) out += ",\"status\":" + std::to_string(*status);
    out += ",\"worker_response\":";
    out += worker_response;
    out += '}';
    return out;
}

/// Collects the answers of one batch's per-pipeline forwards; the last one to arrive answers.
class BatchReply {
  public:
    BatchReply(size_t parts, size_t unrouted, server::HttpResponder respond)
        : parts_(parts), pending_(parts), unrouted_(unrouted), respond_(std::move(respond)) {}

    void add(size_t index, const std::string& pipeline, const InjectTarget& target, int status, const std::string& body) {
        uint64_t n = 0;
        simdjson::dom::element answer;
        bool counted = status == 200 && thread_parser().parse(body).get(answer) == simdjson::SUCCESS &&
                       answer["accepted"].get(n) == simdjson::SUCCESS;
        std::string part = routed_answer(pipeline, target.worker_id, body, status);
        std::lock_guard lock(mutex_);
        parts_[index] = std::move(part);
        if (counted) accepted_ += n;
        if (--pending_ == 0) finish();
    }

    void finish() {
        std::string results;
        for (const auto& p : parts_) results += (results.empty() ? "" : ",") + p;
        HttpResponse r;
        r.body = "{\"accepted\":" + std::to_string(accepted_) + ",\"unrouted\":" + std::to_string(unrouted_) + ",\"results\":[" +
                 results + "]}";
        respond_(std::move(r));
    }

  private:
    std::mutex mutex_;
    std::vector<std::string> parts_;
    size_t pending_;
    size_t unrouted_;
    uint64_t accepted_ = 0;
    server::HttpResponder respond_;
};

}  // namespace

std::optional<HttpResponse> Coordinator::inject(const HttpRequest& req, const std::string& group_id, bool batch,
                                                const server::HttpResponder& respond) {
    // Only the event types are read here: bodies go to the workers as they came, and the workers'
    // answers are spliced into ours unparsed.
    simdjson::dom::parser& parser = thread_parser();
    simdjson::dom::element doc;
    if (auto err = parser.parse(req.body.data(), req.body.size()).get(doc); err) {
        return error_response(400, "invalid_json", std::string("malformed JSON: ") + simdjson::error_message(err));
    }
    std::vector<std::string_view> types;
    simdjson::dom::array events;
    if (batch) {
        if (doc["events"].get(events) != simdjson::SUCCESS) return error_response(400, "invalid_request", "a batch is {\"events\": [...]}");
        for (auto e : events) {
            std::string_view t;
            types.push_back(e["event_type"].get(t) == simdjson::SUCCESS ? t : std::string_view());
        }
    } else {
        std::string_view t;
        if (doc["event_type"].get(t) != simdjson::SUCCESS || t.empty()) {
            return error_response(400, "invalid_event", "\"event_type\" must be a non-empty string");
        }
        types.push_back(t);
    }
    ++injects_;
    std::vector<std::optional<InjectTarget>> targets;
    targets.reserve(types.size());
    std::shared_ptr<AsyncHttpClient> forwarder;
    std::shared_ptr<InjectCoalescer> coalescer;
    {
        std::lock_guard lock(mutex_);
        forwarder = forwarder_;
        coalescer = coalescer_;
        std::shared_ptr<PipelineGroup> group;
        for (const auto& g : groups_) {
            if (g->id == group_id) group = g;
        }
        if (!group) return error_response(404, "group_not_found", "unknown pipeline group " + group_id);
        for (auto t : types) {
            const Placement* p = t.empty() ? nullptr : target_of(*group, t);
            auto w = p ? workers_.find(p->worker_id) : workers_.end();
            if (!p || w == workers_.end() || p->pipeline_id.empty()) {
                targets.emplace_back();
            } else {
                targets.push_back(InjectTarget{p->pipeline_name, p->worker_id, w->second.address, w->second.api_key, p->pipeline_id});
            }
        }
    }
    if (!forwarder || !coalescer) return error_response(503, "not_serving", "the coordinator is starting or stopping");
    auto send = [&forwarder](const InjectTarget& t, const char* path, std::string payload, HttpCallback done) {
        forwarder->request("POST", t.address + "/api/v1/pipelines/" + t.pipeline_id + path, std::move(payload),
                           {{"x-api-key", t.api_key}}, std::move(done));
    };
    if (!batch) {
        if (!targets[0]) return error_response(503, "pipeline_unavailable", "no running pipeline for " + std::string(types[0]));
        // Shared with the callback, not copied into it: five strings.
        auto target = std::make_shared<const InjectTarget>(std::move(*targets[0]));
        coalescer->submit(target->address + "/api/v1/pipelines/" + target->pipeline_id, target->api_key, req.body,
                          [respond, target](common::Result<HttpResult> result) {
            auto [status, body] = worker_answer(*target, result);
            HttpResponse r;
            r.status = status;
            r.body = status >= 300 ? std::move(body) : routed_answer(target->pipeline, target->worker_id, body);
            respond(std::move(r));
        });
        return std::nullopt;
    }
    // One batch per target pipeline, all sent at once over kept-alive connections; a batch whose
    // events all go to one pipeline is forwarded as it came.
    std::map<std::string, std::pair<InjectTarget, std::string>> per_pipeline;
    size_t unrouted = 0, index = 0;
    bool single = true;
    for (size_t i = 1; i < targets.size(); ++i) single = single && targets[i] && targets[0] && targets[i]->pipeline == targets[0]->pipeline;
    if (single && !targets.empty() && targets[0]) {
        per_pipeline[targets[0]->pipeline] = {*targets[0], req.body};
    } else {
        for (auto e : events) {
            const auto& t = targets[index++];
            if (!t) {
                ++unrouted;
                continue;
            }
            auto& [target, payload] = per_pipeline[t->pipeline];
            if (payload.empty()) {
                target = *t;
                payload = "{\"events\":[";
            } else {
                payload += ',';
            }
            payload += simdjson::minify(e);
        }
        for (auto& [name, entry] : per_pipeline) entry.second += "]}";
    }
    auto reply = std::make_shared<BatchReply>(per_pipeline.size(), unrouted, respond);
    if (per_pipeline.empty()) {
        reply->finish();
        return std::nullopt;
    }
    size_t part = 0;
    for (auto& [name, entry] : per_pipeline) {
        send(entry.first, "/events-batch", std::move(entry.second),
             [reply, part, name = name, target = entry.first](common::Result<HttpResult> result) {
                 auto [status, body] = worker_answer(target, result);
                 reply->add(part, name, target, status, body);
             });
        ++part;
    }
    return std::nullopt;
}

}  // namespace varpulis::cluster
