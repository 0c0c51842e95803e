// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/store/checkpoint_store.hpp"

#include <filesystem>

#include "varpulis/common/atomic_file.hpp"
#include "varpulis/common/log.hpp"
#include "varpulis/common/secret.hpp"

namespace varpulis::cluster {

namespace fs = std::filesystem;

namespace {

std::string key(const std::string& group_id, const std::string& pipeline) { return group_id + "/" + pipeline; }

}  // namespace

CheckpointStore::CheckpointStore(std::string dir) : dir_(dir.empty() ? "" : (fs::path(dir) / "checkpoints").string()) {
    if (dir_.empty()) return;
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) log::error("cluster", "cannot create " + dir_ + " (" + ec.message() + "): checkpoints will not be kept");
}

std::string CheckpointStore::path(const std::string& group_id, const std::string& pipeline) const {
    // Pipeline names are the user's: a digest makes any of them a safe file name.
    return (fs::path(dir_) / (common::sha256_hex(key(group_id, pipeline)) + ".json")).string();
}

common::Status CheckpointStore::put(const std::string& group_id, const std::string& pipeline, std::string text) {
    std::lock_guard lock(mutex_);
    if (dir_.empty()) {
        memory_[key(group_id, pipeline)] = std::move(text);
        return common::Status::ok();
    }
    // 0600: a checkpoint holds the events its windows keep.
    return common::write_file_atomically(path(group_id, pipeline), text, 0600);
}

std::optional<std::string> CheckpointStore::get(const std::string& group_id, const std::string& pipeline) const {
    std::lock_guard lock(mutex_);
    if (dir_.empty()) {
        auto it = memory_.find(key(group_id, pipeline));
        if (it == memory_.end()) return std::nullopt;
        return it->second;
    }
    const std::string file = path(group_id, pipeline);
    auto text = common::read_file(file);
    if (!text) {
        if (text.status().code() != common::ErrorCode::NotFound) log::error("cluster", text.status().message());
        return std::nullopt;
    }
    return std::move(*text);
}

void CheckpointStore::erase(const std::string& group_id, const std::string& pipeline) {
    std::lock_guard lock(mutex_);
    if (dir_.empty()) {
        memory_.erase(key(group_id, pipeline));
        return;
    }
    std::error_code ec;
    fs::remove(path(group_id, pipeline), ec);
}

}  // namespace varpulis::cluster
