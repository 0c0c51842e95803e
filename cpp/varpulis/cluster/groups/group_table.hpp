// SPDX-License-Identifier: Apache-2.0
#pragma once

// The deployed pipeline groups and the stale copies failover left behind. No lock: the caller
// serialises the calls. Groups are shared so that a deploy, failover or reconciliation can work
// on one without the lock and write its placements back under it.

#include <memory>
#include <string>
#include <vector>

#include "varpulis/cluster/groups/pipeline_group.hpp"

namespace varpulis::cluster {

/// What the table keeps between runs.
struct GroupSnapshot {
    std::vector<PipelineGroup> groups;
    std::vector<StaleCopy> stale;
};

class GroupTable {
  public:
    void add(std::shared_ptr<PipelineGroup> group);
    /// Remove the group `id` and return it; null when it is unknown.
    std::shared_ptr<PipelineGroup> remove(const std::string& id);
    /// Return the group `id`, or null.
    PipelineGroup* find(const std::string& id) const;
    /// Return the groups in deployment order.
    const std::vector<std::shared_ptr<PipelineGroup>>& all() const { return groups_; }

    /// Return how many pipelines are placed on a worker.
    size_t assigned(const std::string& worker_id) const;
    /// Return how many pipelines are placed in all.
    size_t placements() const;

    /// Remember a copy to delete from its worker when the worker returns.
    void add_stale(StaleCopy copy);
    /// Forget the stale copies on a worker and return their pipeline ids.
    std::vector<std::string> take_stale(const std::string& worker_id);

    /// Return a copy of the groups and stale copies.
    GroupSnapshot snapshot() const;
    /// Replace the table with a snapshot's groups and stale copies.
    void restore(const GroupSnapshot& snapshot);

  private:
    std::vector<std::shared_ptr<PipelineGroup>> groups_;
    std::vector<StaleCopy> stale_;
};

}  // namespace varpulis::cluster
