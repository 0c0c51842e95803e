// SPDX-License-Identifier: Apache-2.0
// The coordinator's composition, its workers (registration, heartbeats, the health sweep,
// failover, reconciliation) and its state between runs.
#include "varpulis/cluster/coordinator.hpp"

#include <algorithm>
#include <fstream>
#include <variant>

#include "varpulis/cluster/api/coordinator_views.hpp"
#include "varpulis/cluster/coordinator_internal.hpp"
#include "varpulis/cluster/store/file_state_store.hpp"
#include "varpulis/common/log.hpp"
#include "varpulis/common/secret.hpp"
#include "varpulis/common/uuid.hpp"
#include "varpulis/server/body_fields.hpp"
#include "varpulis/server/json_http.hpp"

namespace varpulis::cluster {

/// A registration body's worker and the credentials it presents.
struct RegistrationBody {
    Registration registration;
    std::string join_token;
    std::string heartbeat_token;  ///< the last registration's of this id: replaces it without a check
    std::string instance;         ///< the registering process's secret (its /health shows the digest)
};

namespace {

std::unique_ptr<StateStore> store_for(const CoordinatorOptions& options) {
    if (options.state_dir.empty()) return std::make_unique<MemoryStateStore>();
    return std::make_unique<FileStateStore>(options.state_dir);
}

/// Read a registration body; a 400 naming the field that is missing or of the wrong type.
std::variant<RegistrationBody, HttpResponse> read_registration(const json& body) {
    server::BodyFields fields(body);
    auto id = fields.string("worker_id", true);
    auto address = fields.string("address", true);
    auto api_key = fields.string("api_key");
    auto join_token = fields.string("join_token");
    auto heartbeat_token = fields.string("heartbeat_token");
    auto instance = fields.string("instance");
    std::optional<uint64_t> max_pipelines;
    if (const json* capacity = fields.object("capacity")) {
        server::BodyFields cap(*capacity, "capacity");
        max_pipelines = cap.count("max_pipelines");
        if (!cap.ok()) fields.fail(cap.message());
    }
    if (!fields.ok()) return fields.error();
    if (id->empty() || address->empty()) {
        return error_response(400, "invalid_request", "registration needs {\"worker_id\": string, \"address\": \"http://host:port\"}");
    }
    Registration r{*id, *address, api_key.value_or(""), common::random_secret(), std::nullopt};
    if (max_pipelines) r.max_pipelines = static_cast<size_t>(*max_pipelines);
    return RegistrationBody{std::move(r), join_token.value_or(""), heartbeat_token.value_or(""), instance.value_or("")};
}

/// A heartbeat body's report. Heartbeats are accepted whatever their body: what cannot be read
/// (from the first field that cannot) is left out.
HeartbeatReport read_report(const std::string& text) {
    HeartbeatReport report;
    try {
        if (server::json_nested_deeper_than(text, server::kMaxJsonBodyDepth)) return report;
        const json body = json::parse(text.empty() ? "{}" : text);
        if (!body.is_object()) return report;
        if (body.contains("events_processed")) report.events_processed = body["events_processed"].get<uint64_t>();
        if (body.contains("pipelines_running")) report.pipelines_running = body["pipelines_running"].get<size_t>();
        if (const auto c = body.find("connectors"); c != body.end() && c->is_object()) {
            report.connectors = engine::ConnectorTotals{c->value("total", size_t{0}), c->value("connected", size_t{0}),
                                                        c->value("spooled", uint64_t{0}), c->value("dropped", uint64_t{0}),
                                                        c->value("redelivered", uint64_t{0})};
        }
    } catch (...) {
    }
    return report;
}

}  // namespace

Coordinator::Coordinator(CoordinatorOptions options) : Coordinator(options, store_for(options)) {}

Coordinator::Coordinator(CoordinatorOptions options, std::unique_ptr<StateStore> store)
    : options_(std::move(options)),
      store_(std::move(store)),
      client_(std::chrono::seconds(10), options_.tls_ca_file),
      probe_client_(std::chrono::seconds(2), options_.tls_ca_file),
      checkpoints_(options_.state_dir),
      routes_(*this, options_.api_key) {
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
    http.connections = options_.connections;
    http.counters = connection_counters_;
    http.tls_cert_file = options_.tls_cert_file;
    http.tls_key_file = options_.tls_key_file;
    http.body_limit = [](std::string_view path) { return path.ends_with("/inject-batch") ? size_t{16} << 20 : size_t{1} << 20; };
    // A single inject is answered on the I/O thread that read it: the forward to the worker is
    // asynchronous on the same threads, so the request never changes threads (no pool hand-off,
    // no thread parked in recv). Batches are parsed on the pool, then forwarded the same way.
    // Probes too: they read nothing shared, and must not queue behind a busy pool.
    http.fast_path = [this](const HttpRequest& req, const server::HttpResponder& respond) {
        if (!req.is_probe() && (req.method != "POST" || !req.path.ends_with("/inject"))) return false;
        routes_.handle(req, respond);
        return true;
    };
    auto started = server::HttpServer::start(std::move(http), [this](const HttpRequest& req, server::HttpResponder respond) {
        routes_.handle(req, respond);
    });
    if (!started) return started.status();
    http_ = std::move(*started);
    {
        std::lock_guard lock(mutex_);
        InjectFailover failover;
        failover.suspect = [this](const std::string& id) { suspect(id); };
        failover.moved = [this](const InjectTarget& failed) { return moved_target(failed); };
        failover.hold = options_.inject_hold;
        forwarder_ = std::make_shared<InjectForwarder>(http_->io_context(), std::chrono::seconds(10), options_.tls_ca_file,
                                                       std::move(failover));
    }
    start_sweep();
    start_housekeeping();
    return http_->port();
}

void Coordinator::start_sweep() {
    sweeper_ = std::thread([this] {
        std::unique_lock lock(mutex_);
        auto next_sweep = std::chrono::steady_clock::now() + options_.heartbeat_interval;
        while (!stopping_) {
            wake_.wait_until(lock, next_sweep, [this] { return stopping_ || !suspects_.empty(); });
            if (stopping_) break;
            std::vector<std::string> suspects(suspects_.begin(), suspects_.end());
            suspects_.clear();
            lock.unlock();
            if (!suspects.empty()) confirm_suspects(suspects);
            if (std::chrono::steady_clock::now() >= next_sweep) {
                sweep();
                next_sweep = std::chrono::steady_clock::now() + options_.heartbeat_interval;
            }
            lock.lock();
        }
    });
}

void Coordinator::suspect(const std::string& worker_id) {
    {
        std::lock_guard lock(mutex_);
        const WorkerInfo* w = workers_.find(worker_id);
        if (!w || w->status == WorkerStatus::Unhealthy || !suspects_.insert(worker_id).second) return;
    }
    wake_.notify_all();
}

void Coordinator::confirm_suspects(const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
        std::string address;
        {
            std::lock_guard lock(mutex_);
            const WorkerInfo* w = workers_.find(id);
            if (!w || w->status == WorkerStatus::Unhealthy) continue;
            address = w->address;
        }
        // A refused connection alone may be a restart in progress or a port run out: the
        // worker is gone only when its /health does not answer either.
        auto probe = probe_client_.request("GET", address + "/health");
        if (probe && probe->status == 200) continue;
        {
            std::lock_guard lock(mutex_);
            if (!workers_.mark_unhealthy(id)) continue;
            ++workers_found_gone_;
        }
        log::warn("cluster", "worker '" + id + "' refused a connection and its /health did not answer (" +
                                 (probe ? "status " + std::to_string(probe->status) : probe.status().message()) +
                                 "): unhealthy now, its pipelines fail over");
        failover(id);
    }
}

std::optional<InjectTarget> Coordinator::moved_target(const InjectTarget& failed) const {
    std::lock_guard lock(mutex_);
    const PipelineGroup* group = groups_.find(failed.group_id);
    if (!group) return std::nullopt;
    for (const auto& p : group->placements) {
        if (p.pipeline_name != failed.pipeline) continue;
        if (p.status == "moving") return std::nullopt;  // not yet
        // A refused forward waits for a move; a held one goes on where the pipeline is now (a
        // move that failed left it in place).
        if (p.worker_id == failed.worker_id && p.pipeline_id == failed.pipeline_id && !failed.moving) return std::nullopt;
        const WorkerInfo* w = workers_.find(p.worker_id);
        if (!w || p.pipeline_id.empty() || w->status == WorkerStatus::Unhealthy) return std::nullopt;
        return InjectTarget{p.pipeline_name, p.worker_id, w->address, w->api_key, p.pipeline_id, failed.group_id};
    }
    return std::nullopt;
}

void Coordinator::stop() {
    // The forwarder runs on the server's I/O threads: the server stops first, the forwarder goes
    // before the server's io_context does.
    if (http_) http_->stop(std::chrono::milliseconds(5000));
    {
        std::lock_guard lock(mutex_);
        forwarder_.reset();
    }
    http_.reset();
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (sweeper_.joinable()) sweeper_.join();
    if (housekeeper_.joinable()) housekeeper_.join();
}

std::vector<WorkerLoad> Coordinator::loads() const {
    std::vector<WorkerLoad> out;
    for (const auto& [id, w] : workers_.workers()) out.push_back({id, w.order, w.available(), w.max_pipelines, groups_.assigned(id)});
    return out;
}

HttpResponse Coordinator::register_worker(const HttpRequest& req) {
    HttpResponse error;
    auto body = parse_json_body(req, error);
    if (!body) return error;
    auto read = read_registration(*body);
    if (auto* bad = std::get_if<HttpResponse>(&read)) return std::move(*bad);
    const RegistrationBody& presented = std::get<RegistrationBody>(read);
    const Registration* registration = &presented.registration;
    if (!options_.join_token.empty() && !common::constant_time_equal(presented.join_token, options_.join_token)) {
        return error_response(401, "invalid_join_token", "the join token does not match the coordinator's");
    }
    const std::string& id = registration->id;
    if (!may_take_id(presented)) {
        log::warn("cluster", "registration of worker '" + id + "' from another process refused: the worker holding the id is live");
        return error_response(409, "worker_id_in_use",
                              "worker id '" + id + "' is held by a live worker; present its heartbeat_token, or register once it has stopped");
    }
    {
        std::lock_guard lock(mutex_);
        workers_.register_worker(*registration, std::chrono::steady_clock::now());
    }
    log::info("cluster", "worker '" + id + "' registered at " + registration->address);
    remove_stale_copies(id);
    reconcile(id);
    return_to_affinity(id);
    if (common::Status saved = save(); !saved.is_ok()) return state_error(saved);
    return json_response(200, {{"worker_id", id}, {"status", "registered"}, {"heartbeat_token", registration->heartbeat_token},
                               {"heartbeat_interval_secs", static_cast<double>(options_.heartbeat_interval.count()) / 1000.0}});
}

bool Coordinator::may_take_id(const RegistrationBody& presented) {
    WorkerInfo holder;
    {
        std::lock_guard lock(mutex_);
        const WorkerInfo* w = workers_.find(presented.registration.id);
        if (!w || w->status == WorkerStatus::Unhealthy) return true;
        if (!w->heartbeat_token.empty() && common::constant_time_equal(presented.heartbeat_token, w->heartbeat_token)) return true;
        holder = *w;
    }
    return holder_stopped_or_is(holder, presented.instance);
}

bool Coordinator::holder_stopped_or_is(const WorkerInfo& holder, const std::string& instance) {
    // The holder's own address, never one the registration names: a registration cannot make
    // the coordinator call an address of its choosing.
    auto answer = probe_client_.request("GET", holder.address + "/health");
    if (!answer) return true;  // refused, unreachable or silent: the holder has stopped
    if (instance.empty() || answer->status != 200) return false;
    try {
        const json health = json::parse(answer->body);
        const auto digest = health.find("instance");
        return digest != health.end() && digest->is_string() &&
               common::constant_time_equal(digest->get<std::string>(), common::sha256_hex(instance));
    } catch (const json::exception&) {
        return false;
    }
}

HttpResponse Coordinator::heartbeat(const HttpRequest& req, const std::string& id) {
    const HeartbeatReport report = read_report(req.body);
    HeartbeatResult result;
    {
        std::lock_guard lock(mutex_);
        result = workers_.heartbeat(id, req.header("x-worker-token"), report, std::chrono::steady_clock::now());
    }
    switch (result.outcome) {
        case HeartbeatOutcome::Deregistered:
            return error_response(404, "worker_deregistered", "worker " + id + " was deregistered: " + result.reason);
        case HeartbeatOutcome::Unknown: return error_response(404, "worker_not_found", "unknown worker " + id + ": register again");
        case HeartbeatOutcome::WrongToken:
            return error_response(401, "invalid_worker_token", "heartbeat token does not match this worker's");
        case HeartbeatOutcome::Recovered:
            log::info("cluster", "worker '" + id + "' heartbeats again: ready");
            remove_stale_copies(id);
            return_to_affinity(id);
            break;
        case HeartbeatOutcome::Accepted: break;
    }
    ++heartbeats_;
    return json_response(200, {{"status", "ok"}});
}

HttpResponse Coordinator::list_workers() const {
    std::lock_guard lock(mutex_);
    json list = json::array();
    for (const WorkerInfo* w : workers_.in_order()) list.push_back(worker_json(*w, groups_));
    return json_response(200, {{"workers", list}, {"total", list.size()}});
}

HttpResponse Coordinator::get_worker(const std::string& id) const {
    std::lock_guard lock(mutex_);
    const WorkerInfo* w = workers_.find(id);
    if (!w) return error_response(404, "worker_not_found", "unknown worker " + id);
    return json_response(200, worker_json(*w, groups_));
}

HttpResponse Coordinator::delete_worker(const std::string& id) {
    {
        std::lock_guard lock(mutex_);
        if (!workers_.remove(id, "removed by DELETE /api/v1/cluster/workers/" + id)) {
            return error_response(404, "worker_not_found", "unknown worker " + id);
        }
    }
    if (common::Status saved = save(); !saved.is_ok()) return state_error(saved);
    return json_response(200, {{"deleted", true}});
}

HttpResponse Coordinator::metrics() const {
    CoordinatorCounters counters;
    counters.injects = injects_.load();
    counters.heartbeats = heartbeats_.load();
    counters.failovers = failovers_.load();
    counters.workers_found_gone = workers_found_gone_.load();
    counters.moves = moves_.load();
    counters.checkpoints_taken = checkpoints_taken_.load();
    counters.checkpoint_failures = checkpoint_failures_.load();
    counters.restores = restores_.load();
    counters.orphans_removed = orphans_removed_.load();
    counters.uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    std::lock_guard lock(mutex_);
    if (forwarder_) {
        counters.injects_held = forwarder_->counters().held.load();
        counters.injects_rerouted = forwarder_->counters().rerouted.load();
        counters.injects_given_up = forwarder_->counters().given_up.load();
    }
    r.body = prometheus_text(workers_, groups_, counters) + server::connection_metrics_text(*connection_counters_);
    return r;
}

HttpResponse Coordinator::topology() const {
    std::lock_guard lock(mutex_);
    return json_response(200, topology_json(groups_, options_.route_connector));
}

void Coordinator::sweep() {
    std::vector<std::string> failed;
    {
        std::lock_guard lock(mutex_);
        const auto now = std::chrono::steady_clock::now();
        for (const auto& id : workers_.mark_silent(now, options_.heartbeat_timeout)) {
            log::warn("cluster", "worker '" + id + "' missed heartbeats for " + std::to_string(options_.heartbeat_timeout.count()) +
                                     " ms: unhealthy");
        }
        for (const auto& [id, w] : workers_.workers()) {
            if (w.status == WorkerStatus::Unhealthy && groups_.assigned(id) > 0) failed.push_back(id);
        }
    }
    // Pipelines on unhealthy workers move; with no worker available, the next sweep retries.
    for (const auto& id : failed) failover(id);
    // Then forget the unhealthy workers silent for longer than the expiry that run nothing.
    std::vector<std::string> forgotten;
    {
        std::lock_guard lock(mutex_);
        forgotten = workers_.expire(std::chrono::steady_clock::now(), options_.worker_expiry,
                                    [this](const std::string& id) { return groups_.assigned(id) == 0; });
    }
    for (const auto& id : forgotten) log::info("cluster", "worker '" + id + "' silent for longer than the expiry and running nothing: forgotten");
    if (!forgotten.empty()) save_or_log("silent workers forgotten");
}

common::Status Coordinator::save() const {
    std::lock_guard saving(save_mutex_);
    CoordinatorSnapshot snapshot;
    {
        std::lock_guard lock(mutex_);
        snapshot = {workers_.snapshot(), groups_.snapshot(), planner_.round_robin()};
    }
    return store_->save(snapshot);
}

void Coordinator::save_or_log(const std::string& change) const {
    if (common::Status saved = save(); !saved.is_ok()) log::error("cluster", change + ", but the state was not saved: " + saved.message());
}

void Coordinator::load() {
    auto loaded = store_->load();
    if (!loaded) {
        log::error("cluster", loaded.status().message() + "; started empty");
        return;
    }
    // Workers come back as unhealthy until their next registration (they have new tokens to get).
    workers_.restore(loaded->membership, std::chrono::steady_clock::now());
    groups_.restore(loaded->groups);
    planner_ = PlacementPlanner(loaded->round_robin);
}

}  // namespace varpulis::cluster
