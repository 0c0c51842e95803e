// SPDX-License-Identifier: Apache-2.0
#pragma once

// Where pipelines run (decisions.md §3): a pure planner over the workers as they are described
// to it. `worker_affinity` wins when that worker can take the pipeline; otherwise round-robin in
// registration order with one counter per coordinator (the seeds' p1 → worker-0, p2 → worker-1,
// ...), or the least loaded worker (ties: registration order). Failover places on the least
// loaded worker other than the failed one.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "varpulis/cluster/groups/pipeline_group.hpp"
#include "varpulis/common/status.hpp"

namespace varpulis::cluster {

/// A worker as the planner sees it.
struct WorkerLoad {
    std::string id;
    uint64_t order = 0;      ///< registration order
    bool available = false;  ///< ready or registering
    size_t capacity = 0;     ///< max_pipelines
    size_t assigned = 0;     ///< pipelines placed on it
};

enum class PlacementStrategy { RoundRobin, LeastLoaded };

/// Return the strategy a group's "placement" names: least_loaded, else round-robin.
PlacementStrategy placement_strategy(const std::string& name);

class PlacementPlanner {
  public:
    /// `round_robin`: the counter's value (kept between runs).
    explicit PlacementPlanner(uint64_t round_robin = 0) : round_robin_(round_robin) {}

    /// Choose the worker for a pipeline among the available workers with room, `excluded` left
    /// out; none when there is no such worker. Only a round-robin choice advances the counter.
    std::optional<std::string> choose(const std::vector<WorkerLoad>& workers, const PipelineSpec& spec,
                                      PlacementStrategy strategy, const std::vector<std::string>& excluded = {});
    /// Choose a worker for each of a group's pipelines, in order, against the same loads (a
    /// group's pipelines are not counted as they are placed). NotFound, naming the pipeline, when
    /// one has no worker.
    common::Result<std::vector<std::string>> plan_group(const std::vector<WorkerLoad>& workers, const PipelineGroup& group);
    /// Choose where a pipeline of the failed worker goes: the least loaded other worker, whatever
    /// its affinity.
    std::optional<std::string> plan_failover(const std::vector<WorkerLoad>& workers, const std::string& failed);

    /// Return the round-robin counter.
    uint64_t round_robin() const { return round_robin_; }

  private:
    uint64_t round_robin_;
};

}  // namespace varpulis::cluster
