// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/membership/worker_table.hpp"

#include <algorithm>

#include "varpulis/common/secret.hpp"

namespace varpulis::cluster {

namespace {

/// The part of a worker that is kept between runs.
WorkerInfo kept_part(const WorkerInfo& w) {
    WorkerInfo kept;
    kept.id = w.id;
    kept.address = w.address;
    kept.api_key = w.api_key;
    kept.max_pipelines = w.max_pipelines;
    kept.order = w.order;
    return kept;
}

}  // namespace

void WorkerTable::register_worker(const Registration& registration, Clock::time_point now) {
    tombstones_.erase(registration.id);
    auto [it, fresh] = workers_.try_emplace(registration.id);
    WorkerInfo& w = it->second;
    w.id = registration.id;
    w.address = registration.address;
    w.api_key = registration.api_key;
    w.heartbeat_token = registration.heartbeat_token;
    w.status = WorkerStatus::Ready;
    w.last_heartbeat = now;
    if (registration.max_pipelines) w.max_pipelines = *registration.max_pipelines;
    if (fresh) w.order = next_order_++;
}

HeartbeatResult WorkerTable::heartbeat(const std::string& id, std::string_view token, const HeartbeatReport& report,
                                       Clock::time_point now) {
    if (auto t = tombstones_.find(id); t != tombstones_.end()) return {HeartbeatOutcome::Deregistered, t->second};
    auto it = workers_.find(id);
    if (it == workers_.end()) return {HeartbeatOutcome::Unknown, {}};
    WorkerInfo& w = it->second;
    if (!common::constant_time_equal(token, w.heartbeat_token)) return {HeartbeatOutcome::WrongToken, {}};
    w.events_processed = report.events_processed.value_or(w.events_processed);
    w.pipelines_reported = report.pipelines_running.value_or(w.pipelines_reported);
    if (report.connectors) w.connectors = *report.connectors;
    w.last_heartbeat = now;
    if (w.status != WorkerStatus::Unhealthy) return {HeartbeatOutcome::Accepted, {}};
    w.status = WorkerStatus::Ready;
    return {HeartbeatOutcome::Recovered, {}};
}

bool WorkerTable::drain(const std::string& id) {
    auto it = workers_.find(id);
    if (it == workers_.end()) return false;
    it->second.status = WorkerStatus::Draining;
    return true;
}

bool WorkerTable::remove(const std::string& id, std::string reason) {
    if (!workers_.erase(id)) return false;
    tombstones_[id] = std::move(reason);
    return true;
}

std::vector<std::string> WorkerTable::mark_silent(Clock::time_point now, std::chrono::milliseconds timeout) {
    std::vector<std::string> marked;
    for (auto& [id, w] : workers_) {
        // A drained worker that stopped goes silent too, and is forgotten like any other.
        const bool live = w.status != WorkerStatus::Unhealthy;
        if (live && now - w.last_heartbeat > timeout) {
            w.status = WorkerStatus::Unhealthy;
            marked.push_back(id);
        }
    }
    return marked;
}

bool WorkerTable::mark_unhealthy(const std::string& id) {
    auto it = workers_.find(id);
    if (it == workers_.end() || it->second.status == WorkerStatus::Unhealthy) return false;
    it->second.status = WorkerStatus::Unhealthy;
    return true;
}

std::vector<std::string> WorkerTable::expire(Clock::time_point now, std::chrono::milliseconds expiry,
                                             const std::function<bool(const std::string&)>& idle) {
    std::vector<std::string> forgotten;
    if (expiry.count() <= 0) return forgotten;
    for (auto it = workers_.begin(); it != workers_.end();) {
        const WorkerInfo& w = it->second;
        if (w.status == WorkerStatus::Unhealthy && now - w.last_heartbeat > expiry && idle(w.id)) {
            forgotten.push_back(w.id);
            it = workers_.erase(it);
        } else {
            ++it;
        }
    }
    return forgotten;
}

const WorkerInfo* WorkerTable::find(const std::string& id) const {
    auto it = workers_.find(id);
    return it == workers_.end() ? nullptr : &it->second;
}

std::vector<const WorkerInfo*> WorkerTable::in_order() const {
    std::vector<const WorkerInfo*> ordered;
    ordered.reserve(workers_.size());
    for (const auto& [id, w] : workers_) ordered.push_back(&w);
    std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) { return a->order < b->order; });
    return ordered;
}

MembershipSnapshot WorkerTable::snapshot() const {
    MembershipSnapshot s;
    for (const auto& [id, w] : workers_) s.workers.push_back(kept_part(w));
    s.tombstones = tombstones_;
    s.next_order = next_order_;
    return s;
}

void WorkerTable::restore(const MembershipSnapshot& snapshot, Clock::time_point now) {
    workers_.clear();
    for (const auto& kept : snapshot.workers) {
        WorkerInfo w = kept_part(kept);
        w.status = WorkerStatus::Unhealthy;
        w.last_heartbeat = now;
        workers_[w.id] = std::move(w);
    }
    tombstones_ = snapshot.tombstones;
    next_order_ = snapshot.next_order;
}

}  // namespace varpulis::cluster
