// SPDX-License-Identifier: Apache-2.0
#pragma once

// Where the coordinator keeps its state between runs: workers, groups, placements, tombstones,
// stale copies and the placement counter, saved after every change and loaded at start-up. One
// interface, so that the file store of today and a replicated store (etcd) later are
// interchangeable; the memory store serves tests and coordinators without --state-dir.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "varpulis/cluster/groups/group_table.hpp"
#include "varpulis/cluster/membership/worker_table.hpp"
#include "varpulis/common/status.hpp"

namespace varpulis::cluster {

/// Everything the coordinator keeps between runs.
struct CoordinatorSnapshot {
    MembershipSnapshot membership;
    GroupSnapshot groups;
    uint64_t round_robin = 0;  ///< the placement planner's counter
};

class StateStore {
  public:
    virtual ~StateStore() = default;
    /// Return what was saved last; an empty snapshot when nothing was. An error when what was
    /// saved cannot be read (the caller starts empty).
    virtual common::Result<CoordinatorSnapshot> load() = 0;
    /// Keep `snapshot` in place of what was saved before.
    virtual common::Status save(const CoordinatorSnapshot& snapshot) = 0;
};

/// State in memory: it lasts as long as the store.
class MemoryStateStore : public StateStore {
  public:
    common::Result<CoordinatorSnapshot> load() override;
    common::Status save(const CoordinatorSnapshot& snapshot) override;

  private:
    std::mutex mutex_;
    std::optional<CoordinatorSnapshot> saved_;
};

}  // namespace varpulis::cluster
