// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/coordinator.hpp"

#include <fstream>


#include "varpulis/cluster/coordinator_internal.hpp"
#include "varpulis/common/log.hpp"
#include "varpulis/common/path.hpp"
#include "varpulis/common/secret.hpp"
#include "varpulis/common/uuid.hpp"
#include "varpulis/common/version.hpp"
#include "varpulis/server/pipeline_registry.hpp"
#include "varpulis/server/worker_api.hpp"

namespace varpulis::cluster {

using common::constant_time_equal;
using common::split_path;

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

Coordinator::Coordinator(CoordinatorOptions options)
    : options_(std::move(options)), client_(std::chrono::seconds(10), options_.tls_ca_file) {
    load();
}

Coordinator::~Coordinator() { stop(); }

common::Result<uint16_t> Coordinator::serve(const std::string& bind, uint16_t port) {
    if (!options_.tls_ca_file.empty() && !std::ifstream(options_.tls_ca_file)) {
        return common::Status(common::ErrorCode::Io, "cannot read the CA certificates " + options_.tls_ca_file + " (--tls-ca)");
    }
    server::HttpServerOptions http;
    http.bind = bind;
    http.port = port;
    // One I/O thread: a forward costs a few microseconds of it, and a second thread only adds
    // cross-thread wake-ups (measured: 41-46 µs of coordinator CPU per inject against 51-58 µs
    // with two, under 16 connections).
    http.io_threads = 1;
    http.busy_poll = options_.busy_poll;
    http.tls_cert_file = options_.tls_cert_file;
    http.tls_key_file = options_.tls_key_file;
    http.body_limit = [](const std::string& path) { return path.ends_with("/inject-batch") ? size_t{16} << 20 : size_t{1} << 20; };
    // A single inject is answered on the I/O thread that read it: the forward to the worker is
    // asynchronous on the same threads, so the request never changes threads (no pool hand-off,
    // no thread parked in recv). Batches are parsed on the pool, then forwarded the same way.
    // Probes too: they read nothing shared, and must not queue behind a busy pool.
    http.fast_path = [this](const HttpRequest& req, const server::HttpResponder& respond) {
        if (!req.is_probe() && (req.method != "POST" || !req.path.ends_with("/inject"))) return false;
        handle(req, respond);
        return true;
    };
    auto started = server::HttpServer::start(std::move(http), [this](const HttpRequest& req, server::HttpResponder respond) {
        handle(req, respond);
    });
    if (!started) return started.status();
    http_ = std::move(*started);
    {
        std::lock_guard lock(mutex_);
        forwarder_ = std::make_shared<AsyncHttpClient>(http_->io_context(), std::chrono::seconds(10), options_.tls_ca_file);
        coalescer_ = std::make_shared<InjectCoalescer>(http_->io_context(), forwarder_);
    }
    start_sweep();
    return http_->port();
}

void Coordinator::start_sweep() {
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
    // The forwarder runs on the server's I/O threads: the server stops first, the forwarder goes
    // before the server's io_context does.
    if (http_) http_->stop(std::chrono::milliseconds(5000));
    {
        std::lock_guard lock(mutex_);
        forwarder_.reset();
        coalescer_.reset();
    }
    http_.reset();
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

void Coordinator::handle(const HttpRequest& req, const server::HttpResponder& respond) {
    std::optional<HttpResponse> answer;
    try {
        answer = route(req, respond);
    } catch (const std::exception& e) {
        answer = error_response(500, "internal_error", std::string("internal error: ") + e.what());
    }
    if (answer) respond(std::move(*answer));
}

std::optional<HttpResponse> Coordinator::route(const HttpRequest& req, const server::HttpResponder& respond) {
    const std::string& m = req.method;
    if (req.path == "/health" || req.path == "/ready" || req.path == "/metrics") {
        if (m != "GET") return error_response(405, "method_not_allowed", "use GET");
        if (req.path == "/metrics") return prometheus();
        if (req.path == "/ready") return json_response(200, {{"status", "ready"}, {"role", "coordinator"}});
        return json_response(200, {{"role", "coordinator"}, {"status", "healthy"}, {"version", common::kVersion}});
    }
    auto parts = split_path(req.path);
    if (parts.size() < 4 || parts[0] != "api" || parts[1] != "v1" || parts[2] != "cluster") {
        return error_response(404, "not_found", "no route for " + req.path);
    }
    // Workers authenticate registration with the join token and heartbeats with their token.
    bool worker_call = parts[3] == "workers" &&
                       ((parts.size() == 5 && parts[4] == "register" && m == "POST") ||
                        (parts.size() == 6 && parts[5] == "heartbeat" && m == "POST"));
    if (!worker_call && !options_.api_key.empty() && !constant_time_equal(req.header("x-api-key"), options_.api_key)) {
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
            if (m != "POST") return error_response(405, "method_not_allowed", "use POST");
            return inject(req, parts[4], parts[5] == "inject-batch", respond);
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
        !constant_time_equal(body->value("join_token", std::string()), options_.join_token)) {
        return error_response(401, "invalid_join_token", "the join token does not match the coordinator's");
    }
    std::string id = (*body)["worker_id"];
    std::string token = common::new_uuid();
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
    if (common::Status saved = save(); !saved.is_ok()) return state_error(saved);
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
        if (!constant_time_equal(req.header("x-worker-token"), w.heartbeat_token)) {
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
    if (common::Status saved = save(); !saved.is_ok()) return state_error(saved);
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
    if (removed) save_or_log("silent workers forgotten");
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
    save_or_log("pipelines moved off worker '" + worker_id + "'");
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
        // Named: a range-for over a member of a temporary would read the temporary after its end.
        const json listed = json::parse(r->body);
        for (const auto& p : listed.at("pipelines")) running.push_back(p.at("id"));
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

}  // namespace varpulis::cluster
