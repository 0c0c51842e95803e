// SPDX-License-Identifier: Apache-2.0
#pragma once

// The state directory's store: {dir}/coordinator.json, replaced atomically on every save (mode
// 0600: it holds the workers' API keys). A file that is not JSON is moved aside as
// coordinator.json.corrupt-<ms>, so the next save does not destroy what an operator may want to
// recover.

#include <string>

#include "varpulis/cluster/store/state_store.hpp"

namespace varpulis::cluster {

class FileStateStore : public StateStore {
  public:
    explicit FileStateStore(const std::string& dir);

    common::Result<CoordinatorSnapshot> load() override;
    common::Status save(const CoordinatorSnapshot& snapshot) override;

    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

}  // namespace varpulis::cluster
