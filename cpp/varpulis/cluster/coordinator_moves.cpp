// SPDX-License-Identifier: Apache-2.0
// Pipelines moving between workers: failover of a gone worker (from the last kept checkpoint),
// live moves off a draining worker and back to a returning affinity (with the state of the
// moment), the periodic checkpoints those restore from, the stale copies failover leaves, and
// the orphans a coordinator crash leaves (docs/cluster.md, "Delivery guarantees").
#include <algorithm>
#include <thread>

#include "varpulis/cluster/coordinator.hpp"
#include "varpulis/cluster/coordinator_internal.hpp"
#include "varpulis/common/log.hpp"
#include "varpulis/common/secret.hpp"

namespace varpulis::cluster {

namespace {

/// How long a move waits for the forwards already sent to the old copy to be answered.
constexpr auto kInFlightWait = std::chrono::seconds(2);

/// The least loaded available worker other than `excluded`, counting the moves already planned.
std::optional<std::string> plan_move(PlacementPlanner& planner, std::vector<WorkerLoad>& loads, const std::string& excluded) {
    auto target = planner.plan_failover(loads, excluded);
    if (!target) return std::nullopt;
    for (auto& l : loads) {
        if (l.id == *target) ++l.assigned;
    }
    return target;
}

}  // namespace

std::vector<Coordinator::Deployment> Coordinator::plan_moves_off(const std::string& worker_id, std::vector<Deployment>* stuck) {
    std::vector<Deployment> moves;
    std::vector<WorkerLoad> now = loads();
    for (const auto& g : groups_.all()) {
        for (size_t i = 0; i < g->placements.size(); ++i) {
            if (g->placements[i].worker_id != worker_id) continue;
            if (auto target = plan_move(planner_, now, worker_id)) {
                moves.push_back({g, i, g->pipelines[i], *workers_.find(*target), g->placements[i].pipeline_id});
            } else if (stuck) {
                stuck->push_back({g, i, g->pipelines[i], *workers_.find(worker_id), g->placements[i].pipeline_id});
            }
        }
    }
    return moves;
}

common::Result<std::string> Coordinator::deploy_with_state(const WorkerInfo& w, const PipelineGroup& group, const PipelineSpec& spec,
                                                           const std::optional<std::string>& state, bool* restored) {
    auto id = deploy_on(w, group, spec, state ? &*state : nullptr);
    if (restored) *restored = id && state;
    if (id || !state) return id;
    // A checkpoint that does not restore (over the deploy's limit, a program changed) must not
    // keep the pipeline down.
    ++checkpoint_failures_;
    log::warn("cluster", "pipeline '" + spec.name + "' did not deploy with its state (" + id.status().message() +
                             "); deployed with empty state");
    return deploy_on(w, group, spec);
}

void Coordinator::failover(const std::string& worker_id) {
    std::vector<Deployment> moves;
    {
        std::lock_guard lock(mutex_);
        moves = plan_moves_off(worker_id);
    }
    for (auto& m : moves) {
        // The gone worker cannot be asked for its state: the last kept checkpoint is used.
        const auto kept = checkpoints_.get(m.group->id, m.spec.name);
        bool restored = false;
        auto id = deploy_with_state(m.worker, *m.group, m.spec, kept, &restored);
        if (!id) continue;
        if (restored) ++restores_;
        std::lock_guard lock(mutex_);
        Placement& p = m.group->placements[m.index];
        if (p.worker_id != worker_id) continue;  // moved meanwhile
        if (!p.pipeline_id.empty()) groups_.add_stale({worker_id, p.pipeline_id});
        p = {p.pipeline_name, m.worker.id, m.worker.address, *id, "running", p.epoch + 1};
        ++failovers_;
        log::info("cluster", "pipeline '" + p.pipeline_name + "' of group '" + m.group->name + "' moved from worker '" + worker_id +
                                 "' to '" + m.worker.id + "'" + (kept ? " with its last checkpoint" : ""));
    }
    save_or_log("pipelines moved off worker '" + worker_id + "'");
}

bool Coordinator::move_live(const Deployment& d, const WorkerInfo& from) {
    std::string old_id;
    std::shared_ptr<InjectForwarder> forwarder;
    {
        std::lock_guard lock(mutex_);
        Placement& p = d.group->placements[d.index];
        if (p.worker_id != from.id || p.pipeline_id.empty()) return false;  // moved meanwhile
        old_id = p.pipeline_id;
        p.status = "moving";  // injects are held from here (InjectTarget::moving)
        forwarder = forwarder_;
    }
    // Forwards sent before the flag are answered before the checkpoint is taken.
    const auto until = std::chrono::steady_clock::now() + kInFlightWait;
    while (forwarder && forwarder->in_flight(old_id) > 0 && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    auto state = checkpoint_from(from, old_id);
    if (state) {
        if (common::Status kept = checkpoints_.put(d.group->id, d.spec.name, *state); !kept.is_ok()) log::error("cluster", kept.message());
    }
    // The old copy goes before the new one starts: a route's broker session has one subscriber.
    remove_from(from, old_id);
    const WorkerInfo* placed_on = &d.worker;
    auto id = deploy_with_state(d.worker, *d.group, d.spec, state);
    if (!id) {
        log::warn("cluster", "pipeline '" + d.spec.name + "' could not move to worker '" + d.worker.id + "' (" + id.status().message() +
                                 "); deployed again on '" + from.id + "'");
        placed_on = &from;
        id = deploy_on(from, *d.group, d.spec);
    }
    std::lock_guard lock(mutex_);
    Placement& p = d.group->placements[d.index];
    if (!id) {
        p.status = "failed";
        log::error("cluster", "pipeline '" + d.spec.name + "' of group '" + d.group->name + "' was removed from worker '" + from.id +
                                  "' and could not be deployed again: " + id.status().message());
        return false;
    }
    p = {p.pipeline_name, placed_on->id, placed_on->address, *id, "running", p.epoch + 1};
    if (placed_on != &d.worker) return false;
    ++moves_;
    log::info("cluster", "pipeline '" + p.pipeline_name + "' of group '" + d.group->name + "' moved from worker '" + from.id + "' to '" +
                             d.worker.id + "'" + (state ? " with its state" : " without state (no checkpoint)"));
    return true;
}

HttpResponse Coordinator::drain_worker(const HttpRequest& req, const std::string& id) {
    WorkerInfo draining;
    std::vector<Deployment> moves;
    std::vector<Deployment> stuck;  ///< no other worker to take them
    {
        std::lock_guard lock(mutex_);
        const WorkerInfo* w = workers_.find(id);
        if (!w) return error_response(404, "worker_not_found", "unknown worker " + id);
        const std::string token = req.header("x-worker-token");
        if (!token.empty() && !common::constant_time_equal(token, w->heartbeat_token)) {
            return error_response(401, "invalid_worker_token", "heartbeat token does not match this worker's");
        }
        workers_.drain(id);
        draining = *w;
        moves = plan_moves_off(id, &stuck);
    }
    log::info("cluster", "worker '" + id + "' draining: " + std::to_string(moves.size()) + " pipeline(s) to move, " +
                             std::to_string(stuck.size()) + " with no other worker to take them");
    size_t moved = 0;
    for (const auto& m : moves) moved += move_live(m, draining) ? 1 : 0;
    // What cannot move now fails over later, from the state it has now.
    for (const auto& s : stuck) {
        if (auto state = checkpoint_from(draining, s.pipeline_id)) (void)checkpoints_.put(s.group->id, s.spec.name, std::move(*state));
    }
    save_or_log("worker '" + id + "' drained");
    std::lock_guard lock(mutex_);
    return json_response(200, {{"worker_id", id}, {"status", "draining"}, {"pipelines_moved", true}, {"moved", moved},
                               {"assigned_pipelines", groups_.assigned(id)}});
}

void Coordinator::return_to_affinity(const std::string& worker_id) {
    std::vector<std::pair<Deployment, WorkerInfo>> moves;
    {
        std::lock_guard lock(mutex_);
        const WorkerInfo* home = workers_.find(worker_id);
        if (!home || !home->available()) return;
        size_t room = home->max_pipelines > groups_.assigned(worker_id) ? home->max_pipelines - groups_.assigned(worker_id) : 0;
        for (const auto& g : groups_.all()) {
            if (!g->rebalance) continue;
            for (size_t i = 0; i < g->placements.size() && room > 0; ++i) {
                const Placement& p = g->placements[i];
                if (g->pipelines[i].worker_affinity != worker_id || p.worker_id == worker_id || p.status != "running") continue;
                const WorkerInfo* now = workers_.find(p.worker_id);
                // A pipeline on a gone worker comes back by failover, which prefers nothing.
                if (!now || now->status == WorkerStatus::Unhealthy) continue;
                moves.push_back({{g, i, g->pipelines[i], *home, p.pipeline_id}, *now});
                --room;
            }
        }
    }
    for (const auto& [move, from] : moves) {
        if (move_live(move, from)) {
            log::info("cluster", "pipeline '" + move.spec.name + "' returned to its worker_affinity '" + worker_id + "'");
        }
    }
    if (!moves.empty()) save_or_log("pipelines returned to worker '" + worker_id + "'");
}

void Coordinator::remove_stale_copies(const std::string& worker_id) {
    std::vector<std::string> pipeline_ids;
    WorkerInfo w;
    {
        std::lock_guard lock(mutex_);
        const WorkerInfo* known = workers_.find(worker_id);
        if (!known) return;
        w = *known;
        pipeline_ids = groups_.take_stale(worker_id);
    }
    // The old epoch's copies would process events nobody routes to them: delete them.
    for (const auto& pid : pipeline_ids) remove_from(w, pid);
}

void Coordinator::reconcile(const std::string& worker_id) {
    std::vector<Deployment> placed;
    WorkerInfo worker;
    {
        std::lock_guard lock(mutex_);
        const WorkerInfo* w = workers_.find(worker_id);
        if (!w) return;
        worker = *w;
        for (const auto& g : groups_.all()) {
            for (size_t i = 0; i < g->placements.size(); ++i) {
                if (g->placements[i].worker_id == worker_id) placed.push_back({g, i, g->pipelines[i], *w, g->placements[i].pipeline_id});
            }
        }
    }
    auto running = running_on(worker);
    if (!running) return;  // the next registration or scan tries again
    remove_orphans(worker, *running);
    for (auto& m : placed) {
        if (std::any_of(running->begin(), running->end(), [&](const Running& r) { return r.id == m.pipeline_id; })) continue;
        // A restarted process starts empty: its pipelines come back from their last checkpoint.
        auto id = deploy_with_state(m.worker, *m.group, m.spec, checkpoints_.get(m.group->id, m.spec.name));
        std::lock_guard lock(mutex_);
        Placement& p = m.group->placements[m.index];
        if (p.worker_id != worker_id || p.pipeline_id != m.pipeline_id) continue;  // moved meanwhile
        if (id) {
            p.pipeline_id = *id;
            p.status = "running";
            ++p.epoch;
        } else {
            p.status = "failed";
        }
    }
}

void Coordinator::remove_orphans(const WorkerInfo& w, const std::vector<Running>& running) {
    std::vector<std::string> remove;
    {
        std::lock_guard lock(mutex_);
        const auto now = std::chrono::steady_clock::now();
        for (const auto& r : running) {
            if (r.group_id.empty()) continue;  // deployed on the worker directly: not ours
            const std::string key = w.id + "/" + r.id;
            const PipelineGroup* g = groups_.find(r.group_id);
            const bool owned = deploying_.count(r.group_id) > 0 ||
                               (g && std::any_of(g->placements.begin(), g->placements.end(),
                                                 [&](const Placement& p) { return p.pipeline_id == r.id; }));
            if (owned) {
                orphans_seen_.erase(key);
                continue;
            }
            auto [seen, fresh] = orphans_seen_.try_emplace(key, now);
            if (!fresh && now - seen->second >= options_.orphan_grace) {
                remove.push_back(r.id);
                orphans_seen_.erase(seen);
            }
        }
    }
    for (const auto& id : remove) {
        log::warn("cluster", "pipeline " + id + " on worker '" + w.id + "' belongs to no placement of its group (left by a crash): removed");
        remove_from(w, id);
        ++orphans_removed_;
    }
}

void Coordinator::start_housekeeping() {
    housekeeper_ = std::thread([this] {
        using Clock = std::chrono::steady_clock;
        auto next_checkpoint = Clock::now() + options_.checkpoint_interval;
        // Orphans are confirmed on a second sighting a grace later: scan twice per grace.
        const auto scan_every = std::max(options_.orphan_grace / 2, std::chrono::milliseconds(500));
        auto next_scan = Clock::now() + scan_every;
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            auto wake = next_scan;
            if (options_.checkpoint_interval.count() > 0) wake = std::min(wake, next_checkpoint);
            wake_.wait_until(lock, wake, [this] { return stopping_; });
            if (stopping_) break;
            lock.unlock();
            if (options_.checkpoint_interval.count() > 0 && Clock::now() >= next_checkpoint) {
                checkpoint_all();
                next_checkpoint = Clock::now() + options_.checkpoint_interval;
            }
            if (Clock::now() >= next_scan) {
                scan_for_orphans();
                next_scan = Clock::now() + scan_every;
            }
            lock.lock();
        }
    });
}

void Coordinator::checkpoint_all() {
    struct Due {
        std::string group_id, pipeline, pipeline_id;
        WorkerInfo worker;
    };
    std::vector<Due> due;
    {
        std::lock_guard lock(mutex_);
        for (const auto& g : groups_.all()) {
            for (const auto& p : g->placements) {
                const WorkerInfo* w = workers_.find(p.worker_id);
                if (!w || p.status != "running" || p.pipeline_id.empty()) continue;
                if (w->status != WorkerStatus::Ready && w->status != WorkerStatus::Busy) continue;
                due.push_back({g->id, p.pipeline_name, p.pipeline_id, *w});
            }
        }
    }
    for (const auto& d : due) {
        auto state = checkpoint_from(d.worker, d.pipeline_id);
        if (!state) {
            ++checkpoint_failures_;
            continue;
        }
        {
            // A group torn down meanwhile keeps no checkpoint.
            std::lock_guard lock(mutex_);
            if (!groups_.find(d.group_id)) continue;
        }
        if (common::Status kept = checkpoints_.put(d.group_id, d.pipeline, std::move(*state)); !kept.is_ok()) {
            ++checkpoint_failures_;
            log::error("cluster", kept.message());
            continue;
        }
        ++checkpoints_taken_;
    }
}

void Coordinator::scan_for_orphans() {
    std::vector<WorkerInfo> live;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, w] : workers_.workers()) {
            if (w.status != WorkerStatus::Unhealthy) live.push_back(w);
        }
    }
    for (const auto& w : live) {
        if (auto running = running_on(w)) remove_orphans(w, *running);
    }
}

std::optional<std::string> Coordinator::checkpoint_from(const WorkerInfo& w, const std::string& pipeline_id) {
    static log::Throttle failures;
    auto r = client_.request("POST", w.address + "/api/v1/pipelines/" + pipeline_id + "/checkpoint", "{}", {{"x-api-key", w.api_key}});
    std::string why;
    if (!r) {
        why = r.status().message();
    } else if (r->status != 200) {
        why = "answered " + std::to_string(r->status) + ": " + r->body.substr(0, 300);
    } else {
        try {
            return json::parse(r->body).at("checkpoint").dump();
        } catch (const std::exception& e) {
            why = std::string("unreadable answer: ") + e.what();
        }
    }
    failures.write(log::Level::Warn, "cluster", "checkpoint of pipeline " + pipeline_id + " on worker '" + w.id + "' failed: " + why);
    return std::nullopt;
}

}  // namespace varpulis::cluster
