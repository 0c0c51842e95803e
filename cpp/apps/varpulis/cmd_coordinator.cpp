// SPDX-License-Identifier: Apache-2.0
// `varpulis coordinator`: the cluster control plane.
#include <charconv>
#include <csignal>
#include <iostream>

#include <pthread.h>

#include "args.hpp"
#include "commands.hpp"
#include "varpulis/cluster/coordinator.hpp"
#include "varpulis/common/log.hpp"

namespace varpulis::apps {

int cmd_coordinator(const std::vector<std::string>& args) {
    CommandSpec spec{"varpulis coordinator", "Run the cluster control plane: workers, pipeline groups, routing, failover", {},
                     {{"port", 'p', "PORT", "Port to listen on (0: a free port, printed in the banner)", "", "9100"},
                      {"bind", 0, "ADDRESS", "IP address to listen on", "", "127.0.0.1"},
                      {"api-key", 0, "KEY", "API key required in x-api-key on the cluster API", "VARPULIS_API_KEY", ""},
                      {"join-token", 0, "TOKEN", "Token workers must present to register (default: open registration)",
                       "VARPULIS_JOIN_TOKEN", ""},
                      {"heartbeat-interval", 0, "SECONDS", "Interval workers heartbeat at; also the health sweep period", "", "5"},
                      {"heartbeat-timeout", 0, "SECONDS", "Silence after which a worker is unhealthy", "", "15"},
                      {"worker-expiry", 0, "SECONDS", "Silence after which an unhealthy worker running nothing is forgotten (0: never)",
                       "", "3600"},
                      {"inject-hold", 0, "SECONDS",
                       "How long an inject refused by a gone worker waits for its pipeline to fail over before 502", "", "5"},
                      {"checkpoint-interval", 0, "SECONDS",
                       "How often each pipeline's state is checkpointed; failover restores the last (the state a crash loses; 0: never)",
                       "", "10"},
                      {"orphan-grace", 0, "SECONDS",
                       "How long a pipeline a group deployed and no placement names may run before it is removed", "", "30"},
                      {"state-dir", 0, "DIR", "Keep workers, groups and placements here across restarts", "VARPULIS_STATE_DIR", ""},
                      {"mqtt-broker", 0, "HOST:PORT", "MQTT broker that carries routes between pipelines", "VARPULIS_MQTT_BROKER", ""},
                      {"tls-cert", 0, "FILE", "PEM certificate: serve HTTPS (with --tls-key)", "VARPULIS_TLS_CERT", ""},
                      {"tls-key", 0, "FILE", "PEM private key for --tls-cert", "VARPULIS_TLS_KEY", ""},
                      {"tls-ca", 0, "FILE", "PEM CA certificates https workers must chain to (default: the system's)",
                       "VARPULIS_TLS_CA", ""},
                      {"busy-poll-us", 0, "MICROSECONDS",
                       "Keep polling this long after work before sleeping: lower latency for a core's time while traffic flows (0: off)",
                       "VARPULIS_BUSY_POLL_US", "0"}}};
    for (auto& flag : connection_flags()) spec.flags.push_back(flag);
    for (auto& flag : log_flags()) spec.flags.push_back(flag);
    int exit_code = kExitOk;
    auto parsed = parse_command(spec, args, exit_code);
    if (!parsed) return exit_code;
    if (!apply_log_flags(*parsed)) return kExitUsage;
    cluster::CoordinatorOptions options;
    int port = 0;
    try {
        port = std::stoi(parsed->get("port"));
        options.heartbeat_interval = std::chrono::milliseconds(static_cast<int64_t>(std::stod(parsed->get("heartbeat-interval")) * 1000));
        options.heartbeat_timeout = std::chrono::milliseconds(static_cast<int64_t>(std::stod(parsed->get("heartbeat-timeout")) * 1000));
        options.worker_expiry = std::chrono::milliseconds(static_cast<int64_t>(std::stod(parsed->get("worker-expiry")) * 1000));
        options.inject_hold = std::chrono::milliseconds(static_cast<int64_t>(std::stod(parsed->get("inject-hold")) * 1000));
        options.checkpoint_interval =
            std::chrono::milliseconds(static_cast<int64_t>(std::stod(parsed->get("checkpoint-interval")) * 1000));
        options.orphan_grace = std::chrono::milliseconds(static_cast<int64_t>(std::stod(parsed->get("orphan-grace")) * 1000));
    } catch (...) {
        std::cerr << "error: --port, --heartbeat-interval, --heartbeat-timeout, --worker-expiry, --inject-hold, --checkpoint-interval "
                     "and --orphan-grace take numbers\n";
        return kExitUsage;
    }
    const std::string& busy_poll = parsed->get("busy-poll-us");
    int64_t busy_poll_us = -1;
    auto [end, ec] = std::from_chars(busy_poll.data(), busy_poll.data() + busy_poll.size(), busy_poll_us);
    if (ec != std::errc() || end != busy_poll.data() + busy_poll.size()) {
        std::cerr << "error: --busy-poll-us takes a whole number of microseconds from 0 to 1000000, not '" << busy_poll << "'\n";
        return kExitUsage;
    }
    options.busy_poll = std::chrono::microseconds(busy_poll_us);
    if (!apply_connection_flags(*parsed, options.connections)) return kExitUsage;
    if (common::Status valid = options.validate(cluster::OptionSpelling::Flag); !valid.is_ok()) {
        std::cerr << "error: " << valid.message() << "\n";
        return kExitUsage;
    }
    options.api_key = parsed->get("api-key");
    options.join_token = parsed->get("join-token");
    options.state_dir = parsed->get("state-dir");
    if (const std::string& broker = parsed->get("mqtt-broker"); !broker.empty()) {
        auto connector = cluster::RouteConnector::mqtt(broker);
        if (!connector) {
            std::cerr << "error: " << connector.status().message() << "\n";
            return kExitUsage;
        }
        options.route_connector = std::move(*connector);
    }
    options.tls_cert_file = parsed->get("tls-cert");
    options.tls_key_file = parsed->get("tls-key");
    options.tls_ca_file = parsed->get("tls-ca");
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    cluster::Coordinator coordinator(options);
    auto port_bound = coordinator.serve(parsed->get("bind"), static_cast<uint16_t>(port));
    if (!port_bound) {
        std::cerr << "error: " << port_bound.status().message() << "\n";
        return kExitUsage;
    }
    const char* scheme = options.tls_cert_file.empty() ? "http" : "https";
    std::cout << "Varpulis Coordinator\n=======================\nAPI:       " << scheme << "://" << parsed->get("bind") << ":" << *port_bound
              << "/api/v1/cluster/\nAuth:      "
              << (options.api_key.empty() ? "disabled (no --api-key): every request is accepted" : "enabled (API key required)")
              << "\n"
              << std::flush;
    if (options.join_token.empty()) {
        log::warn("cluster", "no --join-token: any process that can reach this port can register as a worker");
    }
    int sig = 0;
    sigwait(&signals, &sig);
    log::info("cluster", std::string("shutting down (") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ")");
    coordinator.stop();
    log::info("cluster", "stopped");
    return kExitOk;
}

}  // namespace varpulis::apps
