// SPDX-License-Identifier: Apache-2.0
#include "varpulis/vpl/ast.hpp"

namespace varpulis::vpl {

const std::string& Expr::callee_name() const {
    static const std::string kEmpty;
    if (kind == ExprKind::Call && !children.empty() && children[0]->kind == ExprKind::Ident) {
        return children[0]->name;
    }
    return kEmpty;
}

const char* binary_op_text(BinaryOp op) {
    switch (op) {
        case BinaryOp::Add: return "+";
        case BinaryOp::Sub: return "-";
        case BinaryOp::Mul: return "*";
        case BinaryOp::Div: return "/";
        case BinaryOp::Mod: return "%";
        case BinaryOp::Pow: return "**";
        case BinaryOp::Eq: return "==";
        case BinaryOp::Ne: return "!=";
        case BinaryOp::Lt: return "<";
        case BinaryOp::Le: return "<=";
        case BinaryOp::Gt: return ">";
        case BinaryOp::Ge: return ">=";
        case BinaryOp::In: return "in";
        case BinaryOp::NotIn: return "not in";
        case BinaryOp::Is: return "is";
        case BinaryOp::IsNot: return "is not";
        case BinaryOp::And: return "and";
        case BinaryOp::Or: return "or";
        case BinaryOp::BitOr: return "|";
        case BinaryOp::BitXor: return "^";
        case BinaryOp::BitAnd: return "&";
        case BinaryOp::Shl: return "<<";
        case BinaryOp::Shr: return ">>";
        case BinaryOp::Range: return "..";
        case BinaryOp::RangeInclusive: return "..=";
    }
    return "?";
}

const char* unary_op_text(UnaryOp op) {
    switch (op) {
        case UnaryOp::Neg: return "-";
        case UnaryOp::Plus: return "+";
        case UnaryOp::BitNot: return "~";
        case UnaryOp::Not: return "not";
    }
    return "?";
}

const char* op_kind_name(OpKind kind) {
    switch (kind) {
        case OpKind::FollowedBy: return "->";
        case OpKind::Where: return "where";
        case OpKind::Filter: return "filter";
        case OpKind::Select: return "select";
        case OpKind::Window: return "window";
        case OpKind::Aggregate: return "aggregate";
        case OpKind::Having: return "having";
        case OpKind::PartitionBy: return "partition_by";
        case OpKind::OrderBy: return "order_by";
        case OpKind::Limit: return "limit";
        case OpKind::Distinct: return "distinct";
        case OpKind::Map: return "map";
        case OpKind::Tap: return "tap";
        case OpKind::Print: return "print";
        case OpKind::Log: return "log";
        case OpKind::Emit: return "emit";
        case OpKind::To: return "to";
        case OpKind::Pattern: return "pattern";
        case OpKind::Concurrent: return "concurrent";
        case OpKind::Process: return "process";
        case OpKind::OnError: return "on_error";
        case OpKind::Collect: return "collect";
        case OpKind::On: return "on";
        case OpKind::Within: return "within";
        case OpKind::Not: return "not";
        case OpKind::Fork: return "fork";
        case OpKind::Any: return "any";
        case OpKind::All: return "all";
        case OpKind::First: return "first";
        case OpKind::Watermark: return "watermark";
        case OpKind::AllowedLateness: return "allowed_lateness";
        case OpKind::TrendAggregate: return "trend_aggregate";
        case OpKind::Score: return "score";
        case OpKind::Forecast: return "forecast";
        case OpKind::Enrich: return "enrich";
        case OpKind::Context: return "context";
    }
    return "?";
}

std::optional<OpKind> op_kind_from_name(std::string_view name) {
    for (int k = 0; k <= static_cast<int>(OpKind::Context); ++k) {
        auto kind = static_cast<OpKind>(k);
        if (name == op_kind_name(kind)) return kind;
    }
    return std::nullopt;
}

const char* stmt_kind_name(const StmtNode& node) {
    static constexpr const char* kNames[] = {
        "context", "connector", "stream", "pattern", "event", "type", "variable", "config",
        "import", "fn", "if", "for", "while", "return", "break", "continue", "emit",
        "assignment", "expression"};
    static_assert(std::variant_size_v<StmtNode> == std::size(kNames));
    return kNames[node.index()];
}

}  // namespace varpulis::vpl
