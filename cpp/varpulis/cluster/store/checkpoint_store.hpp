// SPDX-License-Identifier: Apache-2.0
#pragma once

// The last checkpoint of each placed pipeline, taken by the coordinator every checkpoint interval
// and when a pipeline moves, and handed to the copy that replaces it (failover, drain,
// rebalance). With a state directory each checkpoint is a file,
// {dir}/checkpoints/<sha256(group id/pipeline)>.json, written atomically and read when needed
// (a coordinator restarted after a crash still has them); without one they are kept in memory.
// Thread-safe.

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "varpulis/common/status.hpp"

namespace varpulis::cluster {

class CheckpointStore {
  public:
    /// `dir` empty: in memory.
    explicit CheckpointStore(std::string dir);

    /// Keep `text`, the JSON text of the worker's `checkpoint` value.
    common::Status put(const std::string& group_id, const std::string& pipeline, std::string text);
    /// The last checkpoint kept for the pipeline; none when there is none (or it cannot be read,
    /// which is logged).
    std::optional<std::string> get(const std::string& group_id, const std::string& pipeline) const;
    /// Forget a pipeline's checkpoint (its group was torn down).
    void erase(const std::string& group_id, const std::string& pipeline);

  private:
    std::string path(const std::string& group_id, const std::string& pipeline) const;

    std::string dir_;  ///< {state-dir}/checkpoints, or empty
    mutable std::mutex mutex_;
    std::map<std::string, std::string> memory_;  ///< without a directory; by group id/pipeline
};

}  // namespace varpulis::cluster
