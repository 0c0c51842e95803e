// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <deque>
#include <map>
#include <string>

#include "varpulis/engine/operator.hpp"

namespace varpulis::engine {

/// The five window kinds of `.window(...)` (vpl-language.md §1.7.4).
struct WindowSpec {
    enum class Kind { CountTumbling, CountSliding, TimeTumbling, TimeSliding, Session };
    Kind kind = Kind::CountTumbling;
    int64_t size = 0;   ///< events (count windows) or nanoseconds (time windows, session gap)
    int64_t slide = 0;  ///< events or nanoseconds between emissions of a sliding window
};

/// `.window(...)`, one independent window per partition key when `key` is set.
class WindowOp final : public Operator {
  public:
    WindowOp(WindowSpec spec, ExprNode key) : spec_(spec), key_(std::move(key)) {}
    void apply(Batch& batch, OpContext& ctx) override;
    void flush(Batch& out, OpContext& ctx) override;
    size_t held() const override;
    nlohmann::json save() const override;
    common::Status load(const nlohmann::json& state) override;

  private:
    struct State {
        std::deque<EventPtr> events;
        int64_t start = 0;         ///< time tumbling: window start
        int64_t last_emit = 0;     ///< time sliding: time of the last emission
        int64_t since_emit = 0;    ///< count sliding: arrivals since the last emission
        bool emitted = false;
    };
    void add(const EventPtr& e, State& s, Batch& out) const;

    WindowSpec spec_;
    ExprNode key_;
    PartitionMap<State> states_;
    std::string key_buffer_;
    Batch out_;  ///< reused between calls
};

}  // namespace varpulis::engine
