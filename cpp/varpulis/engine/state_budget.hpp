// SPDX-License-Identifier: Apache-2.0
#pragma once

// The memory one engine's windows, joins and distinct sets may hold (EngineOptions::
// max_state_bytes). Time windows and partitions by unique keys would otherwise grow without end,
// and a checkpoint of what they hold must fit what restore takes back. An engine runs on one
// thread, so its operators share one budget without atomics; a program with contexts splits its
// budget between its context engines.

#include <cstddef>

#include "varpulis/common/status.hpp"
#include "varpulis/engine/event.hpp"

namespace varpulis::engine {

class StateBudget {
  public:
    explicit StateBudget(size_t max_bytes) : max_(max_bytes) {}
    void hold(size_t bytes) { held_ += bytes; }
    void release(size_t bytes) { held_ -= bytes < held_ ? bytes : held_; }
    /// True when what is held is past the budget: the operator that just took more gives some up.
    bool over() const { return held_ > max_; }
    size_t held() const { return held_; }
    size_t max() const { return max_; }

  private:
    size_t max_;
    size_t held_ = 0;
};

/// The refusal of a restore whose state is more than the budget takes.
common::Status over_budget_error(const StateBudget& budget);

/// An estimate of what an event holds in memory and in a checkpoint: its fixed parts, each
/// field's name and value, and the strings, arrays and maps inside (nested ones to a bounded
/// depth, past which each counts as its fixed size).
size_t event_bytes(const Event& e);
/// The same for one value.
size_t value_bytes(const Value& v);

}  // namespace varpulis::engine
