// SPDX-License-Identifier: Apache-2.0
#pragma once

// The SASE+ matcher behind `A as a -> B where ... as b -> all C ...`, `sequence(...)` and named
// `pattern`s (vpl-language.md §1.8, with event-time `.within`).

#include <deque>
#include <map>
#include <unordered_map>
#include <optional>
#include <string>
#include <vector>

#include "varpulis/engine/operator.hpp"

namespace varpulis::engine {

struct SequenceStep {
    Symbol type = kNoSymbol;  ///< event type or stream name
    ExprNode filter;          ///< may be null
    int alias = -1;           ///< capture slot, or -1 for an unaliased step
    bool kleene = false;      ///< `all T` / `T+`: one or more
};

struct SequenceNegation {
    Symbol type = kNoSymbol;
    ExprNode filter;             ///< evaluated with the run's captures; null kills every run
    std::optional<size_t> only_before_step;  ///< `NOT X` between neighbours: only while waiting for this step
};

struct SequenceSpec {
    std::vector<SequenceStep> steps;
    std::vector<SequenceNegation> negations;
    std::vector<std::string> aliases;  ///< capture slot → alias name
    int64_t within_ns = 0;             ///< 0: no time bound
    ExprNode partition;                ///< may be null
    size_t max_runs = 10'000;          ///< per partition; the oldest run is dropped beyond it
    size_t max_runs_total = 1'000'000; ///< in all partitions; beyond it a new run is not started
    size_t max_kleene = 20;            ///< events accumulated by a Kleene step that is not the last
};

/// Matches sequences over the events routed to the stream. Its output replaces the input batch:
/// one event per completed match, with `alias_field` for every field of every aliased capture.
class SequenceOp final : public Operator {
  public:
    explicit SequenceOp(SequenceSpec spec) : spec_(std::move(spec)), no_captures_(spec_.aliases.size()) {}
    void apply(Batch& batch, OpContext& ctx) override;
    size_t held() const override;
    nlohmann::json save() const override;
    common::Status load(const nlohmann::json& state) override;
    /// Runs dropped because a partition, or all of them together, was full.
    uint64_t evicted() const override { return evicted_; }

  private:
    struct Run {
        size_t state = 0;        ///< index of the step the run waits for
        bool in_kleene = false;  ///< matched the Kleene step at `state` at least once
        size_t kleene_count = 0;
        int64_t start = 0;
        std::vector<EventPtr> captures;  ///< by alias slot
        bool dead = false;
    };

    void on_event(const EventPtr& e, OpContext& ctx, Batch& out);
    bool matches(const SequenceStep& step, const Event& e, const EventPtr* captures, OpContext& ctx) const;
    void capture(Run& run, const SequenceStep& step, const EventPtr& e) const;
    EventPtr match_event(const Run& run, const Event& last, const OpContext& ctx) const;
    void apply_negations(const Event& e, OpContext& ctx);
    void advance(Run& run, const EventPtr& e, OpContext& ctx, Batch& out);

    /// Return the output field `alias_field` for a capture slot and a field (cached: interning
    /// builds a string).
    Symbol match_field(size_t alias, Symbol field) const;

    SequenceSpec spec_;
    PartitionMap<std::vector<Run>> partitions_;
    std::string key_buffer_;
    std::vector<EventPtr> no_captures_;  ///< all null: the captures a first step is tested with
    Batch out_;
    mutable std::unordered_map<uint64_t, Symbol> match_fields_;
    uint64_t evicted_ = 0;
    size_t runs_total_ = 0;  ///< runs in every partition (held() counts them: too slow per event)
};

}  // namespace varpulis::engine
