// SPDX-License-Identifier: Apache-2.0
// Parse tree → AST: the program and its statements.
#include "varpulis/vpl/transformer_internal.hpp"

namespace varpulis::vpl::detail {

Program Transformer::program(P::ProgramContext* ctx) {
    Program program;
    for (auto* s : ctx->statement()) program.statements.push_back(statement(s));
    return program;
}

StmtPtr Transformer::statement(P::StatementContext* ctx) {
    return ctx->simpleStatement() ? simple_statement(ctx->simpleStatement())
                                  : compound_statement(ctx->compoundStatement());
}

Block Transformer::block(P::BlockContext* ctx) {
    Block out;
    for (auto* s : ctx->statement()) out.push_back(statement(s));
    return out;
}

StmtPtr Transformer::simple_statement(P::SimpleStatementContext* ctx) {
    auto stmt = std::make_shared<Stmt>();
    stmt->span = span(ctx);
    if (auto* c = ctx->contextDecl()) {
        ContextDecl d{name(c->name()), {}};
        for (auto* a : c->namedArg()) d.params.push_back(named_arg(a));
        stmt->node = std::move(d);
    } else if (auto* c = ctx->connectorDecl()) {
        ConnectorDecl d{name(c->name(0)), name(c->name(1)), {}};
        for (auto* a : c->namedArg()) d.params.push_back(named_arg(a));
        stmt->node = std::move(d);
    } else if (auto* c = ctx->streamDecl()) {
        stmt->node = stream_decl(c);
    } else if (auto* c = ctx->patternDecl()) {
        stmt->node = pattern_decl(c);
    } else if (auto* c = ctx->eventDecl()) {
        stmt->node = event_decl(c);
    } else if (auto* c = ctx->typeDecl()) {
        stmt->node = TypeDecl{name(c->name()), type_expr(c->typeExpr())};
    } else if (auto* c = ctx->varDecl()) {
        stmt->node = var_decl(c);
    } else if (auto* c = ctx->configDecl()) {
        ConfigDecl d{name(c->name()), {}};
        for (auto* e : c->configEntry()) d.entries.push_back({any_name(e->anyName()), expr(e->expr()), span(e)});
        stmt->node = std::move(d);
    } else if (auto* c = ctx->importStmt()) {
        stmt->node = ImportStmt{string_literal(c->STRING()->getSymbol()), c->name() ? name(c->name()) : ""};
    } else if (auto* c = ctx->returnStmt()) {
        stmt->node = ReturnStmt{c->expr() ? expr(c->expr()) : nullptr};
    } else if (ctx->BREAK()) {
        stmt->node = BreakStmt{};
    } else if (ctx->CONTINUE()) {
        stmt->node = ContinueStmt{};
    } else if (auto* c = ctx->emitStmt()) {
        EmitStmt d{name(c->name()), {}};
        for (auto* a : c->namedArg()) d.fields.push_back(named_arg(a));
        stmt->node = std::move(d);
    } else if (auto* c = ctx->assignment()) {
        stmt->node = assignment(c);
    } else {
        stmt->node = ExprStmt{expr(ctx->expr())};
    }
    return stmt;
}

StmtPtr Transformer::compound_statement(P::CompoundStatementContext* ctx) {
    auto stmt = std::make_shared<Stmt>();
    stmt->span = span(ctx);
    if (auto* c = ctx->fnDecl()) {
        stmt->node = fn_decl(c);
    } else if (auto* c = ctx->ifStmt()) {
        stmt->node = if_stmt(c);
    } else if (auto* c = ctx->forStmt()) {
        stmt->node = ForStmt{name(c->name()), expr(c->expr()), block(c->block())};
    } else if (auto* c = ctx->whileStmt()) {
        stmt->node = WhileStmt{expr(c->expr()), block(c->block())};
    } else if (auto* c = ctx->eventBlockDecl()) {
        stmt->node = event_block_decl(c);
    } else {
        stmt->node = config_block(ctx->configBlockDecl());
    }
    // A compound statement's span is its header line.
    stmt->span.end_line = stmt->span.line;
    return stmt;
}

FieldDecl Transformer::field_decl(P::FieldDeclContext* ctx) {
    return {any_name(ctx->anyName()), type_expr(ctx->typeExpr()), span(ctx)};
}

StmtNode Transformer::event_decl(P::EventDeclContext* ctx) {
    EventDecl d;
    d.name = name(ctx->name(0));
    if (ctx->EXTENDS()) d.extends = name(ctx->name(1));
    for (auto* f : ctx->fieldDecl()) d.fields.push_back(field_decl(f));
    return d;
}

StmtNode Transformer::event_block_decl(P::EventBlockDeclContext* ctx) {
    EventDecl d;
    d.name = name(ctx->name(0));
    if (ctx->EXTENDS()) d.extends = name(ctx->name(1));
    for (auto* f : ctx->fieldDecl()) d.fields.push_back(field_decl(f));
    return d;
}

VarDecl Transformer::var_decl(P::VarDeclContext* ctx) {
    VarDecl d;
    d.kind = ctx->kind->getType() == P::LET ? VarKind::Let : ctx->kind->getType() == P::VAR ? VarKind::Var : VarKind::Const;
    d.name = name(ctx->name());
    if (ctx->typeExpr()) d.type = type_expr(ctx->typeExpr());
    d.value = expr(ctx->expr());
    return d;
}

AssignStmt Transformer::assignment(P::AssignmentContext* ctx) { return {name(ctx->name()), expr(ctx->expr())}; }

FnDecl Transformer::fn_decl(P::FnDeclContext* ctx) {
    FnDecl d;
    d.name = name(ctx->name());
    for (auto* p : ctx->param()) {
        Param param{name(p->name()), std::nullopt, span(p)};
        if (p->typeExpr()) param.type = type_expr(p->typeExpr());
        d.params.push_back(std::move(param));
    }
    if (ctx->typeExpr()) d.return_type = type_expr(ctx->typeExpr());
    d.body = block(ctx->block());
    return d;
}

IfStmt Transformer::if_stmt(P::IfStmtContext* ctx) {
    IfStmt d;
    auto conditions = ctx->expr();
    auto blocks = ctx->block();
    for (size_t i = 0; i < conditions.size(); ++i) d.branches.push_back({expr(conditions[i]), block(blocks[i])});
    if (ctx->ELSE()) {
        d.has_else = true;
        d.else_body = block(blocks.back());
    }
    return d;
}

ConfigDecl Transformer::config_block(P::ConfigBlockDeclContext* ctx) {
    ConfigDecl d{ctx->name() ? name(ctx->name()) : "", {}};
    for (auto* e : ctx->configEntry()) d.entries.push_back({any_name(e->anyName()), expr(e->expr()), span(e)});
    return d;
}

}  // namespace varpulis::vpl::detail
