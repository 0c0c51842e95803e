// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/worker_agent.hpp"

#include <thread>

#include <nlohmann/json.hpp>

#include "varpulis/common/log.hpp"
#include "varpulis/server/json_http.hpp"

namespace varpulis::cluster {

using json = nlohmann::json;

WorkerAgent::WorkerAgent(WorkerAgentOptions options, std::function<WorkerLoad()> load)
    : options_(std::move(options)), load_(std::move(load)), client_(std::chrono::seconds(10), options_.tls_ca_file) {}

WorkerAgent::~WorkerAgent() { stop(); }

void WorkerAgent::start() {
    log::info("cluster", "registering with coordinator at " + options_.coordinator_url + " as worker '" + options_.worker_id + "'");
    thread_ = std::thread([this] { run(); });
}

void WorkerAgent::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

bool WorkerAgent::drain(std::chrono::milliseconds timeout) {
    if (!registered_ || token_.empty()) return false;  // the agent's thread has stopped: token_ is ours
    log::info("cluster", "draining: asking the coordinator to move this worker's pipelines");
    HttpClient client(timeout, options_.tls_ca_file);
    auto r = client.request("POST", options_.coordinator_url + "/api/v1/cluster/workers/" + options_.worker_id + "/drain", "{}",
                            {{"x-worker-token", token_}});
    if (!r || r->status != 200) {
        log::warn("cluster", "drain not done (" + (r ? "answered " + std::to_string(r->status) + ": " + r->body : r.status().message()) +
                                 "); stopping anyway");
        return false;
    }
    log::info("cluster", "drained: " + r->body);
    return true;
}

void WorkerAgent::wait(std::chrono::milliseconds d) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, d, [this] { return stopping_; });
}

bool WorkerAgent::try_register() {
    json body = {{"worker_id", options_.worker_id},
                 {"address", options_.advertise_address},
                 {"api_key", options_.api_key},
                 {"capacity", {{"cpu_cores", std::thread::hardware_concurrency()}, {"pipelines_running", load_().pipelines_running},
                               {"max_pipelines", options_.max_pipelines}}}};
    if (!options_.join_token.empty()) body["join_token"] = options_.join_token;
    if (!options_.instance_secret.empty()) body["instance"] = options_.instance_secret;
    // After a coordinator restart that kept this worker, the last token shows it is the same one.
    if (!token_.empty()) body["heartbeat_token"] = token_;
    auto r = client_.request("POST", options_.coordinator_url + "/api/v1/cluster/workers/register", body.dump());
    if (!r) {
        log::warn("cluster", "registration failed: " + r.status().message());
        return false;
    }
    if (r->status / 100 != 2) {
        log::warn("cluster", "registration refused (" + std::to_string(r->status) + "): " + r->body);
        return false;
    }
    try {
        auto reply = json::parse(r->body);
        token_ = reply.value("heartbeat_token", std::string());
        double secs = reply.value("heartbeat_interval_secs", 5.0);
        interval_ = std::chrono::milliseconds(static_cast<int64_t>(std::max(0.05, secs) * 1000));
    } catch (...) {
        return false;
    }
    registered_ = true;
    log::info("cluster", "registered with coordinator as '" + options_.worker_id + "'");
    return true;
}

bool WorkerAgent::send_heartbeat() {
    WorkerLoad load = load_();
    json body = {{"events_processed", load.events_processed},
                 {"pipelines_running", load.pipelines_running},
                 {"connectors", server::connector_totals_json(load.connectors)}};
    auto r = client_.request("POST", options_.coordinator_url + "/api/v1/cluster/workers/" + options_.worker_id + "/heartbeat",
                             body.dump(), {{"x-worker-token", token_}});
    if (!r) {
        log::warn("cluster", "heartbeat failed: " + r.status().message());
        return true;
    }
    if (r->status == 404 || r->status == 401) {
        std::string code;
        try {
            code = json::parse(r->body).value("code", std::string());
        } catch (...) {
        }
        if (code == "worker_deregistered") {
            log::info("cluster", "deregistered by the coordinator; heartbeats stop");
            registered_ = false;
            return false;
        }
        // The coordinator restarted (or no longer knows our token): register again.
        log::info("cluster", "coordinator does not know this worker (" + std::to_string(r->status) + "); registering again");
        registered_ = false;
    } else if (r->status / 100 != 2) {
        log::warn("cluster", "heartbeat answered " + std::to_string(r->status));
    }
    return true;
}

void WorkerAgent::run() {
    auto backoff = std::chrono::milliseconds(1000);
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
        }
        if (!registered_) {
            if (try_register()) {
                backoff = std::chrono::milliseconds(1000);
                continue;
            }
            wait(backoff);
            backoff = std::min(backoff * 2, std::chrono::milliseconds(30'000));
            continue;
        }
        wait(interval_);
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
        }
        if (!send_heartbeat()) return;
    }
}

}  // namespace varpulis::cluster
