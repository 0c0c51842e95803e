// SPDX-License-Identifier: Apache-2.0
#pragma once

// What a coordinator is started with, and the one check of it that `varpulis coordinator` and
// the Python Coordinator both run (so the two cannot drift apart).

#include <chrono>
#include <string>

#include "varpulis/cluster/groups/route_connector.hpp"
#include "varpulis/common/status.hpp"
#include "varpulis/server/http_server.hpp"

namespace varpulis::cluster {

/// How option names are spelled in messages: `--heartbeat-interval` (the command line) or
/// `heartbeat_interval` (Python keywords).
enum class OptionSpelling { Flag, Keyword };

struct CoordinatorOptions {
    std::string api_key;     ///< required in x-api-key on the cluster API; empty: open
    std::string join_token;  ///< required from registering workers; empty: open registration
    std::chrono::milliseconds heartbeat_interval{5000};
    std::chrono::milliseconds heartbeat_timeout{15000};
    /// Silence after which an unhealthy worker with no pipelines left is forgotten (a scaled-down
    /// pod); it registers again if it ever comes back. Zero: never.
    std::chrono::milliseconds worker_expiry{std::chrono::hours(1)};
    /// How long an inject refused by a gone worker is held for its pipeline to fail over (the
    /// worker is probed at once, not after heartbeat_timeout); past it, 502.
    std::chrono::milliseconds inject_hold{5000};
    /// How often each placed pipeline is checkpointed; a failed-over pipeline restarts from its
    /// last checkpoint, so this is the window of state a crash loses. Zero: never (state
    /// restarts empty on failover; drains still move it).
    std::chrono::milliseconds checkpoint_interval{10000};
    /// How long a pipeline a group deployed, and no placement names, may run on a worker before
    /// it is removed (an orphan of a coordinator crash during a deploy or a move).
    std::chrono::milliseconds orphan_grace{30000};
    std::string state_dir;   ///< empty: state in memory only
    /// The connector routes between pipelines travel on (`--mqtt-broker host:port`:
    /// RouteConnector::mqtt); none: such routes are kept in the topology but carry nothing.
    RouteConnector route_connector;
    server::ConnectionLimits connections;  ///< of its HTTP listener
    std::string tls_cert_file;  ///< with tls_key_file: serve HTTPS
    std::string tls_key_file;
    /// PEM certificates that https workers' certificates must chain to; empty: the system's.
    std::string tls_ca_file;
    /// Busy polling of the I/O thread (HttpServerOptions::busy_poll); zero: off.
    std::chrono::microseconds busy_poll{0};

    /// Check the options against each other: busy polling from 0 to 1 s, a positive heartbeat
    /// interval and a timeout at least as long. Invalid, with the option named as `spelling`
    /// spells it, when they do not hold.
    common::Status validate(OptionSpelling spelling) const;
};

}  // namespace varpulis::cluster
