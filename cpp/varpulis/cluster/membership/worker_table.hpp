// SPDX-License-Identifier: Apache-2.0
#pragma once

// The coordinator's workers (Redpanda's members_table): commands applied to a table of plain
// data: register, heartbeat, drain, delete (with a tombstone), mark the silent unhealthy, forget
// the long silent. No I/O and no lock: the caller serialises the calls and supplies the time, so
// tests drive the clock.

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "varpulis/cluster/membership/worker_info.hpp"

namespace varpulis::cluster {

/// A worker's registration, as the table applies it.
struct Registration {
    std::string id;
    std::string address;
    std::string api_key;
    std::string heartbeat_token;  ///< the token its heartbeats must carry from now on
    std::optional<size_t> max_pipelines;  ///< none: the worker's current one (100 for a new worker)
};

/// What a worker reports in a heartbeat; an absent field keeps its value.
struct HeartbeatReport {
    std::optional<uint64_t> events_processed;
    std::optional<size_t> pipelines_running;
    std::optional<engine::ConnectorTotals> connectors;
};

enum class HeartbeatOutcome {
    Accepted,
    Recovered,     ///< accepted, and the worker was unhealthy: it is ready again
    Unknown,       ///< no such worker: it should register again
    Deregistered,  ///< the worker was deleted: it should stop
    WrongToken,
};

struct HeartbeatResult {
    HeartbeatOutcome outcome = HeartbeatOutcome::Accepted;
    std::string reason;  ///< Deregistered: why it was
};

/// What the table keeps between runs; the rest comes back with each worker's next registration.
struct MembershipSnapshot {
    std::vector<WorkerInfo> workers;  ///< of each: id, address, api_key, max_pipelines and order
    std::map<std::string, std::string> tombstones;  ///< id → why it was deleted
    uint64_t next_order = 0;
};

class WorkerTable {
  public:
    using Clock = std::chrono::steady_clock;

    /// Add a worker, or renew a known one: ready, heard from at `now`, its tombstone removed. A
    /// new worker comes after every other in registration order.
    void register_worker(const Registration& registration, Clock::time_point now);
    /// Apply a heartbeat that carries `token`; an unhealthy worker turns ready.
    HeartbeatResult heartbeat(const std::string& id, std::string_view token, const HeartbeatReport& report,
                              Clock::time_point now);
    /// Mark a worker draining; false when it is unknown.
    bool drain(const std::string& id);
    /// Forget a worker and keep a tombstone saying `reason`; false when it is unknown.
    bool remove(const std::string& id, std::string reason);
    /// Mark unhealthy the ready (busy, registering) workers not heard from for longer than
    /// `timeout`. Return their ids.
    std::vector<std::string> mark_silent(Clock::time_point now, std::chrono::milliseconds timeout);
    /// Mark a worker unhealthy at once: its address refused a connection and then a probe (the
    /// process is gone), so its heartbeats need not be waited for. False when it is unknown or
    /// already unhealthy.
    bool mark_unhealthy(const std::string& id);
    /// Forget the unhealthy workers not heard from for longer than `expiry` for which `idle` holds
    /// (they run nothing), without a tombstone: they may register again. A zero expiry forgets
    /// none. Return their ids.
    std::vector<std::string> expire(Clock::time_point now, std::chrono::milliseconds expiry,
                                    const std::function<bool(const std::string&)>& idle);

    /// Return the worker `id`, or null.
    const WorkerInfo* find(const std::string& id) const;
    /// Return the workers in registration order.
    std::vector<const WorkerInfo*> in_order() const;
    /// Return the workers by id.
    const std::map<std::string, WorkerInfo>& workers() const { return workers_; }

    /// Return what is kept between runs.
    MembershipSnapshot snapshot() const;
    /// Replace the table with a snapshot's workers, unhealthy (heard from at `now`) until they
    /// register again for new heartbeat tokens.
    void restore(const MembershipSnapshot& snapshot, Clock::time_point now);

  private:
    std::map<std::string, WorkerInfo> workers_;
    std::map<std::string, std::string> tombstones_;
    uint64_t next_order_ = 0;
};

}  // namespace varpulis::cluster
