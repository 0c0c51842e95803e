// SPDX-License-Identifier: Apache-2.0
// Program-level validation: declarations, statement placement, variables, calls.
#include "varpulis/vpl/validate.hpp"

#include "varpulis/vpl/ast_walk.hpp"
#include "varpulis/vpl/builtins.hpp"
#include "varpulis/vpl/validator_internal.hpp"

namespace varpulis::vpl {

Diagnostics validate(const Program& program) { return detail::Validator(program).run(); }

namespace detail {

Diagnostics Validator::run() {
    collect_symbols();
    check_block(program_.statements, StmtPlace{});
    return std::move(out_);
}

void Validator::error(const char* code, const Span& at, std::string message, std::string hint) {
    out_.push_back({Severity::Error, code, std::move(message), std::move(hint), at});
}

void Validator::warning(const char* code, const Span& at, std::string message, std::string hint) {
    out_.push_back({Severity::Warning, code, std::move(message), std::move(hint), at});
}

void Validator::declare(std::map<std::string, Span>& table, const std::string& name, const Span& at,
                        const char* code, const char* what) {
    auto [it, fresh] = table.emplace(name, at);
    if (!fresh) {
        error(code, at, std::string(what) + " '" + name + "' is already declared",
              "first declared on line " + std::to_string(it->second.line));
    }
}

void Validator::collect_symbols() {
    for (const auto& s : program_.statements) {
        std::visit(
            [&](const auto& n) {
                using T = std::decay_t<decltype(n)>;
                if constexpr (std::is_same_v<T, EventDecl>) declare(events_, n.name, s->span, "E001", "event");
                if constexpr (std::is_same_v<T, StreamDecl>) declare(streams_, n.name, s->span, "E002", "stream");
                if constexpr (std::is_same_v<T, FnDecl>) {
                    declare(fns_, n.name, s->span, "E003", "function");
                    fn_params_[n.name] = n.params.size();
                }
                if constexpr (std::is_same_v<T, ConnectorDecl>) {
                    declare(connectors_, n.name, s->span, "E004", "connector");
                    connector_kinds_[n.name] = n.kind;
                }
                if constexpr (std::is_same_v<T, ContextDecl>) declare(contexts_, n.name, s->span, "E005", "context");
                if constexpr (std::is_same_v<T, PatternDecl>) declare(patterns_, n.name, s->span, "E006", "pattern");
                if constexpr (std::is_same_v<T, TypeDecl>) declare(types_, n.name, s->span, "E007", "type alias");
                if constexpr (std::is_same_v<T, VarDecl>) globals_.emplace(n.name, n.kind);
            },
            s->node);
    }
}

bool Validator::is_declared_name(const std::string& name) const {
    return events_.count(name) || streams_.count(name) || patterns_.count(name);
}

void Validator::check_block(const Block& block, StmtPlace place) {
    for (const auto& s : block) check_statement(*s, place);
}

void Validator::check_statement(const Stmt& stmt, StmtPlace place) {
    const char* kind = stmt_kind_name(stmt.node);
    std::visit(
        [&](const auto& n) {
            using T = std::decay_t<decltype(n)>;
            constexpr bool kDeclaration =
                std::is_same_v<T, ContextDecl> || std::is_same_v<T, ConnectorDecl> || std::is_same_v<T, StreamDecl> ||
                std::is_same_v<T, PatternDecl> || std::is_same_v<T, EventDecl> || std::is_same_v<T, TypeDecl> ||
                std::is_same_v<T, ConfigDecl> || std::is_same_v<T, ImportStmt> || std::is_same_v<T, FnDecl>;
            constexpr bool kImperative =
                std::is_same_v<T, IfStmt> || std::is_same_v<T, ForStmt> || std::is_same_v<T, WhileStmt> ||
                std::is_same_v<T, ReturnStmt> || std::is_same_v<T, BreakStmt> || std::is_same_v<T, ContinueStmt> ||
                std::is_same_v<T, EmitStmt> || std::is_same_v<T, ExprStmt>;
            if (kDeclaration && !place.top_level) {
                error("E092", stmt.span, std::string(kind) + " declarations are only allowed at the top level",
                      "move it out of the function");
                return;
            }
            if (kImperative && place.top_level) {
                std::string hint = std::is_same_v<T, ExprStmt>
                                       ? "a top-level line must be a declaration such as stream, let or fn"
                                       : "put it inside a function (fn name(...):)";
                error("E092", stmt.span, std::string("a top-level ") + kind + " statement is not allowed", hint);
                return;
            }
            if constexpr (std::is_same_v<T, BreakStmt> || std::is_same_v<T, ContinueStmt>) {
                if (!place.in_loop) error("E092", stmt.span, std::string(kind) + " outside a loop");
            } else if constexpr (std::is_same_v<T, StreamDecl>) {
                check_stream(n, stmt.span);
            } else if constexpr (std::is_same_v<T, PatternDecl>) {
                check_pattern(n);
            } else if constexpr (std::is_same_v<T, ConnectorDecl>) {
                check_connector(n, stmt.span);
            } else if constexpr (std::is_same_v<T, ContextDecl>) {
                check_context(n, stmt.span);
            } else if constexpr (std::is_same_v<T, FnDecl>) {
                check_block(n.body, StmtPlace{false, false});
            } else if constexpr (std::is_same_v<T, IfStmt>) {
                for (const auto& b : n.branches) {
                    check_expr(*b.condition);
                    check_block(b.body, place);
                }
                check_block(n.else_body, place);
            } else if constexpr (std::is_same_v<T, ForStmt>) {
                check_expr(*n.iterable);
                check_block(n.body, StmtPlace{place.top_level, true});
            } else if constexpr (std::is_same_v<T, WhileStmt>) {
                check_expr(*n.condition);
                check_block(n.body, StmtPlace{place.top_level, true});
            } else if constexpr (std::is_same_v<T, AssignStmt>) {
                check_assignment(n, stmt.span, place);
            } else if constexpr (std::is_same_v<T, VarDecl> || std::is_same_v<T, ReturnStmt>) {
                if (n.value) check_expr(*n.value);
            } else if constexpr (std::is_same_v<T, EmitStmt>) {
                for (const auto& f : n.fields) check_expr(*f.value);
            } else if constexpr (std::is_same_v<T, ExprStmt>) {
                check_expr(*n.expr);
            } else if constexpr (std::is_same_v<T, ConfigDecl>) {
                warning("W080", stmt.span, "config blocks are deprecated and ignored",
                        "pass settings as connector parameters or command-line flags");
            }
        },
        stmt.node);
}

void Validator::check_assignment(const AssignStmt& a, const Span& at, StmtPlace place) {
    check_expr(*a.value);
    auto it = globals_.find(a.name);
    if (place.top_level && it != globals_.end() && it->second != VarKind::Var) {
        error("E040", at, "cannot assign to '" + a.name + "': it is declared with " +
                              (it->second == VarKind::Let ? "let" : "const"),
              "declare it with var to make it mutable");
    }
}

void Validator::check_connector(const ConnectorDecl& c, const Span& at) {
    auto known = connector_params(c.kind);
    for (const auto& p : c.params) {
        if (p.value && p.value->kind != ExprKind::Literal && p.value->kind != ExprKind::Ident &&
            p.value->kind != ExprKind::Array) {
            warning("W081", p.span, "connector parameter '" + p.name + "' should be a literal value");
        }
        if (known && std::find(known->begin(), known->end(), p.name) == known->end()) {
            warning("W080", p.span, "unknown parameter '" + p.name + "' for a " + c.kind + " connector");
        }
    }
    if (c.kind == "mqtt") {
        for (const auto& p : c.params) {
            if (p.name == "port" && p.value && p.value->kind == ExprKind::Literal && !p.value->value.is_int()) {
                warning("W081", p.span, "mqtt port must be an integer");
            }
        }
    }
    (void)at;
}

void Validator::check_context(const ContextDecl& c, const Span& at) {
    for (const auto& p : c.params) {
        if (p.name != "cores") {
            error("E094", p.span, "unknown context parameter '" + p.name + "'", "contexts take cores: [0, 1]");
            continue;
        }
        bool ok = p.value->kind == ExprKind::Array;
        for (const auto& item : p.value->children) {
            ok = ok && item->kind == ExprKind::Literal && item->value.is_int() && item->value.as_int() >= 0;
        }
        if (!ok) error("E094", p.span, "cores must be a list of core numbers", "write cores: [0, 1]");
    }
    (void)at;
}

void Validator::check_expr(const Expr& root, ExprPlace place) {
    walk_tree(root, [&](const Expr& e) {
        switch (e.kind) {
            case ExprKind::Call: check_call(e, place); break;
            case ExprKind::Lambda:
                error("E093", e.span, "lambdas are only allowed inside .pattern(...)", "use a fn declaration");
                break;
            case ExprKind::Binary:
                if (e.binary_op == BinaryOp::Is || e.binary_op == BinaryOp::IsNot) {
                    error("E090", e.span, "the 'is' operator is not implemented",
                          "use == or a type test such as is_null(x)");
                }
                break;
            default: break;
        }
    });
}

void Validator::check_call(const Expr& call, ExprPlace place) {
    const std::string& name = call.callee_name();
    if (name.empty()) {
        error("E090", call.span, "method-call syntax is not implemented", "call functions as f(x, ...)");
        return;
    }
    size_t argc = call.children.size() - 1;
    if (auto it = fn_params_.find(name); it != fn_params_.end()) {
        if (argc != it->second) {
            error("E051", call.span, "function '" + name + "' takes " + std::to_string(it->second) +
                                         " argument(s), " + std::to_string(argc) + " given");
        }
        return;
    }
    std::optional<Arity> arity = place == ExprPlace::Aggregate ? aggregate_arity(name) : std::nullopt;
    if (!arity) arity = builtin_arity(name);
    if (!arity && place == ExprPlace::Aggregate && name == "distinct") arity = Arity{1, 1};
    if (!arity) {
        bool is_aggregate = aggregate_arity(name).has_value();
        error("E050", call.span, "unknown function '" + name + "'",
              is_aggregate ? "aggregate functions are only allowed inside .aggregate(...)"
                           : "declare it with fn " + name + "(...): or check the spelling");
        return;
    }
    if (!arity->accepts(argc)) {
        std::string expected = arity->max < 0 ? "at least " + std::to_string(arity->min)
                               : arity->min == arity->max ? std::to_string(arity->min)
                                                          : std::to_string(arity->min) + " to " + std::to_string(arity->max);
        error("E051", call.span, "'" + name + "' takes " + expected + " argument(s), " + std::to_string(argc) + " given");
    }
}

}  // namespace detail
}  // namespace varpulis::vpl
