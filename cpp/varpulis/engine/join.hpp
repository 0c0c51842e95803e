// SPDX-License-Identifier: Apache-2.0
#pragma once

// `join(A, B, ...) .on(A.k == B.k) .window(d)`: a latest-per-source inner join in event time
// (vpl-language.md §1.9).

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "varpulis/engine/operator.hpp"
#include "varpulis/engine/state_budget.hpp"

namespace varpulis::engine {

struct JoinSource {
    Symbol name = kNoSymbol;   ///< the routed name (event type or stream)
    std::string label;         ///< the field prefix: the source's name in join(...)
    ExprNode key;             ///< join key on this source's events; null: every event shares one key
    ExprNode filter;          ///< inline `.where`, may be null
};

class JoinOp final : public Operator {
  public:
    /// `budget`, shared with the engine's other operators, may be null (unbounded).
    JoinOp(std::vector<JoinSource> sources, int64_t window_ns, StateBudget* budget = nullptr, size_t max_per_key = 1000)
        : sources_(std::move(sources)), window_ns_(window_ns), max_per_key_(max_per_key), budget_(budget),
          buffers_(sources_.size()) {}
    void apply(Batch& batch, OpContext& ctx) override;
    size_t held() const override;
    uint64_t evicted() const override { return evicted_; }
    nlohmann::json save() const override;
    common::Status load(const nlohmann::json& state) override;

  private:
    void on_event(const EventPtr& e, OpContext& ctx, Batch& out);
    // Every buffered event enters and leaves through these, which keep the budget's count.
    void hold(std::deque<EventPtr>& q, const EventPtr& e);
    void drop_front(std::deque<EventPtr>& q);
    void keep_to_budget(std::deque<EventPtr>& q);
    void release_all();
    EventPtr joined(const std::vector<const Event*>& parts, const OpContext& ctx) const;

    std::vector<JoinSource> sources_;
    int64_t window_ns_;
    size_t max_per_key_;
    StateBudget* budget_;
    uint64_t evicted_ = 0;
    std::vector<std::map<std::string, std::deque<EventPtr>>> buffers_;  ///< per source, per key
};

}  // namespace varpulis::engine
