// SPDX-License-Identifier: Apache-2.0
// Parse tree → AST: stream declarations, their sources and operators, named patterns.
#include "varpulis/vpl/transformer_internal.hpp"

#include "misc/Interval.h"

namespace varpulis::vpl::detail {

namespace {

/// Return the original text of a rule, spaces included.
std::string original_text(antlr4::ParserRuleContext* ctx) {
    auto* input = ctx->getStart()->getInputStream();
    return input->getText(antlr4::misc::Interval(ctx->getStart()->getStartIndex(), ctx->getStop()->getStopIndex()));
}

}  // namespace

StreamDecl Transformer::stream_decl(P::StreamDeclContext* ctx) {
    StreamDecl d;
    d.name = name(ctx->name());
    if (ctx->typeExpr()) d.type = type_expr(ctx->typeExpr());
    d.source = stream_source(ctx->streamSource());
    for (auto* op : ctx->streamOp()) d.ops.push_back(stream_op(op));
    return d;
}

StreamSource Transformer::stream_source(P::StreamSourceContext* ctx) {
    StreamSource s;
    s.span = span(ctx);
    if (auto* c = dynamic_cast<P::FromSourceContext*>(ctx)) {
        s.kind = SourceKind::From;
        s.name = name(c->name(0));
        s.connector = name(c->name(1));
        for (auto* a : c->namedArg()) s.args.push_back(named_arg(a));
    } else if (auto* c = dynamic_cast<P::MergeSourceContext*>(ctx)) {
        s.kind = SourceKind::Merge;
        for (auto* i : c->inlineStream()) s.inputs.push_back(inline_stream(i));
    } else if (auto* c = dynamic_cast<P::JoinSourceContext*>(ctx)) {
        s.kind = SourceKind::Join;
        for (auto* i : c->inlineStream()) s.inputs.push_back(inline_stream(i));
    } else if (auto* c = dynamic_cast<P::SequenceSourceContext*>(ctx)) {
        s.kind = SourceKind::Sequence;
        for (auto* step : c->sequenceStep()) s.steps.push_back(sequence_step(step));
    } else if (auto* c = dynamic_cast<P::TimerSourceContext*>(ctx)) {
        s.kind = SourceKind::Timer;
        for (auto& a : op_args(c->opArgs())) s.args.push_back({a.name, a.value, a.span});
    } else if (auto* c = dynamic_cast<P::KleeneSourceContext*>(ctx)) {
        s.kind = SourceKind::Kleene;
        s.name = name(c->name(0));
        if (c->AS()) s.alias = name(c->name(1));
    } else if (auto* c = dynamic_cast<P::NamedSourceContext*>(ctx)) {
        s.kind = SourceKind::Named;
        s.name = name(c->name(0));
        if (c->AS()) s.alias = name(c->name(1));
    }
    return s;
}

InlineStream Transformer::inline_stream(P::InlineStreamContext* ctx) {
    InlineStream i;
    i.span = span(ctx);
    i.name = name(ctx->name(0));
    i.source = i.name;
    if (ctx->STREAM()) {
        i.is_inline = true;
        i.source = name(ctx->name(1));
        for (auto* op : ctx->streamOp()) i.ops.push_back(stream_op(op));
    }
    return i;
}

SequenceStep Transformer::sequence_step(P::SequenceStepContext* ctx) {
    SequenceStep s;
    s.span = span(ctx);
    s.alias = any_name(ctx->anyName());
    s.event_type = name(ctx->name());
    if (ctx->stepFilter()) s.filter = expr(ctx->stepFilter()->expr());
    if (ctx->WITHIN()) s.within = expr(ctx->expr());
    return s;
}

void Transformer::step_clauses(const std::vector<P::StepClauseContext*>& clauses, StreamOp& op) {
    for (auto* clause : clauses) {
        if (clause->stepFilter()) {
            if (op.filter) error(span(clause), "a step has at most one 'where' clause", "combine them with 'and'");
            op.filter = expr(clause->stepFilter()->expr());
        } else {
            if (!op.alias.empty()) error(span(clause), "a step has at most one 'as' alias");
            op.alias = name(clause->name());
        }
    }
}

StreamOp Transformer::stream_op(P::StreamOpContext* ctx) {
    StreamOp op;
    op.span = span(ctx);
    if (auto* c = dynamic_cast<P::FollowedByOpContext*>(ctx)) {
        op.kind = OpKind::FollowedBy;
        op.kleene = c->ALL() != nullptr;
        op.event_type = name(c->name());
        step_clauses(c->stepClause(), op);
    } else if (auto* c = dynamic_cast<P::EmitOpContext*>(ctx)) {
        op.kind = OpKind::Emit;
        if (c->name()) op.emit_as = name(c->name());
        if (c->opArgs()) op.args = op_args(c->opArgs());
    } else if (auto* c = dynamic_cast<P::NotOpContext*>(ctx)) {
        op.kind = OpKind::Not;
        op.event_type = name(c->name());
        if (c->stepFilter()) op.filter = expr(c->stepFilter()->expr());
    } else if (auto* c = dynamic_cast<P::GenericOpContext*>(ctx)) {
        std::string op_name = any_name(c->anyName());
        auto kind = op_kind_from_name(op_name);
        if (!kind || *kind == OpKind::FollowedBy) {
            diagnostics_.push_back({Severity::Error, "E091", "unknown stream operator '." + op_name + "'",
                                    "see the operator catalogue in docs/vpl.md", span(c->anyName())});
            kind = OpKind::Where;
        }
        op.kind = *kind;
        if (c->opArgs()) op.args = op_args(c->opArgs());
    }
    return op;
}

std::vector<OpArg> Transformer::op_args(P::OpArgsContext* ctx) {
    std::vector<OpArg> out;
    if (!ctx) return out;
    for (auto* arg : ctx->opArg()) {
        OpArg a;
        a.span = span(arg);
        if (auto* c = dynamic_cast<P::OpChainArgContext*>(arg)) {
            a.name = any_name(c->anyName());
            for (auto* op : c->streamOp()) a.chain.push_back(stream_op(op));
        } else if (auto* c = dynamic_cast<P::NamedOpArgContext*>(arg)) {
            a.name = any_name(c->anyName());
            a.value = expr(c->expr());
        } else if (auto* c = dynamic_cast<P::LogicOpArgContext*>(arg)) {
            a.name = any_name(c->anyName());
            a.logic = original_text(c->patternLogic());
        } else if (auto* c = dynamic_cast<P::PositionalOpArgContext*>(arg)) {
            a.value = expr(c->expr());
            a.has_order = c->order != nullptr;
            a.descending = a.has_order && c->order->getType() == P::DESC;
        }
        out.push_back(std::move(a));
    }
    return out;
}

PatternDecl Transformer::pattern_decl(P::PatternDeclContext* ctx) {
    PatternDecl d;
    auto names = ctx->name();
    d.name = name(names[0]);
    d.expr = sase_expr(ctx->saseExpr());
    if (ctx->WITHIN()) d.within = expr(ctx->expr());
    if (ctx->PARTITION()) d.partition_by = name(names[1]);
    return d;
}

SaseNode Transformer::sase_expr(P::SaseExprContext* ctx) {
    auto terms = ctx->saseAnd();
    if (terms.size() == 1) return sase_and(terms[0]);
    SaseNode n;
    n.kind = SaseNode::Kind::Or;
    n.span = span(ctx);
    for (auto* t : terms) n.children.push_back(sase_and(t));
    return n;
}

SaseNode Transformer::sase_and(P::SaseAndContext* ctx) {
    auto terms = ctx->saseNot();
    if (terms.size() == 1) return sase_not(terms[0]);
    SaseNode n;
    n.kind = SaseNode::Kind::And;
    n.span = span(ctx);
    for (auto* t : terms) n.children.push_back(sase_not(t));
    return n;
}

SaseNode Transformer::sase_not(P::SaseNotContext* ctx) {
    SaseNode inner;
    auto* term = ctx->saseTerm();
    if (auto* seq = dynamic_cast<P::SeqTermContext*>(term)) {
        inner.kind = SaseNode::Kind::Seq;
        inner.span = span(seq);
        for (auto* item : seq->saseItem()) inner.children.push_back(sase_item(item));
    } else if (auto* paren = dynamic_cast<P::ParenTermContext*>(term)) {
        inner = sase_expr(paren->saseExpr());
    } else {
        inner = sase_item(dynamic_cast<P::ItemTermContext*>(term)->saseItem());
    }
    if (!ctx->NOT_KW()) return inner;
    SaseNode n;
    n.kind = SaseNode::Kind::Not;
    n.span = span(ctx);
    n.children.push_back(std::move(inner));
    return n;
}

SaseNode Transformer::sase_item(P::SaseItemContext* ctx) {
    SaseNode n;
    n.kind = SaseNode::Kind::Item;
    n.span = span(ctx);
    n.negated = ctx->NOT_KW() != nullptr;
    n.event_type = name(ctx->name());
    if (ctx->kleene) n.quantifier = ctx->kleene->getText()[0];
    StreamOp clauses;
    step_clauses(ctx->stepClause(), clauses);
    n.filter = clauses.filter;
    n.alias = clauses.alias;
    return n;
}

}  // namespace varpulis::vpl::detail
