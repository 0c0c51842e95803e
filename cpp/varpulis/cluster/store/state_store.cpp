// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/store/state_store.hpp"

namespace varpulis::cluster {

common::Result<CoordinatorSnapshot> MemoryStateStore::load() {
    std::lock_guard lock(mutex_);
    return saved_.value_or(CoordinatorSnapshot{});
}

common::Status MemoryStateStore::save(const CoordinatorSnapshot& snapshot) {
    std::lock_guard lock(mutex_);
    saved_ = snapshot;
    return common::Status::ok();
}

}  // namespace varpulis::cluster
