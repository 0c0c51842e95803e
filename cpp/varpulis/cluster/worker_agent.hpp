// SPDX-License-Identifier: Apache-2.0
#pragma once

// The worker side of cluster mode: register with the coordinator (exponential backoff 1–30 s),
// then heartbeat every interval with the token the registration returned; register again after
// a coordinator restart, stop quietly once deregistered.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "varpulis/cluster/http_client.hpp"
#include "varpulis/engine/sink.hpp"

namespace varpulis::cluster {

struct WorkerAgentOptions {
    std::string coordinator_url;  ///< http://host:port or https://host:port
    std::string worker_id;
    std::string advertise_address;  ///< the URL the coordinator uses to call this worker
    std::string api_key;            ///< this worker's key (the coordinator calls it with this)
    std::string join_token;
    /// This process's secret (WorkerApi::instance_secret): with it the coordinator tells this
    /// process, restarted at the address of a worker it still thinks live, from an impostor.
    std::string instance_secret;
    /// PEM certificates an https coordinator's certificate must chain to; empty: the system's.
    std::string tls_ca_file;
    size_t max_pipelines = 100;
};

/// What a heartbeat reports.
struct WorkerLoad {
    uint64_t events_processed = 0;
    size_t pipelines_running = 0;
    engine::ConnectorTotals connectors;  ///< sinks, sources and routes with a broker connection
};

class WorkerAgent {
  public:
    WorkerAgent(WorkerAgentOptions options, std::function<WorkerLoad()> load);
    ~WorkerAgent();

    void start();
    void stop();
    bool registered() const { return registered_; }
    /// After stop(): ask the coordinator to move this worker's pipelines elsewhere (with their
    /// state) and wait for its answer, up to `timeout`. False, logged, when it could not (no
    /// coordinator, never registered, a refusal): the process stops anyway, and its pipelines
    /// fail over from their last checkpoints.
    bool drain(std::chrono::milliseconds timeout);

  private:
    void run();
    bool try_register();
    /// Returns false when the agent must stop (deregistered).
    bool send_heartbeat();
    void wait(std::chrono::milliseconds d);

    WorkerAgentOptions options_;
    std::function<WorkerLoad()> load_;
    HttpClient client_;
    std::atomic<bool> registered_{false};
    std::string token_;
    std::chrono::milliseconds interval_{5000};
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace varpulis::cluster
