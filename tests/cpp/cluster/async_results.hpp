// SPDX-License-Identifier: Apache-2.0
#pragma once

// Collecting the answers of asynchronous requests in tests, with a deadline for waiting on them.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "varpulis/cluster/http_client.hpp"

namespace varpulis::cluster {

/// How long a test waits for something that should take milliseconds.
constexpr std::chrono::milliseconds kDeadline{5000};

/// Results of asynchronous requests, one slot per request, with the number of calls per slot.
/// Callbacks hold it by shared_ptr: one may run (or be destroyed) after the test body returned.
class Collector : public std::enable_shared_from_this<Collector> {
  public:
    explicit Collector(size_t n) : results_(n), calls_(n, 0) {}

    /// Return the callback that fills slot `i`.
    HttpCallback slot(size_t i) {
        return [self = shared_from_this(), i](common::Result<HttpResult> r) {
            std::lock_guard lock(self->mutex_);
            ++self->calls_[i];
            ++self->total_;
            self->results_[i].emplace(std::move(r));
            self->cv_.notify_all();
        };
    }

    /// Wait until `n` callbacks in all have run; false when the deadline passes first.
    bool wait(size_t n, std::chrono::milliseconds deadline = kDeadline) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, deadline, [&] { return total_ >= n; });
    }

    common::Result<HttpResult> result(size_t i) {
        std::lock_guard lock(mutex_);
        if (!results_[i])
            return common::Status(common::ErrorCode::Internal, "no callback for slot " + std::to_string(i));
        return *results_[i];
    }
    int calls(size_t i) {
        std::lock_guard lock(mutex_);
        return calls_[i];
    }
    size_t total() {
        std::lock_guard lock(mutex_);
        return total_;
    }

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::optional<common::Result<HttpResult>>> results_;
    std::vector<int> calls_;
    size_t total_ = 0;
};

}  // namespace varpulis::cluster
