// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

#include "varpulis/engine/operator.hpp"
#include "varpulis/vpl/ast.hpp"

namespace varpulis::engine {

/// One aggregate expression: a function over the batch (`sum(price * volume)`), a constant, or
/// arithmetic between aggregates (`max(p) - min(p)`).
class AggregateExpr {
  public:
    virtual ~AggregateExpr() = default;
    virtual Value compute(const Batch& batch, const OpContext& ctx) const = 0;
};

/// `.aggregate(alias: agg, ...)`: the batch becomes one event per partition group (in order of
/// first appearance), with `_partition` when partitioned. Its time is the last event's time.
class AggregateOp final : public Operator {
  public:
    struct Item {
        Symbol name;
        std::unique_ptr<AggregateExpr> expr;
    };
    AggregateOp(std::vector<Item> items, ExprNode key) : items_(std::move(items)), key_(std::move(key)) {}
    void apply(Batch& batch, OpContext& ctx) override;

  private:
    EventPtr aggregate(const Batch& group, const std::string* partition, const OpContext& ctx) const;

    std::vector<Item> items_;
    ExprNode key_;
    std::string first_key_, key_buffer_;  ///< reused by apply: keys are computed per event
};

/// Compile the aggregate expression of one `.aggregate` item.
common::Result<std::unique_ptr<AggregateExpr>> compile_aggregate(const vpl::Expr& e, const ExprScope& scope);

}  // namespace varpulis::engine
