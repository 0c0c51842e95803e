// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/groups/group_table.hpp"

#include <algorithm>

namespace varpulis::cluster {

void GroupTable::add(std::shared_ptr<PipelineGroup> group) { groups_.push_back(std::move(group)); }

std::shared_ptr<PipelineGroup> GroupTable::remove(const std::string& id) {
    auto it = std::find_if(groups_.begin(), groups_.end(), [&](const auto& g) { return g->id == id; });
    if (it == groups_.end()) return nullptr;
    std::shared_ptr<PipelineGroup> group = std::move(*it);
    groups_.erase(it);
    return group;
}

PipelineGroup* GroupTable::find(const std::string& id) const {
    for (const auto& g : groups_) {
        if (g->id == id) return g.get();
    }
    return nullptr;
}

size_t GroupTable::assigned(const std::string& worker_id) const {
    size_t n = 0;
    for (const auto& g : groups_) {
        for (const auto& p : g->placements) n += p.worker_id == worker_id;
    }
    return n;
}

size_t GroupTable::placements() const {
    size_t n = 0;
    for (const auto& g : groups_) n += g->placements.size();
    return n;
}

void GroupTable::add_stale(StaleCopy copy) { stale_.push_back(std::move(copy)); }

std::vector<std::string> GroupTable::take_stale(const std::string& worker_id) {
    std::vector<std::string> pipeline_ids;
    for (auto s = stale_.begin(); s != stale_.end();) {
        if (s->worker_id == worker_id) {
            pipeline_ids.push_back(std::move(s->pipeline_id));
            s = stale_.erase(s);
        } else {
            ++s;
        }
    }
    return pipeline_ids;
}

GroupSnapshot GroupTable::snapshot() const {
    GroupSnapshot s;
    for (const auto& g : groups_) s.groups.push_back(*g);
    s.stale = stale_;
    return s;
}

void GroupTable::restore(const GroupSnapshot& snapshot) {
    groups_.clear();
    for (const auto& g : snapshot.groups) groups_.push_back(std::make_shared<PipelineGroup>(g));
    stale_ = snapshot.stale;
}

}  // namespace varpulis::cluster
