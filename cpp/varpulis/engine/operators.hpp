// SPDX-License-Identifier: Apache-2.0
#pragma once

// The stateless and simple stateful operators: where, select, emit, print, log, distinct,
// limit, to, process, and the input filter of merge(...).

#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "varpulis/engine/function.hpp"
#include "varpulis/engine/operator.hpp"
#include "varpulis/engine/sink.hpp"
#include "varpulis/engine/state_budget.hpp"

namespace varpulis::engine {

/// `.where(c)`, `.filter(c)`, `.having(c)`: keep the events for which c is true.
class WhereOp final : public Operator {
  public:
    explicit WhereOp(ExprNode cond) : cond_(std::move(cond)) {}
    void apply(Batch& batch, OpContext& ctx) override;

  private:
    ExprNode cond_;
};

/// A named output field: `name: expr`.
struct FieldItem {
    Symbol name;
    ExprNode value;
};

/// `.select(a, b: e)`: same type and time, only the listed fields (null ones omitted).
class SelectOp final : public Operator {
  public:
    explicit SelectOp(std::vector<FieldItem> items) : items_(std::move(items)) {}
    void apply(Batch& batch, OpContext& ctx) override;

  private:
    std::vector<FieldItem> items_;
};

/// `.emit(k: e, ...)`: new events typed by the stream name with exactly these fields (a null
/// value, such as a missing field, omits the field).
class EmitOp final : public Operator {
  public:
    explicit EmitOp(std::vector<FieldItem> items) : items_(std::move(items)) {}
    void apply(Batch& batch, OpContext& ctx) override;

  private:
    std::vector<FieldItem> items_;
};

/// `.print(e, ...)`: `[PRINT] v1 v2` on standard output (or the whole event); pass-through.
class PrintOp final : public Operator {
  public:
    explicit PrintOp(std::vector<ExprNode> items) : items_(std::move(items)) {}
    void apply(Batch& batch, OpContext& ctx) override;

  private:
    std::vector<ExprNode> items_;
};

/// `.log(level:, message:, data:)`: a log line on standard error; pass-through.
class LogOp final : public Operator {
  public:
    LogOp(std::string level, std::string message, ExprNode data)
        : level_(std::move(level)), message_(std::move(message)), data_(std::move(data)) {}
    void apply(Batch& batch, OpContext& ctx) override;

  private:
    std::string level_, message_;
    ExprNode data_;
};

/// `.distinct([e])`: drop events whose key was seen before; remembers the last `capacity` keys.
class DistinctOp final : public Operator {
  public:
    /// `budget`, shared with the engine's other operators, may be null (unbounded).
    DistinctOp(ExprNode key, size_t capacity, StateBudget* budget = nullptr)
        : key_(std::move(key)), capacity_(capacity), budget_(budget) {}
    void apply(Batch& batch, OpContext& ctx) override;
    size_t held() const override { return order_.size(); }
    uint64_t evicted() const override { return evicted_; }
    nlohmann::json save() const override;
    common::Status load(const nlohmann::json& state) override;

  private:
    void remember(std::string key);
    void forget_oldest();

    ExprNode key_;
    size_t capacity_;
    StateBudget* budget_;
    uint64_t evicted_ = 0;  ///< keys forgotten at the state budget (capacity is the program's own)
    std::list<std::string> order_;  ///< least recently seen first
    std::unordered_map<std::string, std::list<std::string>::iterator> seen_;
};

/// `.limit(n)` and `.first()`: the first n events over the stream's lifetime.
class LimitOp final : public Operator {
  public:
    explicit LimitOp(int64_t n) : remaining_(n) {}
    void apply(Batch& batch, OpContext& ctx) override;
    nlohmann::json save() const override { return {{"remaining", remaining_}}; }
    common::Status load(const nlohmann::json& state) override;

  private:
    int64_t remaining_;
};

/// The sink a `.to()` sends to: empty when compiled, bound when the runtime opens the plan's
/// sinks (so compiling opens no connection), before any event flows.
struct SinkSlot {
    std::shared_ptr<Sink> sink;
};

/// `.to(Connector, topic: "t")`: send every event to the slot's sink; pass-through.
class ToOp final : public Operator {
  public:
    ToOp(std::shared_ptr<const SinkSlot> slot, std::string topic) : slot_(std::move(slot)), topic_(std::move(topic)) {}
    void apply(Batch& batch, OpContext& ctx) override;
    void flush(Batch& out, OpContext& ctx) override;

  private:
    std::shared_ptr<const SinkSlot> slot_;
    std::string topic_;
};

/// `.process(f(args))`: run the call once per event with an emit collector; the batch becomes
/// the emitted events, in order.
class ProcessOp final : public Operator {
  public:
    explicit ProcessOp(ExprNode call) : call_(std::move(call)) {}
    void apply(Batch& batch, OpContext& ctx) override;

  private:
    ExprNode call_;
};

/// The input of `merge(...)`: an event passes when one of the inputs naming its type accepts it.
class MergeFilterOp final : public Operator {
  public:
    struct Input {
        Symbol type;
        ExprNode filter;  ///< may be null
    };
    explicit MergeFilterOp(std::vector<Input> inputs) : inputs_(std::move(inputs)) {}
    void apply(Batch& batch, OpContext& ctx) override;

  private:
    std::vector<Input> inputs_;
};

}  // namespace varpulis::engine
