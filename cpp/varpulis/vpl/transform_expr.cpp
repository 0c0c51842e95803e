// SPDX-License-Identifier: Apache-2.0
// Parse tree → AST: expressions, literals, names.
#include <charconv>
#include <cmath>
#include <ctime>

#include "varpulis/common/time.hpp"
#include "varpulis/vpl/transformer_internal.hpp"

namespace varpulis::vpl::detail {

namespace {

ExprPtr make(ExprKind kind, Span span) {
    auto e = std::make_shared<Expr>();
    e->kind = kind;
    e->span = span;
    return e;
}

ExprPtr make_binary(BinaryOp op, ExprPtr lhs, ExprPtr rhs, Span span) {
    auto e = make(ExprKind::Binary, span);
    e->binary_op = op;
    e->children = {std::move(lhs), std::move(rhs)};
    return e;
}

BinaryOp binary_op_for(size_t token_type) {
    switch (token_type) {
        case P::OR: return BinaryOp::Or;
        case P::AND: return BinaryOp::And;
        case P::PIPE: return BinaryOp::BitOr;
        case P::CARET: return BinaryOp::BitXor;
        case P::AMP: return BinaryOp::BitAnd;
        case P::SHL: return BinaryOp::Shl;
        case P::SHR: return BinaryOp::Shr;
        case P::PLUS: return BinaryOp::Add;
        case P::MINUS: return BinaryOp::Sub;
        case P::STAR: return BinaryOp::Mul;
        case P::SLASH: return BinaryOp::Div;
        case P::PERCENT: return BinaryOp::Mod;
        default: return BinaryOp::Add;
    }
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

/// Parse `@YYYY-MM-DD[THH:MM:SS[.fff][Z|±HH:MM]]` (the lexer already checked the shape).
std::optional<int64_t> parse_timestamp(std::string_view s) { return common::parse_rfc3339(s.substr(1)); }

}  // namespace

std::string decode_string_escapes(std::string_view body) {
    std::string out;
    out.reserve(body.size());
    for (size_t i = 0; i < body.size(); ++i) {
        char c = body[i];
        if (c != '\\' || i + 1 == body.size()) {
            out += c;
            continue;
        }
        char n = body[++i];
        switch (n) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case '0': out += '\0'; break;
            case '"': out += '"'; break;
            case '\'': out += '\''; break;
            case '\\': out += '\\'; break;
            case 'u': {
                uint32_t cp = 0;
                size_t j = i + 1;
                for (; j < body.size() && j < i + 5 && std::isxdigit(static_cast<unsigned char>(body[j])); ++j) {
                    cp = cp * 16 + static_cast<uint32_t>(std::stoi(std::string(1, body[j]), nullptr, 16));
                }
                if (j == i + 5) {
                    append_utf8(out, cp);
                    i = j - 1;
                } else {
                    out += "\\u";
                }
                break;
            }
            default:
                out += '\\';
                out += n;
        }
    }
    return out;
}

Span Transformer::span(antlr4::Token* token) const {
    if (token == nullptr) return {};
    auto line = static_cast<uint32_t>(token->getLine());
    auto col = static_cast<uint32_t>(token->getCharPositionInLine() + 1);
    Span s = source_.to_original(line, col);
    auto len = static_cast<uint32_t>(token->getText().size());
    s.end_column = s.column + (len > 0 ? len - 1 : 0);
    return s;
}

Span Transformer::span(antlr4::ParserRuleContext* ctx) const {
    Span s = span(ctx->getStart());
    Span e = span(ctx->getStop());
    if (e.known() && ctx->getStop()->getType() != antlr4::Token::EOF) {
        s.end_line = e.end_line;
        s.end_column = e.end_column;
    }
    return s;
}

void Transformer::error(const Span& at, std::string message, std::string hint) {
    diagnostics_.push_back({Severity::Error, "E000", std::move(message), std::move(hint), at});
}

std::string Transformer::name(P::NameContext* ctx) { return ctx ? ctx->getText() : std::string(); }
std::string Transformer::any_name(P::AnyNameContext* ctx) { return ctx ? ctx->getText() : std::string(); }

std::string Transformer::string_literal(antlr4::Token* token) {
    std::string text = token->getText();
    return decode_string_escapes(std::string_view(text).substr(1, text.size() - 2));
}

NamedArg Transformer::named_arg(P::NamedArgContext* ctx) {
    return {any_name(ctx->anyName()), expr(ctx->expr()), span(ctx)};
}

ExprPtr Transformer::expr(P::ExprContext* ctx) {
    if (ctx->lambda()) return lambda(ctx->lambda());
    ExprPtr lhs = or_expr(ctx->orExpr(0));
    if (!ctx->rangeOp) return lhs;
    BinaryOp op = ctx->rangeOp->getType() == P::DOTDOTEQ ? BinaryOp::RangeInclusive : BinaryOp::Range;
    return make_binary(op, std::move(lhs), or_expr(ctx->orExpr(1)), span(ctx));
}

ExprPtr Transformer::lambda(P::LambdaContext* ctx) {
    auto e = make(ExprKind::Lambda, span(ctx));
    for (auto* n : ctx->name()) e->names.push_back(name(n));
    auto* body = ctx->lambdaBody();
    for (auto* s : body->lambdaStatement()) {
        auto stmt = std::make_shared<Stmt>();
        stmt->span = span(s);
        if (s->varDecl()) {
            stmt->node = var_decl(s->varDecl());
        } else {
            stmt->node = assignment(s->assignment());
        }
        e->block.push_back(std::move(stmt));
    }
    e->children.push_back(expr(body->expr()));
    return e;
}

ExprPtr Transformer::binary_chain(antlr4::ParserRuleContext* ctx) {
    ExprPtr result;
    BinaryOp pending = BinaryOp::Add;
    size_t operands = 0;
    for (auto* child : ctx->children) {
        if (auto* term = dynamic_cast<antlr4::tree::TerminalNode*>(child)) {
            pending = binary_op_for(term->getSymbol()->getType());
            continue;
        }
        ExprPtr operand = any_expr(child);
        if (++operands > kMaxChain) {
            error(span(ctx), "expression has more than " + std::to_string(kMaxChain) + " operators in a row",
                  "split it with variables or functions");
            return result;
        }
        result = result ? make_binary(pending, std::move(result), std::move(operand), span(ctx)) : std::move(operand);
    }
    return result;
}

ExprPtr Transformer::any_expr(antlr4::tree::ParseTree* tree) {
    if (auto* c = dynamic_cast<P::AndExprContext*>(tree)) return and_expr(c);
    if (auto* c = dynamic_cast<P::NotExprContext*>(tree)) return not_expr(c);
    if (auto* c = dynamic_cast<P::ComparisonContext*>(tree)) return comparison(c);
    if (auto* c = dynamic_cast<P::AdditiveContext*>(tree)) return additive(c);
    if (auto* c = dynamic_cast<P::PowerContext*>(tree)) return power(c);
    if (auto* c = dynamic_cast<P::UnaryContext*>(tree)) return unary(c);
    if (auto* c = dynamic_cast<P::PostfixContext*>(tree)) return postfix(c);
    if (auto* c = dynamic_cast<P::ExprContext*>(tree)) return expr(c);
    // bitOr, bitXor, bitAnd, shift and multiplicative share the chain shape.
    return binary_chain(dynamic_cast<antlr4::ParserRuleContext*>(tree));
}

ExprPtr Transformer::or_expr(P::OrExprContext* ctx) { return binary_chain(ctx); }
ExprPtr Transformer::and_expr(P::AndExprContext* ctx) { return binary_chain(ctx); }
ExprPtr Transformer::additive(P::AdditiveContext* ctx) { return binary_chain(ctx); }

ExprPtr Transformer::not_expr(P::NotExprContext* ctx) {
    if (!ctx->NOT()) return comparison(ctx->comparison());
    auto e = make(ExprKind::Unary, span(ctx));
    e->unary_op = UnaryOp::Not;
    e->children.push_back(not_expr(ctx->notExpr()));
    return e;
}

ExprPtr Transformer::comparison(P::ComparisonContext* ctx) {
    ExprPtr lhs = binary_chain(ctx->bitOr(0));
    auto* op = ctx->compareOp();
    if (!op) return lhs;
    BinaryOp bop = BinaryOp::Eq;
    if (op->EQ()) bop = BinaryOp::Eq;
    else if (op->NEQ()) bop = BinaryOp::Ne;
    else if (op->LT()) bop = BinaryOp::Lt;
    else if (op->LE()) bop = BinaryOp::Le;
    else if (op->GT()) bop = BinaryOp::Gt;
    else if (op->GE()) bop = BinaryOp::Ge;
    else if (op->IN()) bop = op->NOT() ? BinaryOp::NotIn : BinaryOp::In;
    else if (op->IS()) bop = op->NOT() ? BinaryOp::IsNot : BinaryOp::Is;
    return make_binary(bop, std::move(lhs), binary_chain(ctx->bitOr(1)), span(ctx));
}

ExprPtr Transformer::power(P::PowerContext* ctx) {
    ExprPtr base = unary(ctx->unary());
    if (!ctx->power()) return base;
    return make_binary(BinaryOp::Pow, std::move(base), power(ctx->power()), span(ctx));
}

ExprPtr Transformer::unary(P::UnaryContext* ctx) {
    if (!ctx->op) return postfix(ctx->postfix());
    auto e = make(ExprKind::Unary, span(ctx));
    switch (ctx->op->getType()) {
        case P::MINUS: e->unary_op = UnaryOp::Neg; break;
        case P::PLUS: e->unary_op = UnaryOp::Plus; break;
        default: e->unary_op = UnaryOp::BitNot; break;
    }
    e->children.push_back(unary(ctx->unary()));
    return e;
}

ExprPtr Transformer::postfix(P::PostfixContext* ctx) {
    ExprPtr e = primary(ctx->primary());
    for (auto* op : ctx->postfixOp()) {
        Span s = span(ctx);
        Span end = span(op);
        s.end_line = end.end_line;
        s.end_column = end.end_column;
        ExprPtr next;
        if (auto* m = dynamic_cast<P::MemberOpContext*>(op)) {
            next = make(ExprKind::Member, s);
            next->name = any_name(m->anyName());
            next->children.push_back(std::move(e));
        } else if (auto* om = dynamic_cast<P::OptionalMemberOpContext*>(op)) {
            next = make(ExprKind::OptionalMember, s);
            next->name = any_name(om->anyName());
            next->children.push_back(std::move(e));
        } else if (auto* sl = dynamic_cast<P::SliceOpContext*>(op)) {
            next = make(ExprKind::Slice, s);
            next->children = {std::move(e), sl->lo ? additive(sl->lo) : nullptr, sl->hi ? additive(sl->hi) : nullptr};
        } else if (auto* ix = dynamic_cast<P::IndexOpContext*>(op)) {
            next = make(ExprKind::Index, s);
            next->children = {std::move(e), expr(ix->expr())};
        } else if (auto* call = dynamic_cast<P::CallOpContext*>(op)) {
            next = make(ExprKind::Call, s);
            next->children.push_back(std::move(e));
            for (auto* arg : call->callArg()) {
                next->names.push_back(arg->anyName() ? any_name(arg->anyName()) : std::string());
                next->children.push_back(expr(arg->expr()));
            }
        }
        e = std::move(next);
    }
    return e;
}

ExprPtr Transformer::primary(P::PrimaryContext* ctx) {
    if (auto* c = dynamic_cast<P::LiteralExprContext*>(ctx)) return literal(c->literal());
    if (auto* c = dynamic_cast<P::IdentExprContext*>(ctx)) {
        auto e = make(ExprKind::Ident, span(ctx));
        e->name = name(c->name());
        return e;
    }
    if (auto* c = dynamic_cast<P::ParenExprContext*>(ctx)) return expr(c->expr());
    if (auto* c = dynamic_cast<P::IfExprContext*>(ctx)) {
        auto e = make(ExprKind::If, span(ctx));
        e->children = {expr(c->expr(0)), expr(c->expr(1)), expr(c->expr(2))};
        return e;
    }
    if (auto* c = dynamic_cast<P::ArrayExprContext*>(ctx)) {
        auto e = make(ExprKind::Array, span(ctx));
        for (auto* item : c->expr()) e->children.push_back(expr(item));
        return e;
    }
    auto* c = dynamic_cast<P::MapExprContext*>(ctx);
    auto e = make(ExprKind::Map, span(ctx));
    for (auto* entry : c->mapEntry()) {
        e->names.push_back(entry->STRING() ? string_literal(entry->STRING()->getSymbol()) : any_name(entry->anyName()));
        e->children.push_back(expr(entry->expr()));
    }
    return e;
}

ExprPtr Transformer::literal(P::LiteralContext* ctx) {
    auto e = make(ExprKind::Literal, span(ctx));
    std::string text = ctx->getText();
    if (ctx->INT()) {
        int64_t v = 0;
        auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc()) error(e->span, "integer literal " + text + " is out of range", "integers are 64-bit");
        e->value = Value(v);
    } else if (ctx->FLOAT()) {
        double v = 0;
        std::from_chars(text.data(), text.data() + text.size(), v);
        if (!std::isfinite(v)) error(e->span, "float literal " + text + " is out of range");
        e->value = Value(v);
    } else if (ctx->DURATION()) {
        size_t unit_at = text.find_first_not_of("0123456789");
        std::string_view unit = std::string_view(text).substr(unit_at);
        int64_t scale = unit == "ns" ? 1 : unit == "us" ? 1'000 : unit == "ms" ? 1'000'000
                      : unit == "s" ? 1'000'000'000LL : unit == "m" ? 60'000'000'000LL
                      : unit == "h" ? 3'600'000'000'000LL : 86'400'000'000'000LL;
        int64_t count = 0;
        auto [p, ec] = std::from_chars(text.data(), text.data() + unit_at, count);
        if (ec != std::errc() || count > INT64_MAX / scale) {
            error(e->span, "duration " + text + " is out of range", "durations are at most about 292 years");
            count = 0;
        }
        e->value = Value(common::Duration{count * scale});
    } else if (ctx->STRING()) {
        e->value = Value(string_literal(ctx->STRING()->getSymbol()));
    } else if (ctx->TIMESTAMP()) {
        auto ns = parse_timestamp(text);
        if (!ns) error(e->span, "invalid timestamp " + text, "write @YYYY-MM-DD or @YYYY-MM-DDTHH:MM:SSZ");
        e->value = Value(common::Timestamp{ns.value_or(0)});
    } else if (ctx->KW_TRUE() || ctx->KW_FALSE()) {
        e->value = Value(ctx->KW_TRUE() != nullptr);
    }
    return e;
}

TypeExpr Transformer::type_expr(P::TypeExprContext* ctx) {
    TypeExpr t;
    auto* core = ctx->typeCore();
    t.span = span(ctx);
    t.optional = ctx->QUESTION() != nullptr;
    if (auto* a = dynamic_cast<P::ArrayTypeContext*>(core)) {
        t.kind = TypeExpr::Kind::Array;
        t.args.push_back(type_expr(a->typeExpr()));
    } else if (auto* m = dynamic_cast<P::MapTypeContext*>(core)) {
        t.kind = TypeExpr::Kind::Map;
        t.args = {type_expr(m->typeExpr(0)), type_expr(m->typeExpr(1))};
    } else if (auto* tu = dynamic_cast<P::TupleTypeContext*>(core)) {
        t.kind = TypeExpr::Kind::Tuple;
        for (auto* item : tu->typeExpr()) t.args.push_back(type_expr(item));
    } else if (auto* n = dynamic_cast<P::NamedTypeContext*>(core)) {
        t.name = name(n->name());
        if (n->typeExpr()) t.args.push_back(type_expr(n->typeExpr()));
    }
    return t;
}

}  // namespace varpulis::vpl::detail
