// SPDX-License-Identifier: Apache-2.0
// `varpulis server`: the worker's REST API.
#include <csignal>
#include <cstdlib>
#include <iostream>

#include <pthread.h>

#include "args.hpp"
#include "commands.hpp"
#include "varpulis/cluster/worker_node.hpp"
#include "varpulis/common/log.hpp"

namespace varpulis::apps {

int cmd_server(const std::vector<std::string>& args) {
    CommandSpec spec{"varpulis server", "Run a worker: a REST API that deploys VPL pipelines and takes events", {},
                     {{"port", 'p', "PORT", "Port to listen on (0: a free port, printed in the banner)", "", "9000"},
                      {"bind", 0, "ADDRESS", "IP address to listen on", "", "127.0.0.1"},
                      {"api-key", 0, "KEY", "API key required in x-api-key on /api/v1 routes", "VARPULIS_API_KEY", ""},
                      {"tls-cert", 0, "FILE", "PEM certificate: serve HTTPS (with --tls-key)", "VARPULIS_TLS_CERT", ""},
                      {"tls-key", 0, "FILE", "PEM private key for --tls-cert", "VARPULIS_TLS_KEY", ""},
                      {"state-dir", 0, "DIR", "Keep pipeline definitions here across restarts", "VARPULIS_STATE_DIR", ""},
                      {"file-root", 0, "DIR", "Directory file connectors of deployed programs write in (default: STATE-DIR/files, or ./varpulis-files)",
                       "VARPULIS_FILE_ROOT", ""},
                      {"rate-limit", 0, "N", "Requests per second per client on /api/v1 (0: off)", "VARPULIS_RATE_LIMIT", "0"},
                      {"max-state-bytes", 0, "BYTES", "Bytes of events one pipeline's windows, joins and distinct sets may hold (restore takes 16 MiB + twice this)",
                       "VARPULIS_MAX_STATE_BYTES", "67108864"},
                      {"metrics", 0, "", "Also serve Prometheus metrics on --metrics-port (always on /metrics)", "", ""},
                      {"metrics-port", 0, "PORT", "Port of the metrics listener", "", "9090"},
                      {"threads", 0, "N", "Threads that run requests (0: one per core, at least 2)", "", "0"},
                      {"request-timeout", 0, "SECONDS", "Time a client has to send a whole request", "", "30"},
                      {"coordinator", 0, "URL", "Register with this coordinator (http://host:port)", "VARPULIS_COORDINATOR", ""},
                      {"worker-id", 0, "ID", "This worker's id in the cluster (default: a random UUID)", "VARPULIS_WORKER_ID", ""},
                      {"advertise-address", 0, "URL", "Address the coordinator uses to reach this worker (default: http://BIND:PORT)",
                       "VARPULIS_ADVERTISE_ADDRESS", ""},
                      {"join-token", 0, "TOKEN", "Token the coordinator requires to register", "VARPULIS_JOIN_TOKEN", ""},
                      {"drain-timeout", 0, "SECONDS",
                       "On SIGTERM, time the coordinator has to move this worker's pipelines away before it stops", "VARPULIS_DRAIN_TIMEOUT",
                       "20"},
                      {"delivery-timeout", 0, "SECONDS",
                       "Time an inject waits for MQTT sinks at QoS 1/2 to have its outputs acknowledged before it answers 503",
                       "VARPULIS_DELIVERY_TIMEOUT", "5"},
                      {"tls-ca", 0, "FILE", "PEM CA certificates an https coordinator must chain to (default: the system's)",
                       "VARPULIS_TLS_CA", ""}}};
    for (auto& flag : connection_flags()) spec.flags.push_back(flag);
    for (auto& flag : log_flags()) spec.flags.push_back(flag);
    int exit_code = kExitOk;
    auto parsed = parse_command(spec, args, exit_code);
    if (!parsed) return exit_code;
    if (!apply_log_flags(*parsed)) return kExitUsage;
    int port = 0, metrics_port = 0, threads = 0, request_timeout = 30;
    double rate = 0;
    long long max_state_bytes = 0;
    double drain_timeout = 20, delivery_timeout = 5;
    try {
        drain_timeout = std::stod(parsed->get("drain-timeout"));
        delivery_timeout = std::stod(parsed->get("delivery-timeout"));
        port = std::stoi(parsed->get("port"));
        metrics_port = std::stoi(parsed->get("metrics-port"));
        threads = std::stoi(parsed->get("threads"));
        rate = std::stod(parsed->get("rate-limit"));
        request_timeout = std::stoi(parsed->get("request-timeout"));
        max_state_bytes = std::stoll(parsed->get("max-state-bytes"));
    } catch (...) {
        std::cerr << "error: --port, --metrics-port, --threads, --rate-limit, --max-state-bytes, --drain-timeout and --delivery-timeout take numbers\n";
        return kExitUsage;
    }
    if (drain_timeout < 0 || drain_timeout > 3600) {
        std::cerr << "error: --drain-timeout must be from 0 to 3600 seconds\n";
        return kExitUsage;
    }
    if (delivery_timeout < 0.001 || delivery_timeout > 3600) {
        std::cerr << "error: --delivery-timeout must be from 0.001 to 3600 seconds\n";
        return kExitUsage;
    }
    if (max_state_bytes < 1 || max_state_bytes > (1LL << 40)) {
        std::cerr << "error: --max-state-bytes must be from 1 to 1099511627776\n";
        return kExitUsage;
    }
    if (port < 0 || port > 65535 || threads < 0) {
        std::cerr << "error: --port must be 0-65535 and --threads 0 or more\n";
        return kExitUsage;
    }
    // Signals are taken by this thread only (sigwait below), never by server threads.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    cluster::WorkerNodeOptions options;
    options.api.api_key = parsed->get("api-key");
    options.api.state_dir = parsed->get("state-dir");
    options.api.file_root = parsed->get("file-root");
    options.api.rate_limit = rate;
    options.api.max_state_bytes = static_cast<size_t>(max_state_bytes);
    options.api.delivery_timeout = std::chrono::milliseconds(static_cast<int64_t>(delivery_timeout * 1000));
    options.http.bind = parsed->get("bind");
    options.http.port = static_cast<uint16_t>(port);
    options.http.worker_threads = threads;
    options.http.request_timeout = std::chrono::seconds(std::max(1, request_timeout));
    if (!apply_connection_flags(*parsed, options.http.connections)) return kExitUsage;
    options.http.tls_cert_file = parsed->get("tls-cert");
    options.http.tls_key_file = parsed->get("tls-key");
    if (parsed->has("metrics")) options.metrics_port = static_cast<uint16_t>(metrics_port);
    options.coordinator_url = parsed->get("coordinator");
    options.worker_id = parsed->get("worker-id");
    options.advertise_address = parsed->get("advertise-address");
    options.join_token = parsed->get("join-token");
    options.tls_ca_file = parsed->get("tls-ca");
    options.drain_timeout = std::chrono::milliseconds(static_cast<int64_t>(drain_timeout * 1000));
    auto started = cluster::WorkerNode::start(options);
    if (!started) {
        std::cerr << "error: " << started.status().message() << "\n";
        return kExitUsage;
    }
    cluster::WorkerNode& node = **started;
    std::cout << "Varpulis Server\n=================\nAPI:       " << node.url() << "/api/v1/\nHealth:    " << node.url() << "/health\n";
    if (auto m = node.metrics_port()) {
        std::cout << "Metrics:   " << (node.tls() ? "https" : "http") << "://" << options.http.bind << ":" << *m << "/metrics\n";
    }
    std::cout << "Auth:      "
              << (options.api.api_key.empty() ? "disabled (no --api-key): every request is accepted" : "enabled (API key required)")
              << "\nPipelines: " << node.api().registry().size()
              << (options.api.state_dir.empty() ? "" : " restored from " + options.api.state_dir) << "\n"
              << std::flush;
    if (options.api.api_key.empty()) log::warn("server", "no --api-key: the API accepts every request");

    int sig = 0;
    sigwait(&signals, &sig);
    log::info("server", std::string("shutting down (") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + "): finishing requests in flight");
    // Drain (up to --drain-timeout), then 5 s for requests in flight: 25 s by default, inside
    // Kubernetes' default 30 s grace period.
    node.stop(std::chrono::milliseconds(5'000));
    log::info("server", "stopped");
    return kExitOk;
}

}  // namespace varpulis::apps
