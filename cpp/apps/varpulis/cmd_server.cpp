// SPDX-License-Identifier: Apache-2.0
// `varpulis server`: the worker's REST API.
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include <pthread.h>

#include "args.hpp"
#include "commands.hpp"
#include "varpulis/cluster/worker_agent.hpp"
#include "varpulis/common/log.hpp"
#include "varpulis/common/uuid.hpp"
#include "varpulis/server/pipeline_registry.hpp"
#include "varpulis/server/worker_api.hpp"

namespace varpulis::apps {

int cmd_server(const std::vector<std::string>& args) {
    CommandSpec spec{"varpulis server", "Run a worker: a REST API that deploys VPL pipelines and takes events", {},
                     {{"port", 'p', "PORT", "Port to listen on (0: a free port, printed in the banner)", "", "9000"},
                      {"bind", 0, "ADDRESS", "IP address to listen on", "", "127.0.0.1"},
                      {"api-key", 0, "KEY", "API key required in x-api-key on /api/v1 routes", "VARPULIS_API_KEY", ""},
                      {"tls-cert", 0, "FILE", "PEM certificate: serve HTTPS (with --tls-key)", "VARPULIS_TLS_CERT", ""},
                      {"tls-key", 0, "FILE", "PEM private key for --tls-cert", "VARPULIS_TLS_KEY", ""},
                      {"state-dir", 0, "DIR", "Keep pipeline definitions here across restarts", "VARPULIS_STATE_DIR", ""},
                      {"rate-limit", 0, "N", "Requests per second per client on /api/v1 (0: off)", "VARPULIS_RATE_LIMIT", "0"},
                      {"metrics", 0, "", "Also serve Prometheus metrics on --metrics-port (always on /metrics)", "", ""},
                      {"metrics-port", 0, "PORT", "Port of the metrics listener", "", "9090"},
                      {"threads", 0, "N", "Threads that run requests (0: one per core, at least 2)", "", "0"},
                      {"request-timeout", 0, "SECONDS", "Time a client has to send a whole request", "", "30"},
                      {"coordinator", 0, "URL", "Register with this coordinator (http://host:port)", "VARPULIS_COORDINATOR", ""},
                      {"worker-id", 0, "ID", "This worker's id in the cluster (default: a random UUID)", "VARPULIS_WORKER_ID", ""},
                      {"advertise-address", 0, "URL", "Address the coordinator uses to reach this worker (default: http://BIND:PORT)",
                       "VARPULIS_ADVERTISE_ADDRESS", ""},
                      {"join-token", 0, "TOKEN", "Token the coordinator requires to register", "VARPULIS_JOIN_TOKEN", ""},
                      {"tls-ca", 0, "FILE", "PEM CA certificates an https coordinator must chain to (default: the system's)",
                       "VARPULIS_TLS_CA", ""}}};
    for (auto& flag : log_flags()) spec.flags.push_back(flag);
    int exit_code = kExitOk;
    auto parsed = parse_command(spec, args, exit_code);
    if (!parsed) return exit_code;
    if (!apply_log_flags(*parsed)) return kExitUsage;
    int port = 0, metrics_port = 0, threads = 0, request_timeout = 30;
    double rate = 0;
    try {
        port = std::stoi(parsed->get("port"));
        metrics_port = std::stoi(parsed->get("metrics-port"));
        threads = std::stoi(parsed->get("threads"));
        rate = std::stod(parsed->get("rate-limit"));
        request_timeout = std::stoi(parsed->get("request-timeout"));
    } catch (...) {
        std::cerr << "error: --port, --metrics-port, --threads and --rate-limit take numbers\n";
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

    server::WorkerApiOptions api_options;
    api_options.api_key = parsed->get("api-key");
    api_options.state_dir = parsed->get("state-dir");
    api_options.rate_limit = rate;
    server::WorkerApi api(api_options);
    for (const auto& message : api.restore()) log::warn("server", message);

    server::HttpServerOptions http;
    http.bind = parsed->get("bind");
    http.port = static_cast<uint16_t>(port);
    http.worker_threads = threads;
    http.request_timeout = std::chrono::seconds(std::max(1, request_timeout));
    http.tls_cert_file = parsed->get("tls-cert");
    http.tls_key_file = parsed->get("tls-key");
    api.wire(http);
    auto started = server::HttpServer::start(http, [&api](const server::HttpRequest& req, server::HttpResponder respond) {
        api.handle(req, respond);
    });
    if (!started) {
        std::cerr << "error: " << started.status().message() << "\n";
        return kExitUsage;
    }
    auto& srv = *started;
    std::unique_ptr<server::HttpServer> metrics;
    if (parsed->has("metrics")) {
        server::HttpServerOptions m;
        m.bind = http.bind;
        m.port = static_cast<uint16_t>(metrics_port);
        m.worker_threads = 1;
        auto r = server::HttpServer::start(m, [&api](const server::HttpRequest&, server::HttpResponder respond) {
            server::HttpRequest req;
            req.method = "GET";
            req.path = "/metrics";
            respond(api.handle(req));
        });
        if (!r) {
            std::cerr << "error: metrics listener: " << r.status().message() << "\n";
            return kExitUsage;
        }
        metrics = std::move(*r);
    }
    std::unique_ptr<cluster::WorkerAgent> agent;
    if (parsed->has("coordinator")) {
        cluster::WorkerAgentOptions a;
        a.coordinator_url = parsed->get("coordinator");
        while (!a.coordinator_url.empty() && a.coordinator_url.back() == '/') a.coordinator_url.pop_back();
        a.worker_id = parsed->has("worker-id") ? parsed->get("worker-id") : common::new_uuid();
        // An IPv6 bind address is bracketed in the URL ("http://[::1]:9000").
        std::string host = http.bind.find(':') != std::string::npos ? "[" + http.bind + "]" : http.bind;
        a.advertise_address = parsed->has("advertise-address")
                                  ? parsed->get("advertise-address")
                                  : std::string(srv->tls() ? "https" : "http") + "://" + host + ":" + std::to_string(srv->port());
        a.api_key = api_options.api_key;
        a.join_token = parsed->get("join-token");
        a.tls_ca_file = parsed->get("tls-ca");
        if (!a.tls_ca_file.empty() && !std::ifstream(a.tls_ca_file)) {
            std::cerr << "error: cannot read the CA certificates " << a.tls_ca_file << " (--tls-ca)\n";
            return kExitUsage;
        }
        agent = std::make_unique<cluster::WorkerAgent>(a, [&api] {
            const auto connectors = api.connector_summary();
            return cluster::WorkerLoad{api.events_processed(), api.registry().size(), connectors.total, connectors.connected};
        });
        api.set_ready_check([raw = agent.get()] { return raw->registered(); });
        agent->start();
    }
    api.set_ready(true);
    std::string scheme = srv->tls() ? "https" : "http";
    std::string base = scheme + "://" + http.bind + ":" + std::to_string(srv->port());
    std::cout << "Varpulis Server\n=================\nAPI:       " << base << "/api/v1/\nHealth:    " << base << "/health\n";
    if (metrics) std::cout << "Metrics:   " << scheme << "://" << http.bind << ":" << metrics->port() << "/metrics\n";
    std::cout << "Auth:      "
              << (api_options.api_key.empty() ? "disabled (no --api-key): every request is accepted" : "enabled (API key required)")
              << "\nPipelines: " << api.registry().size() << (api_options.state_dir.empty() ? "" : " restored from " + api_options.state_dir)
              << "\n"
              << std::flush;
    if (api_options.api_key.empty()) log::warn("server", "no --api-key: the API accepts every request");

    int sig = 0;
    sigwait(&signals, &sig);
    log::info("server", std::string("shutting down (") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + "): finishing requests in flight");
    if (agent) agent->stop();
    if (metrics) metrics->stop(std::chrono::milliseconds(1000));
    srv->stop(std::chrono::milliseconds(10'000));
    for (const auto& p : api.registry().list()) {
        std::vector<engine::EventPtr> ignored;
        p->disconnect();  // sources stop delivering before the final flush
        (void)p->runtime()->flush(ignored);  // close windows, flush sinks
        p->close_subscribers();
    }
    log::info("server", "stopped");
    return kExitOk;
}

}  // namespace varpulis::apps
