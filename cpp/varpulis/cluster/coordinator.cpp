// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/coordinator.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include <simdjson.h>

#include "varpulis/common/log.hpp"
#include "varpulis/common/version.hpp"
#include "varpulis/server/json_http.hpp"
#include "varpulis/server/pipeline_registry.hpp"
#include "varpulis/server/worker_api.hpp"
#include "varpulis/vpl/frontend.hpp"

namespace varpulis::cluster {

using json = nlohmann::ordered_json;
using server::error_response;
using server::json_response;
using server::parse_json_body;
using server::HttpRequest;
using server::HttpResponse;

namespace {



simdjson::dom::parser& thread_parser() {
    thread_local simdjson::dom::parser parser;
    return parser;
}

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> parts;
    std::stringstream s(path);
    for (std::string part; std::getline(s, part, '/');) {
        if (!part.empty()) parts.push_back(part);
    }
    return parts;
}

}  // namespace

const char* worker_status_name(WorkerStatus s) {
    switch (s) {
        case WorkerStatus::Registering: return "registering";
        case WorkerStatus::Ready: return "ready";
        case WorkerStatus::Busy: return "busy";
        case WorkerStatus::Unhealthy: return "unhealthy";
        case WorkerStatus::Draining: return "draining";
    }
    return "unknown";
}

Coordinator::Coordinator(CoordinatorOptions options) : options_(std::move(options)) { load(); }

Coordinator::~Coordinator() { stop(); }

void Coordinator::start() {
    sweeper_ = std::thread([this] {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            wake_.wait_for(lock, options_.heartbeat_interval, [this] { return stopping_; });
            if (stopping_) break;
            lock.unlock();
            sweep();
            lock.lock();
        }
    });
}

void Coordinator::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (sweeper_.joinable()) sweeper_.join();
}

bool Coordinator::available(const WorkerInfo& w) const {
    return w.status == WorkerStatus::Ready || w.status == WorkerStatus::Registering;
}

size_t Coordinator::assigned(const std::string& worker_id) const {
    size_t n = 0;
    for (const auto& g : groups_) {
        for (const auto& p : g->placements) n += p.worker_id == worker_id;
    }
    return n;
}

HttpResponse Coordinator::handle(const HttpRequest& req) {
    try {
        return route(req);
    } catch (const std::exception& e) {
        return error_response(500, "internal_error", std::string("internal error: ") + e.what());
    }
}

HttpResponse Coordinator::route(const HttpRequest& req) {
    const std::string& m = req.method;
    if (req.path == "/health") {
        return json_response(200, {{"role", "coordinator"}, {"status", "healthy"}, {"version", common::kVersion}});
    }
    if (req.path == "/ready") return json_response(200, {{"status", "ready"}, {"role", "coordinator"}});
    if (req.path == "/metrics") return prometheus();
    auto parts = split_path(req.path);
    if (parts.size() < 4 || parts[0] != "api" || parts[1] != "v1" || parts[2] != "cluster") {
        return error_response(404, "not_found", "no route for " + req.path);
    }
    // Workers authenticate registration with the join token and heartbeats with their token.
    bool worker_call = parts[3] == "workers" &&
                       ((parts.size() == 5 && parts[4] == "register" && m == "POST") ||
                        (parts.size() == 6 && parts[5] == "heartbeat" && m == "POST"));
    if (!worker_call && !options_.api_key.empty() && !server::constant_time_equal(req.header("x-api-key"), options_.api_key)) {
        return error_response(401, "unauthorized", req.header("x-api-key").empty() ? "missing x-api-key header" : "invalid API key");
    }
    if (parts[3] == "topology" && parts.size() == 4) return m == "GET" ? topology() : error_response(405, "method_not_allowed", "use GET");
    if (parts[3] == "workers") {
        if (parts.size() == 4) return m == "GET" ? list_workers() : error_response(405, "method_not_allowed", "use GET");
        if (parts.size() == 5 && parts[4] == "register") return m == "POST" ? register_worker(req) : error_response(405, "method_not_allowed", "use POST");
        if (parts.size() == 5) {
            if (m == "GET") return get_worker(parts[4]);
            if (m == "DELETE") return delete_worker(parts[4]);
            return error_response(405, "method_not_allowed", "use GET or DELETE");
        }
        if (parts.size() == 6 && parts[5] == "heartbeat") return m == "POST" ? heartbeat(req, parts[4]) : error_response(405, "method_not_allowed", "use POST");
        if (parts.size() == 6 && parts[5] == "drain") return m == "POST" ? drain_worker(parts[4]) : error_response(405, "method_not_allowed", "use POST");
    }
    if (parts[3] == "pipeline-groups") {
        if (parts.size() == 4) {
            if (m == "POST") return deploy_group(req);
            if (m == "GET") return list_groups();
            return error_response(405, "method_not_allowed", "use GET or POST");
        }
        if (parts.size() == 5) {
            if (m == "GET") return get_group(parts[4]);
            if (m == "DELETE") return teardown_group(parts[4]);
            return error_response(405, "method_not_allowed", "use GET or DELETE");
        }
        if (parts.size() == 6 && (parts[5] == "inject" || parts[5] == "inject-batch")) {
            return m == "POST" ? inject(req, parts[4], parts[5] == "inject-batch") : error_response(405, "method_not_allowed", "use POST");
        }
    }
    return error_response(404, "not_found", "no route for " + req.path);
}

json Coordinator::worker_json(const WorkerInfo& w) const {
    json pipelines = json::array();
    for (const auto& g : groups_) {
        for (const auto& p : g->placements) {
            if (p.worker_id == w.id) pipelines.push_back(p.pipeline_name);
        }
    }
    WorkerStatus status = w.status == WorkerStatus::Ready && pipelines.size() >= w.max_pipelines ? WorkerStatus::Busy : w.status;
    json out = {{"id", w.id}, {"address", w.address}, {"status", worker_status_name(status)},
                {"pipelines_running", pipelines.size()}, {"max_pipelines", w.max_pipelines},
                {"assigned_pipelines", pipelines}, {"events_processed", w.events_processed}};
    // Only workers whose pipelines hold broker connections say so; others keep the tutorial's shape.
    if (w.connectors_total > 0) out["connectors"] = {{"total", w.connectors_total}, {"connected", w.connectors_connected}};
    return out;
}

HttpResponse Coordinator::register_worker(const HttpRequest& req) {
    HttpResponse error;
    auto body = parse_json_body(req, error);
    if (!body) return error;
    if (!body->is_object() || !body->value("worker_id", json()).is_string() || !body->value("address", json()).is_string()) {
        return error_response(400, "invalid_request", "registration needs {\"worker_id\": string, \"address\": \"http://host:port\"}");
    }
    if (!options_.join_token.empty() &&
        !server::constant_time_equal(body->value("join_token", std::string()), options_.join_token)) {
        return error_response(401, "invalid_join_token", "the join token does not match the coordinator's");
    }
    std::string id = (*body)["worker_id"];
    std::string token = server::new_uuid();
    {
        std::lock_guard lock(mutex_);
        deregistered_.erase(id);
        auto [it, fresh] = workers_.try_emplace(id);
        WorkerInfo& w = it->second;
        w.id = id;
        w.address = (*body)["address"];
        w.api_key = body->value("api_key", std::string());
        w.heartbeat_token = token;
        w.status = WorkerStatus::Ready;
        w.last_heartbeat = std::chrono::steady_clock::now();
        if (body->contains("capacity") && (*body)["capacity"].is_object()) {
            w.max_pipelines = (*body)["capacity"].value("max_pipelines", size_t{100});
        }
        if (fresh) w.order = next_order_++;
    }
    log::info("cluster", "worker '" + id + "' registered at " + body->value("address", std::string()));
    remove_stale_copies(id);
    reconcile(id);
    save();
    return json_response(200, {{"worker_id", id}, {"status", "registered"}, {"heartbeat_token", token},
                               {"heartbeat_interval_secs", static_cast<double>(options_.heartbeat_interval.count()) / 1000.0}});
}

HttpResponse Coordinator::heartbeat(const HttpRequest& req, const std::string& id) {
    bool recovered = false;
    {
        std::lock_guard lock(mutex_);
        if (auto t = deregistered_.find(id); t != deregistered_.end()) {
            return error_response(404, "worker_deregistered", "worker " + id + " was deregistered: " + t->second);
        }
        auto it = workers_.find(id);
        if (it == workers_.end()) return error_response(404, "worker_not_found", "unknown worker " + id + ": register again");
        WorkerInfo& w = it->second;
        if (!server::constant_time_equal(req.header("x-worker-token"), w.heartbeat_token)) {
            return error_response(401, "invalid_worker_token", "heartbeat token does not match this worker's");
        }
        try {
            auto body = json::parse(req.body.empty() ? "{}" : req.body);
            w.events_processed = body.value("events_processed", w.events_processed);
            w.pipelines_reported = body.value("pipelines_running", w.pipelines_reported);
            if (const auto c = body.find("connectors"); c != body.end() && c->is_object()) {
                w.connectors_total = c->value("total", size_t{0});
                w.connectors_connected = c->value("connected", size_t{0});
            }
        } catch (...) {
        }
        w.last_heartbeat = std::chrono::steady_clock::now();
        ++heartbeats_;
        if (w.status == WorkerStatus::Unhealthy) {
            w.status = WorkerStatus::Ready;
            recovered = true;
        }
    }
    if (recovered) {
        log::info("cluster", "worker '" + id + "' heartbeats again: ready");
        remove_stale_copies(id);
    }
    return json_response(200, {{"status", "ok"}});
}

HttpResponse Coordinator::list_workers() const {
    std::lock_guard lock(mutex_);
    std::vector<const WorkerInfo*> ordered;
    for (const auto& [id, w] : workers_) ordered.push_back(&w);
    std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) { return a->order < b->order; });
    json list = json::array();
    for (auto* w : ordered) list.push_back(worker_json(*w));
    return json_response(200, {{"workers", list}, {"total", list.size()}});
}

HttpResponse Coordinator::get_worker(const std::string& id) const {
    std::lock_guard lock(mutex_);
    auto it = workers_.find(id);
    if (it == workers_.end()) return error_response(404, "worker_not_found", "unknown worker " + id);
    return json_response(200, worker_json(it->second));
}

HttpResponse Coordinator::delete_worker(const std::string& id) {
    {
        std::lock_guard lock(mutex_);
        if (!workers_.erase(id)) return error_response(404, "worker_not_found", "unknown worker " + id);
        deregistered_[id] = "removed by DELETE /api/v1/cluster/workers/" + id;
    }
    save();
    return json_response(200, {{"deleted", true}});
}

HttpResponse Coordinator::drain_worker(const std::string& id) {
    {
        std::lock_guard lock(mutex_);
        auto it = workers_.find(id);
        if (it == workers_.end()) return error_response(404, "worker_not_found", "unknown worker " + id);
        it->second.status = WorkerStatus::Draining;
    }
    failover(id);
    std::lock_guard lock(mutex_);
    return json_response(200, {{"worker_id", id}, {"status", "draining"}, {"pipelines_moved", true},
                               {"assigned_pipelines", assigned(id)}});
}

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
    group->id = server::new_uuid();
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
    save();
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
    save();
    return json_response(200, {{"torn_down", true}});
}

/// Where an event type goes in a group: the first matching external route, else the first pipeline.
static const Placement* target_of(const PipelineGroup& group, std::string_view type) {
    std::string name = group.pipelines.front().name;
    for (const auto& r : group.routes) {
        if (r.from_pipeline != "_external") continue;
        if (std::any_of(r.event_types.begin(), r.event_types.end(),
                        [&](const auto& p) { return server::event_type_matches(p, type); })) {
            name = r.to_pipeline;
            break;
        }
    }
    for (const auto& p : group.placements) {
        if (p.pipeline_name == name) return &p;
    }
    return nullptr;
}

HttpResponse Coordinator::inject(const HttpRequest& req, const std::string& group_id, bool batch) {
    // Only the event types are read here: bodies go to the workers as they came, and the workers'
    // answers are spliced into ours unparsed.
    simdjson::dom::parser& parser = thread_parser();
    simdjson::dom::element doc;
    if (auto err = parser.parse(req.body.data(), req.body.size()).get(doc); err) {
        return error_response(400, "invalid_json", std::string("malformed JSON: ") + simdjson::error_message(err));
    }
    struct Target {
        std::string pipeline, worker_id, address, api_key, pipeline_id;
    };
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
    std::vector<std::optional<Target>> targets;
    {
        std::lock_guard lock(mutex_);
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
                targets.push_back(Target{p->pipeline_name, p->worker_id, w->second.address, w->second.api_key, p->pipeline_id});
            }
        }
    }
    auto send = [&](const Target& t, const std::string& path, const std::string& payload) -> std::pair<int, std::string> {
        auto r = client_.request("POST", t.address + "/api/v1/pipelines/" + t.pipeline_id + path, payload, {{"x-api-key", t.api_key}});
        if (!r) return {502, error_response(502, "worker_unreachable", "worker " + t.worker_id + ": " + r.status().message()).body};
        return {r->status, std::move(r->body)};
    };
    if (!batch) {
        if (!targets[0]) return error_response(503, "pipeline_unavailable", "no running pipeline for " + std::string(types[0]));
        auto [status, body] = send(*targets[0], "/events", req.body);
        if (status >= 300) {
            HttpResponse r;
            r.status = status;
            r.body = std::move(body);
            return r;
        }
        HttpResponse r;
        r.body = "{\"routed_to\":" + json(targets[0]->pipeline).dump() + ",\"worker_id\":" + json(targets[0]->worker_id).dump() +
                 ",\"worker_response\":" + body + "}";
        return r;
    }
    // One batch per target pipeline, each sent once over a kept-alive connection; a batch whose
    // events all go to one pipeline is forwarded as it came.
    std::map<std::string, std::pair<Target, std::string>> per_pipeline;
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
    std::string results = "[";
    size_t accepted = 0;
    for (auto& [name, entry] : per_pipeline) {
        auto [status, body] = send(entry.first, "/events-batch", entry.second);
        simdjson::dom::element answer;
        uint64_t n = 0;
        if (status == 200 && parser.parse(body).get(answer) == simdjson::SUCCESS && answer["accepted"].get(n) == simdjson::SUCCESS) accepted += n;
        if (results.size() > 1) results += ',';
        results += "{\"routed_to\":" + json(name).dump() + ",\"worker_id\":" + json(entry.first.worker_id).dump() +
                   ",\"status\":" + std::to_string(status) + ",\"worker_response\":" + body + "}";
    }
    results += "]";
    HttpResponse r;
    r.body = "{\"accepted\":" + std::to_string(accepted) + ",\"unrouted\":" + std::to_string(unrouted) + ",\"results\":" + results + "}";
    return r;
}

HttpResponse Coordinator::prometheus() const {
    std::string out;
    auto metric = [&](const std::string& name, const std::string& type, const std::string& help) {
        out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    };
    std::map<std::string, size_t> by_status = {{"registering", 0}, {"ready", 0}, {"busy", 0}, {"unhealthy", 0}, {"draining", 0}};
    size_t groups = 0, placements = 0;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, w] : workers_) ++by_status[worker_status_name(w.status)];
        groups = groups_.size();
        for (const auto& g : groups_) placements += g->placements.size();
    }
    metric("varpulis_cluster_workers", "gauge", "Workers known to the coordinator, by status.");
    for (const auto& [status, n] : by_status) out += "varpulis_cluster_workers{status=\"" + status + "\"} " + std::to_string(n) + "\n";
    metric("varpulis_cluster_pipeline_groups", "gauge", "Pipeline groups deployed.");
    out += "varpulis_cluster_pipeline_groups " + std::to_string(groups) + "\n";
    metric("varpulis_cluster_placements", "gauge", "Pipelines placed on workers.");
    out += "varpulis_cluster_placements " + std::to_string(placements) + "\n";
    metric("varpulis_cluster_injects_total", "counter", "Inject requests routed.");
    out += "varpulis_cluster_injects_total " + std::to_string(injects_.load()) + "\n";
    metric("varpulis_cluster_heartbeats_total", "counter", "Heartbeats accepted.");
    out += "varpulis_cluster_heartbeats_total " + std::to_string(heartbeats_.load()) + "\n";
    metric("varpulis_cluster_failovers_total", "counter", "Pipelines placed again after their worker failed or drained.");
    out += "varpulis_cluster_failovers_total " + std::to_string(failovers_.load()) + "\n";
    metric("varpulis_uptime_seconds", "gauge", "Seconds since the coordinator started.");
    out += "varpulis_uptime_seconds " + std::to_string(std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()) + "\n";
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = std::move(out);
    return r;
}

HttpResponse Coordinator::topology() const {
    std::lock_guard lock(mutex_);
    json groups = json::array();
    for (const auto& g : groups_) {
        json pipelines = json::array(), routes = json::array();
        for (const auto& p : g->placements) {
            pipelines.push_back({{"name", p.pipeline_name}, {"worker_id", p.worker_id}, {"worker_address", p.worker_address}});
        }
        for (const auto& r : g->routes) {
            json route = {{"from_pipeline", r.from_pipeline}, {"to_pipeline", r.to_pipeline}, {"event_types", r.event_types}};
            if (!r.mqtt_topic.empty()) route["mqtt_topic"] = r.mqtt_topic;
            if (r.from_pipeline != "_external" && !options_.mqtt_broker.empty()) {
                route["mqtt_topic"] = route_topic(*g, r);
                route["transport"] = "mqtt://" + options_.mqtt_broker;
            }
            routes.push_back(route);
        }
        groups.push_back({{"group_id", g->id}, {"group_name", g->name}, {"pipelines", pipelines}, {"routes", routes}});
    }
    return json_response(200, {{"groups", groups}});
}

void Coordinator::sweep() {
    std::vector<std::string> failed;
    {
        std::lock_guard lock(mutex_);
        auto now = std::chrono::steady_clock::now();
        for (auto& [id, w] : workers_) {
            bool late = now - w.last_heartbeat > options_.heartbeat_timeout;
            if (late && (w.status == WorkerStatus::Ready || w.status == WorkerStatus::Busy || w.status == WorkerStatus::Registering)) {
                w.status = WorkerStatus::Unhealthy;
                log::warn("cluster", "worker '" + id + "' missed heartbeats for " +
                                         std::to_string(options_.heartbeat_timeout.count()) + " ms: unhealthy");
            }
            if (w.status == WorkerStatus::Unhealthy && assigned(id) > 0) failed.push_back(id);
        }
    }
    // Pipelines on unhealthy workers move; with no worker available, the next sweep retries.
    for (const auto& id : failed) failover(id);
    expire_silent_workers();
}

void Coordinator::expire_silent_workers() {
    if (options_.worker_expiry.count() <= 0) return;
    bool removed = false;
    {
        std::lock_guard lock(mutex_);
        const auto now = std::chrono::steady_clock::now();
        for (auto it = workers_.begin(); it != workers_.end();) {
            const WorkerInfo& w = it->second;
            if (w.status == WorkerStatus::Unhealthy && now - w.last_heartbeat > options_.worker_expiry && assigned(w.id) == 0) {
                log::info("cluster", "worker '" + w.id + "' silent for longer than the expiry and running nothing: forgotten");
                it = workers_.erase(it);
                removed = true;
            } else {
                ++it;
            }
        }
    }
    if (removed) save();
}

void Coordinator::failover(const std::string& worker_id) {
    struct Move {
        std::shared_ptr<PipelineGroup> group;
        size_t index;
        PipelineSpec spec;
        WorkerInfo target;
    };
    std::vector<Move> moves;
    {
        std::lock_guard lock(mutex_);
        for (const auto& g : groups_) {
            for (size_t i = 0; i < g->placements.size(); ++i) {
                if (g->placements[i].worker_id != worker_id) continue;
                PipelineSpec spec = g->pipelines[i];
                spec.worker_affinity.clear();
                PipelineGroup least = *g;
                least.placement = "least_loaded";
                std::string target = choose_worker(least, spec, {worker_id});
                if (target.empty()) continue;
                moves.push_back({g, i, spec, workers_[target]});
            }
        }
    }
    for (auto& m : moves) {
        auto id = deploy_on(m.target, *m.group, m.spec);
        if (!id) continue;
        std::lock_guard lock(mutex_);
        Placement& p = m.group->placements[m.index];
        if (p.worker_id != worker_id) continue;  // moved meanwhile
        if (!p.pipeline_id.empty()) stale_.push_back({worker_id, p.pipeline_id});
        p = {p.pipeline_name, m.target.id, m.target.address, *id, "running", p.epoch + 1};
        ++failovers_;
        log::info("cluster", "pipeline '" + p.pipeline_name + "' of group '" + m.group->name + "' moved from worker '" + worker_id +
                                 "' to '" + m.target.id + "'");
    }
    save();
}

void Coordinator::remove_stale_copies(const std::string& worker_id) {
    std::vector<std::string> pipeline_ids;
    WorkerInfo w;
    {
        std::lock_guard lock(mutex_);
        auto it = workers_.find(worker_id);
        if (it == workers_.end()) return;
        w = it->second;
        for (auto s = stale_.begin(); s != stale_.end();) {
            if (s->worker_id == worker_id) {
                pipeline_ids.push_back(s->pipeline_id);
                s = stale_.erase(s);
            } else {
                ++s;
            }
        }
    }
    // The old epoch's copies would process events nobody routes to them: delete them.
    for (const auto& pid : pipeline_ids) remove_from(w, pid);
}

void Coordinator::reconcile(const std::string& worker_id) {
    struct Missing {
        std::shared_ptr<PipelineGroup> group;
        size_t index;
        PipelineSpec spec;
        std::string pipeline_id;
    };
    std::vector<Missing> placed;
    WorkerInfo w;
    {
        std::lock_guard lock(mutex_);
        auto it = workers_.find(worker_id);
        if (it == workers_.end()) return;
        w = it->second;
        for (const auto& g : groups_) {
            for (size_t i = 0; i < g->placements.size(); ++i) {
                if (g->placements[i].worker_id == worker_id) placed.push_back({g, i, g->pipelines[i], g->placements[i].pipeline_id});
            }
        }
    }
    if (placed.empty()) return;
    auto r = client_.request("GET", w.address + "/api/v1/pipelines?limit=1000", {}, {{"x-api-key", w.api_key}});
    if (!r || r->status != 200) return;  // the next registration or sweep tries again
    std::vector<std::string> running;
    try {
        for (const auto& p : json::parse(r->body).at("pipelines")) running.push_back(p.at("id"));
    } catch (...) {
        return;
    }
    for (auto& m : placed) {
        if (std::find(running.begin(), running.end(), m.pipeline_id) != running.end()) continue;
        auto id = deploy_on(w, *m.group, m.spec);
        std::lock_guard lock(mutex_);
        Placement& p = m.group->placements[m.index];
        if (p.worker_id != worker_id || p.pipeline_id != m.pipeline_id) continue;  // moved meanwhile
        if (id) {
            p.pipeline_id = *id;
            p.status = "running";
            ++p.epoch;
        } else {
            p.status = "failed";
        }
    }
}

void Coordinator::save() const {
    if (options_.state_dir.empty()) return;
    json doc = {{"version", 1}, {"workers", json::array()}, {"groups", json::array()}, {"tombstones", json::object()},
                {"stale", json::array()}, {"next_order", 0}, {"round_robin", 0}};
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, w] : workers_) {
            doc["workers"].push_back({{"id", id}, {"address", w.address}, {"api_key", w.api_key}, {"max_pipelines", w.max_pipelines},
                                      {"order", w.order}});
        }
        for (const auto& g : groups_) {
            json pipelines = json::array(), routes = json::array(), placements = json::array();
            for (const auto& p : g->pipelines) pipelines.push_back({{"name", p.name}, {"source", p.source}, {"worker_affinity", p.worker_affinity}});
            for (const auto& r : g->routes) {
                routes.push_back({{"from_pipeline", r.from_pipeline}, {"to_pipeline", r.to_pipeline}, {"event_types", r.event_types},
                                  {"mqtt_topic", r.mqtt_topic}});
            }
            for (const auto& p : g->placements) {
                placements.push_back({{"pipeline_name", p.pipeline_name}, {"worker_id", p.worker_id}, {"worker_address", p.worker_address},
                                      {"pipeline_id", p.pipeline_id}, {"status", p.status}, {"epoch", p.epoch}});
            }
            doc["groups"].push_back({{"id", g->id}, {"name", g->name}, {"placement", g->placement}, {"pipelines", pipelines},
                                     {"routes", routes}, {"placements", placements}});
        }
        for (const auto& [id, why] : deregistered_) doc["tombstones"][id] = why;
        for (const auto& s : stale_) doc["stale"].push_back({{"worker_id", s.worker_id}, {"pipeline_id", s.pipeline_id}});
        doc["next_order"] = next_order_;
        doc["round_robin"] = round_robin_;
    }
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(options_.state_dir, ec);
    fs::path target = fs::path(options_.state_dir) / "coordinator.json";
    fs::path temp = fs::path(options_.state_dir) / "coordinator.json.tmp";
    std::string text = doc.dump(2);
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);  // holds worker keys
    if (fd < 0) return;
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (ok) fs::rename(temp, target, ec);
}

void Coordinator::load() {
    if (options_.state_dir.empty()) return;
    namespace fs = std::filesystem;
    fs::path file = fs::path(options_.state_dir) / "coordinator.json";
    std::ifstream in(file);
    if (!in) return;
    std::stringstream text;
    text << in.rdbuf();
    json doc = json::parse(text.str(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        std::error_code ec;
        fs::rename(file, fs::path(file.string() + ".corrupt"), ec);
        return;
    }
    try {
        // Workers come back as unhealthy until their next heartbeat (they have new tokens to get).
        for (const auto& w : doc.value("workers", json::array())) {
            WorkerInfo info;
            info.id = w.at("id");
            info.address = w.at("address");
            info.api_key = w.value("api_key", std::string());
            info.max_pipelines = w.value("max_pipelines", size_t{100});
            info.order = w.value("order", uint64_t{0});
            info.status = WorkerStatus::Unhealthy;
            info.last_heartbeat = std::chrono::steady_clock::now();
            workers_[info.id] = info;
        }
        for (const auto& g : doc.value("groups", json::array())) {
            auto group = std::make_shared<PipelineGroup>();
            group->id = g.at("id");
            group->name = g.at("name");
            group->placement = g.value("placement", std::string("round_robin"));
            for (const auto& p : g.at("pipelines")) group->pipelines.push_back({p.at("name"), p.at("source"), p.value("worker_affinity", std::string())});
            for (const auto& r : g.at("routes")) {
                group->routes.push_back({r.at("from_pipeline"), r.at("to_pipeline"), r.at("event_types").get<std::vector<std::string>>(),
                                         r.value("mqtt_topic", std::string())});
            }
            for (const auto& p : g.at("placements")) {
                group->placements.push_back({p.at("pipeline_name"), p.at("worker_id"), p.at("worker_address"), p.at("pipeline_id"),
                                             p.value("status", std::string("running")), p.value("epoch", uint64_t{1})});
            }
            groups_.push_back(group);
        }
        const json tombstones = doc.value("tombstones", json::object());  // a named copy: items() must not outlive it
        for (const auto& [id, why] : tombstones.items()) deregistered_[id] = why.get<std::string>();
        for (const auto& s : doc.value("stale", json::array())) stale_.push_back({s.at("worker_id"), s.at("pipeline_id")});
        next_order_ = doc.value("next_order", uint64_t{0});
        round_robin_ = doc.value("round_robin", uint64_t{0});
    } catch (const std::exception&) {
        workers_.clear();
        groups_.clear();
    }
}

}  // namespace varpulis::cluster
