// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/coordinator_options.hpp"

namespace varpulis::cluster {

namespace {

constexpr int64_t kMaxBusyPollUs = 1'000'000;

common::Status invalid(std::string message) { return {common::ErrorCode::Invalid, std::move(message)}; }

}  // namespace

common::Status CoordinatorOptions::validate(OptionSpelling spelling) const {
    const bool flag = spelling == OptionSpelling::Flag;
    const int64_t busy_poll_us = busy_poll.count();
    if (busy_poll_us < 0 || busy_poll_us > kMaxBusyPollUs) {
        // The command line says what it read: the flag's text is this number.
        return invalid(flag ? "--busy-poll-us takes a whole number of microseconds from 0 to 1000000, not '" +
                                  std::to_string(busy_poll_us) + "'"
                            : "busy_poll_us must be from 0 to 1000000");
    }
    if (heartbeat_interval.count() <= 0 || heartbeat_timeout < heartbeat_interval) {
        return invalid(flag ? "--heartbeat-interval must be positive and --heartbeat-timeout at least as long"
                            : "heartbeat_interval must be positive and heartbeat_timeout at least as long");
    }
    if (inject_hold.count() < 0 || inject_hold > std::chrono::minutes(1)) {
        return invalid(flag ? "--inject-hold must be from 0 to 60 seconds" : "inject_hold must be from 0 to 60 seconds");
    }
    if (checkpoint_interval.count() < 0 || orphan_grace.count() < 0) {
        return invalid(flag ? "--checkpoint-interval and --orphan-grace must not be negative"
                            : "checkpoint_interval and orphan_grace must not be negative");
    }
    return common::Status::ok();
}

}  // namespace varpulis::cluster
