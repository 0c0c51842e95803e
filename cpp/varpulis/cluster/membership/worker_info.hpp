// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "varpulis/engine/sink.hpp"

namespace varpulis::cluster {

enum class WorkerStatus { Registering, Ready, Busy, Unhealthy, Draining };

/// Return the snake_case name of a worker status ("ready", "unhealthy"...).
constexpr const char* worker_status_name(WorkerStatus s) {
    switch (s) {
        case WorkerStatus::Registering: return "registering";
        case WorkerStatus::Ready: return "ready";
        case WorkerStatus::Busy: return "busy";
        case WorkerStatus::Unhealthy: return "unhealthy";
        case WorkerStatus::Draining: return "draining";
    }
    return "unknown";
}

/// A worker as the coordinator knows it.
struct WorkerInfo {
    std::string id;
    std::string address;      ///< http://host:port
    std::string api_key;      ///< the worker's own key, used to call it
    std::string heartbeat_token;
    WorkerStatus status = WorkerStatus::Registering;
    size_t max_pipelines = 100;
    uint64_t events_processed = 0;
    size_t pipelines_reported = 0;
    engine::ConnectorTotals connectors;  ///< from heartbeats: broker connections of its pipelines
    std::chrono::steady_clock::time_point last_heartbeat;
    uint64_t order = 0;       ///< registration order

    /// Return whether pipelines may be placed on this worker (ready, or still registering).
    bool available() const { return status == WorkerStatus::Ready || status == WorkerStatus::Registering; }
};

}  // namespace varpulis::cluster
