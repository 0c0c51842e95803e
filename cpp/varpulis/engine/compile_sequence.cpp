// SPDX-License-Identifier: Apache-2.0
// Sequences (`A as a -> B ...`, `sequence(...)`, `all T`) and named patterns (SEQ, AND, OR, NOT)
// into SequenceOp matchers.
#include <algorithm>

#include "varpulis/engine/plan_compiler_internal.hpp"
#include "varpulis/engine/sequence.hpp"

namespace varpulis::engine::detail {

using common::ErrorCode;
using common::Result;
using common::Status;
using vpl::OpKind;

namespace {

/// Runs several sequence matchers over the same input and concatenates their matches (the
/// alternatives of `pattern P = X OR Y`).
class AnyOfOp final : public Operator {
  public:
    explicit AnyOfOp(std::vector<OperatorPtr> alternatives) : alternatives_(std::move(alternatives)) {}
    void apply(Batch& batch, OpContext& ctx) override {
        Batch out;
        for (auto& alt : alternatives_) {
            Batch copy = batch;
            alt->apply(copy, ctx);
            out.insert(out.end(), copy.begin(), copy.end());
        }
        batch = std::move(out);
    }
    size_t held() const override {
        size_t n = 0;
        for (const auto& a : alternatives_) n += a->held();
        return n;
    }
    uint64_t evicted() const override {
        uint64_t n = 0;
        for (const auto& a : alternatives_) n += a->evicted();
        return n;
    }
    nlohmann::json save() const override {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& a : alternatives_) out.push_back(a->save());
        return out;
    }
    Status load(const nlohmann::json& state) override {
        if (!state.is_array() || state.size() != alternatives_.size()) return Status(ErrorCode::Invalid, "pattern state does not match");
        for (size_t i = 0; i < alternatives_.size(); ++i) VP_RETURN_NOT_OK(alternatives_[i]->load(state[i]));
        return Status::ok();
    }

  private:
    std::vector<OperatorPtr> alternatives_;
};

Result<std::vector<std::vector<RawStep>>> pattern_alternatives(const vpl::SaseNode& n) {
    using K = vpl::SaseNode::Kind;
    auto item = [](const vpl::SaseNode& i) {
        return RawStep{i.event_type, i.filter.get(), i.alias, i.quantifier != 0, i.negated};
    };
    switch (n.kind) {
        case K::Item: return std::vector<std::vector<RawStep>>{{item(n)}};
        case K::Seq: {
            std::vector<RawStep> steps;
            for (const auto& c : n.children) steps.push_back(item(c));
            return std::vector<std::vector<RawStep>>{steps};
        }
        case K::Or: {
            std::vector<std::vector<RawStep>> out;
            for (const auto& c : n.children) {
                VP_ASSIGN_OR_RETURN(auto alts, pattern_alternatives(c));
                out.insert(out.end(), alts.begin(), alts.end());
            }
            return out;
        }
        case K::And: {
            if (n.children.size() != 2) return Status(ErrorCode::Invalid, "AND joins exactly two patterns", n.span);
            VP_ASSIGN_OR_RETURN(auto left, pattern_alternatives(n.children[0]));
            VP_ASSIGN_OR_RETURN(auto right, pattern_alternatives(n.children[1]));
            std::vector<std::vector<RawStep>> out;
            for (const auto& l : left) {
                for (const auto& r : right) {  // both, in either order
                    auto lr = l;
                    lr.insert(lr.end(), r.begin(), r.end());
                    auto rl = r;
                    rl.insert(rl.end(), l.begin(), l.end());
                    out.push_back(std::move(lr));
                    out.push_back(std::move(rl));
                }
            }
            return out;
        }
        case K::Not:
            return Status(ErrorCode::Invalid, "NOT is only supported between the steps of SEQ(...)", n.span);
    }
    return Status(ErrorCode::Invalid, "unsupported pattern", n.span);
}

/// The capture slots of a sequence: one per alias, in step order (an alias named twice has one).
std::vector<std::string> capture_slots(const std::vector<RawStep>& raw) {
    std::vector<std::string> aliases;
    for (const auto& r : raw) {
        if (!r.alias.empty() && std::find(aliases.begin(), aliases.end(), r.alias) == aliases.end()) aliases.push_back(r.alias);
    }
    return aliases;
}

/// The capture slot of `alias`, or -1 for an unaliased step.
int slot_of(const std::vector<std::string>& aliases, const std::string& alias) {
    if (alias.empty()) return -1;
    return static_cast<int>(std::find(aliases.begin(), aliases.end(), alias) - aliases.begin());
}

/// The steps of a stream's sequence source: its first event, then each `-> T` step; and the
/// longest `within` of `sequence(...)` steps.
std::vector<RawStep> sequence_steps(const vpl::StreamDecl& decl, int64_t& within) {
    const vpl::StreamSource& src = decl.source;
    std::vector<RawStep> raw;
    if (src.kind == vpl::SourceKind::Sequence) {
        for (const auto& step : src.steps) {
            raw.push_back({step.event_type, step.filter.get(), step.alias, false, false});
            if (auto d = duration_of(step.within.get())) within = std::max(within, *d);
        }
    } else {
        raw.push_back({src.name, nullptr, src.alias, src.kind == vpl::SourceKind::Kleene, false});
    }
    for (const auto& op : decl.ops) {
        if (op.kind == OpKind::FollowedBy) raw.push_back({op.event_type, op.filter.get(), op.alias, op.kleene, false});
        if (op.kind == OpKind::Window || op.kind == OpKind::Aggregate) break;
    }
    return raw;
}

/// The key of a sequence's `.partition_by(e)`, or null when it has none or it does not compile.
ExprNode key_of(const vpl::StreamOp& partition_by, const ExprScope& scope) {
    const vpl::Expr* e = positional(partition_by);
    if (!e) return nullptr;
    auto key = compile_expr(*e, scope);
    return key ? std::move(*key) : nullptr;
}

}  // namespace

Status PlanCompiler::compile_steps(const std::vector<RawStep>& raw, bool own_capture_hidden, SequenceSpec& spec,
                                   std::vector<Symbol>& inputs) const {
    spec.aliases = capture_slots(raw);
    for (const auto& r : raw) {
        int slot = slot_of(spec.aliases, r.alias);
        ExprNode filter;
        if (r.filter) {
            ExprScope sc = scope(r.alias);
            sc.captures = spec.aliases;
            if (own_capture_hidden && slot >= 0) sc.captures[static_cast<size_t>(slot)].clear();  // itself: the candidate
            VP_ASSIGN_OR_RETURN(filter, compile_expr(*r.filter, sc));
        }
        Symbol type = intern(r.type);
        inputs.push_back(type);
        if (r.negated) {
            spec.negations.push_back({type, std::move(filter), spec.steps.size()});
            continue;
        }
        SequenceStep step;
        step.type = type;
        step.kleene = r.kleene;
        step.alias = slot;
        step.filter = std::move(filter);
        spec.steps.push_back(std::move(step));
    }
    return Status::ok();
}

Result<SourceStage> PlanCompiler::compile_sequence(const vpl::StreamDecl& decl) const {
    SequenceSpec spec;
    spec.max_runs = options_.max_runs_per_partition;
    spec.max_runs_total = options_.max_runs_total;
    std::vector<RawStep> raw = sequence_steps(decl, spec.within_ns);
    std::vector<const vpl::StreamOp*> negations;
    for (const auto& op : decl.ops) {
        if (op.kind == OpKind::Within) {
            auto d = duration_of(positional(op));
            if (!d) return invalid(op, ".within() needs a duration");
            spec.within_ns = *d;
        }
        if (op.kind == OpKind::Not) negations.push_back(&op);
        if (op.kind == OpKind::PartitionBy && !spec.partition) spec.partition = key_of(op, scope());
        if (op.kind == OpKind::Window || op.kind == OpKind::Aggregate) break;  // later keys are for those
    }
    SourceStage out;
    VP_RETURN_NOT_OK(compile_steps(raw, true, spec, out.inputs));
    for (const auto* op : negations) {
        SequenceNegation neg;
        neg.type = intern(op->event_type);
        if (op->filter) {
            ExprScope sc = scope();
            sc.captures = spec.aliases;
            VP_ASSIGN_OR_RETURN(neg.filter, compile_expr(*op->filter, sc));
        }
        out.inputs.push_back(neg.type);
        spec.negations.push_back(std::move(neg));
    }
    out.stage = std::make_unique<SequenceOp>(std::move(spec));
    return out;
}

Result<SourceStage> PlanCompiler::compile_pattern(const vpl::PatternDecl& pattern) const {
    VP_ASSIGN_OR_RETURN(auto alternatives, pattern_alternatives(pattern.expr));
    SourceStage out;
    std::vector<OperatorPtr> matchers;
    for (const auto& raw : alternatives) {
        SequenceSpec spec;
        spec.within_ns = duration_of(pattern.within.get()).value_or(0);
        spec.max_runs = options_.max_runs_per_partition;
        spec.max_runs_total = options_.max_runs_total;
        if (!pattern.partition_by.empty()) spec.partition = field_key(pattern.partition_by, scope());
        // A pattern's step reads its own alias from its capture once bound (a Kleene step's latest).
        VP_RETURN_NOT_OK(compile_steps(raw, false, spec, out.inputs));
        if (spec.steps.empty()) return Status(ErrorCode::Invalid, "pattern '" + pattern.name + "' has no positive step");
        matchers.push_back(std::make_unique<SequenceOp>(std::move(spec)));
    }
    if (matchers.size() == 1) {
        out.stage = std::move(matchers[0]);
    } else {
        out.stage = std::make_unique<AnyOfOp>(std::move(matchers));
    }
    return out;
}

}  // namespace varpulis::engine::detail
