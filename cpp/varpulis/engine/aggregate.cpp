// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/aggregate.hpp"

#include <cmath>
#include <unordered_set>

#include "varpulis/engine/value_ops.hpp"

namespace varpulis::engine {

using common::ErrorCode;
using common::Result;
using common::Status;

namespace {

enum class Fn { Count, Sum, Avg, Min, Max, Stddev, First, Last, CountDistinct, Ema };

/// Evaluates the argument on every event of the batch.
class FunctionAggregate final : public AggregateExpr {
  public:
    FunctionAggregate(Fn fn, ExprNode arg, double period) : fn_(fn), arg_(std::move(arg)), period_(period) {}

    Value compute(const Batch& batch, const OpContext& ctx) const override {
        if (fn_ == Fn::Count && !arg_) return Value(static_cast<int64_t>(batch.size()));
        EvalContext ec = ctx.eval;
        auto value_at = [&](const EventPtr& e) {
            ec.event = e.get();
            return arg_->value(ec);
        };
        switch (fn_) {
            case Fn::Count: return Value(static_cast<int64_t>(batch.size()));
            case Fn::First: return batch.empty() ? Value() : value_at(batch.front());
            case Fn::Last: return batch.empty() ? Value() : value_at(batch.back());
            case Fn::CountDistinct: {
                std::unordered_set<std::string> seen;
                for (const auto& e : batch) {
                    Value v = value_at(e);
                    if (!v.is_null()) seen.insert(std::string(v.type_name()) + ":" + v.to_source());
                }
                return Value(static_cast<int64_t>(seen.size()));
            }
            default: break;
        }
        // Numeric aggregates skip missing, non-numeric and NaN values.
        double sum = 0, mean = 0, m2 = 0, ema = 0, lo = 0, hi = 0;
        size_t n = 0;
        const double k = 2.0 / (period_ + 1.0);
        for (const auto& e : batch) {
            Value v = value_at(e);
            if (!v.is_number() || std::isnan(v.as_number())) continue;
            double x = v.as_number();
            ++n;
            sum += x;
            double delta = x - mean;  // Welford
            mean += delta / static_cast<double>(n);
            m2 += delta * (x - mean);
            ema = n == 1 ? x : x * k + ema * (1 - k);
            lo = n == 1 ? x : std::min(lo, x);
            hi = n == 1 ? x : std::max(hi, x);
        }
        switch (fn_) {
            case Fn::Sum: return Value(sum);
            case Fn::Avg: return n ? Value(sum / static_cast<double>(n)) : Value();
            case Fn::Min: return n ? Value(lo) : Value();
            case Fn::Max: return n ? Value(hi) : Value();
            case Fn::Stddev: return n >= 2 ? Value(std::sqrt(m2 / static_cast<double>(n - 1))) : Value();
            case Fn::Ema: return n ? Value(ema) : Value();
            default: return {};
        }
    }

  private:
    Fn fn_;
    ExprNode arg_;
    double period_;
};

class ConstAggregate final : public AggregateExpr {
  public:
    explicit ConstAggregate(Value v) : v_(std::move(v)) {}
    Value compute(const Batch&, const OpContext&) const override { return v_; }

  private:
    Value v_;
};

class ArithmeticAggregate final : public AggregateExpr {
  public:
    ArithmeticAggregate(vpl::BinaryOp op, std::unique_ptr<AggregateExpr> a, std::unique_ptr<AggregateExpr> b)
        : op_(op), a_(std::move(a)), b_(std::move(b)) {}
    Value compute(const Batch& batch, const OpContext& ctx) const override {
        return binary_op(op_, a_->compute(batch, ctx), b_->compute(batch, ctx));
    }

  private:
    vpl::BinaryOp op_;
    std::unique_ptr<AggregateExpr> a_, b_;
};

class NegateAggregate final : public AggregateExpr {
  public:
    explicit NegateAggregate(std::unique_ptr<AggregateExpr> a) : a_(std::move(a)) {}
    Value compute(const Batch& batch, const OpContext& ctx) const override {
        return unary_op(vpl::UnaryOp::Neg, a_->compute(batch, ctx));
    }

  private:
    std::unique_ptr<AggregateExpr> a_;
};

std::optional<Fn> function_named(const std::string& name) {
    static const std::pair<const char*, Fn> kFns[] = {
        {"count", Fn::Count}, {"sum", Fn::Sum}, {"avg", Fn::Avg}, {"min", Fn::Min}, {"max", Fn::Max},
        {"stddev", Fn::Stddev}, {"first", Fn::First}, {"last", Fn::Last}, {"count_distinct", Fn::CountDistinct},
        {"ema", Fn::Ema}};
    for (const auto& [n, fn] : kFns) {
        if (name == n) return fn;
    }
    return std::nullopt;
}

}  // namespace

Result<std::unique_ptr<AggregateExpr>> compile_aggregate(const vpl::Expr& e, const ExprScope& scope) {
    using vpl::ExprKind;
    if (e.kind == ExprKind::Literal) return std::unique_ptr<AggregateExpr>(std::make_unique<ConstAggregate>(e.value));
    if (e.kind == ExprKind::Unary && e.unary_op == vpl::UnaryOp::Neg) {
        VP_ASSIGN_OR_RETURN(auto inner, compile_aggregate(*e.children[0], scope));
        return std::unique_ptr<AggregateExpr>(std::make_unique<NegateAggregate>(std::move(inner)));
    }
    if (e.kind == ExprKind::Binary) {
        VP_ASSIGN_OR_RETURN(auto a, compile_aggregate(*e.children[0], scope));
        VP_ASSIGN_OR_RETURN(auto b, compile_aggregate(*e.children[1], scope));
        return std::unique_ptr<AggregateExpr>(std::make_unique<ArithmeticAggregate>(e.binary_op, std::move(a), std::move(b)));
    }
    auto fn = function_named(e.callee_name());
    if (!fn) return Status(ErrorCode::Invalid, "an aggregate item must be an aggregate function such as sum(x)", e.span);
    ExprNode arg;
    double period = 12;
    size_t argc = e.children.size() - 1;
    if (argc >= 1) {
        const vpl::Expr& a = *e.children[1];
        if (*fn == Fn::Count && a.callee_name() == "distinct" && a.children.size() == 2) {
            fn = Fn::CountDistinct;  // count(distinct(x))
            VP_ASSIGN_OR_RETURN(arg, compile_expr(*a.children[1], scope));
        } else {
            VP_ASSIGN_OR_RETURN(arg, compile_expr(a, scope));
        }
    }
    if (*fn == Fn::Count && argc >= 1 && *fn != Fn::CountDistinct) arg.reset();  // count(x) counts events
    if (*fn == Fn::Ema && argc == 2 && e.children[2]->kind == ExprKind::Literal && e.children[2]->value.is_number()) {
        period = e.children[2]->value.as_number();
    }
    if (!arg && *fn != Fn::Count) {
        return Status(ErrorCode::Invalid, e.callee_name() + "() needs a field argument", e.span);
    }
    return std::unique_ptr<AggregateExpr>(std::make_unique<FunctionAggregate>(*fn, std::move(arg), period));
}

void AggregateOp::apply(Batch& batch, OpContext& ctx) {
    if (batch.empty()) return;
    if (!key_) {
        EventPtr out = aggregate(batch, nullptr, ctx);
        batch.assign(1, std::move(out));
        return;
    }
    // Behind a partitioned window every event of a batch has the same key: then the batch is the
    // group, with no copy.
    partition_key(key_.get(), *batch.front(), ctx, first_key_);
    size_t same = 1;
    for (; same < batch.size(); ++same) {
        partition_key(key_.get(), *batch[same], ctx, key_buffer_);
        if (key_buffer_ != first_key_) break;
    }
    if (same == batch.size()) {
        EventPtr out = aggregate(batch, &first_key_, ctx);
        batch.assign(1, std::move(out));
        return;
    }
    std::vector<std::pair<std::string, Batch>> groups;  // in order of first appearance
    for (const auto& e : batch) {
        std::string key;
        partition_key(key_.get(), *e, ctx, key);
        auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == key; });
        if (it == groups.end()) {
            groups.emplace_back(key, Batch{e});
        } else {
            it->second.push_back(e);
        }
    }
    Batch out;
    for (const auto& [key, group] : groups) out.push_back(aggregate(group, &key, ctx));
    batch = std::move(out);
}

EventPtr AggregateOp::aggregate(const Batch& group, const std::string* partition, const OpContext& ctx) const {
    static const Symbol kPartition = intern("_partition");
    auto out = std::make_shared<Event>();
    out->type = ctx.stream_name;
    out->timestamp = group.back()->timestamp;
    out->fields.reserve(items_.size() + 1);
    for (const auto& item : items_) out->fields.emplace_back(item.name, item.expr->compute(group, ctx));
    if (partition) out->fields.emplace_back(kPartition, Value(*partition));
    return out;
}

}  // namespace varpulis::engine
