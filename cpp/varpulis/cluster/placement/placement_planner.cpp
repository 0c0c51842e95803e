// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/placement/placement_planner.hpp"

#include <algorithm>
#include <utility>

namespace varpulis::cluster {

PlacementStrategy placement_strategy(const std::string& name) {
    return name == "least_loaded" ? PlacementStrategy::LeastLoaded : PlacementStrategy::RoundRobin;
}

std::optional<std::string> PlacementPlanner::choose(const std::vector<WorkerLoad>& workers, const PipelineSpec& spec,
                                                    PlacementStrategy strategy, const std::vector<std::string>& excluded) {
    std::vector<const WorkerLoad*> candidates;
    for (const auto& w : workers) {
        if (w.available && w.assigned < w.capacity && std::find(excluded.begin(), excluded.end(), w.id) == excluded.end()) {
            candidates.push_back(&w);
        }
    }
    if (candidates.empty()) return std::nullopt;
    std::sort(candidates.begin(), candidates.end(), [](auto* a, auto* b) { return a->order < b->order; });
    if (!spec.worker_affinity.empty()) {
        for (auto* w : candidates) {
            if (w->id == spec.worker_affinity) return w->id;
        }
    }
    if (strategy == PlacementStrategy::LeastLoaded) {
        auto best = std::min_element(candidates.begin(), candidates.end(), [](auto* a, auto* b) {
            return std::make_pair(a->assigned, a->order) < std::make_pair(b->assigned, b->order);
        });
        return (*best)->id;
    }
    return candidates[round_robin_++ % candidates.size()]->id;
}

common::Result<std::vector<std::string>> PlacementPlanner::plan_group(const std::vector<WorkerLoad>& workers,
                                                                      const PipelineGroup& group) {
    const PlacementStrategy strategy = placement_strategy(group.placement);
    std::vector<std::string> chosen;
    for (const auto& spec : group.pipelines) {
        auto worker = choose(workers, spec, strategy);
        if (!worker) {
            return common::Status(common::ErrorCode::NotFound, "no worker is available to run pipeline '" + spec.name + "'");
        }
        chosen.push_back(std::move(*worker));
    }
    return chosen;
}

std::optional<std::string> PlacementPlanner::plan_failover(const std::vector<WorkerLoad>& workers, const std::string& failed) {
    return choose(workers, PipelineSpec{}, PlacementStrategy::LeastLoaded, {failed});
}

}  // namespace varpulis::cluster
