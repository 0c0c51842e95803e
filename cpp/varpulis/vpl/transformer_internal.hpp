// SPDX-License-Identifier: Apache-2.0
#pragma once

// Turns the ANTLR parse tree into the project's AST. This header and the transform_*.cpp files
// are the only places outside generated/ that see ANTLR types.

#include <string>

#include "VPLParser.h"
#include "varpulis/vpl/ast.hpp"
#include "varpulis/vpl/diagnostic.hpp"
#include "varpulis/vpl/expand.hpp"

namespace varpulis::vpl::detail {

using P = generated::VPLParser;

class Transformer {
  public:
    explicit Transformer(const ExpandedSource& source) : source_(source) {}

    Program program(P::ProgramContext* ctx);

    /// Errors found while building the AST (bad literals, repeated clauses...).
    Diagnostics& diagnostics() { return diagnostics_; }

    /// The longest chain of binary operators accepted in one expression (deeper ASTs would make
    /// every later recursive pass risk the stack).
    static constexpr size_t kMaxChain = 1000;

  private:
    // transform_statement.cpp
    StmtPtr statement(P::StatementContext* ctx);
    StmtPtr simple_statement(P::SimpleStatementContext* ctx);
    StmtPtr compound_statement(P::CompoundStatementContext* ctx);
    Block block(P::BlockContext* ctx);
    StmtNode event_decl(P::EventDeclContext* ctx);
    StmtNode event_block_decl(P::EventBlockDeclContext* ctx);
    VarDecl var_decl(P::VarDeclContext* ctx);
    AssignStmt assignment(P::AssignmentContext* ctx);
    FnDecl fn_decl(P::FnDeclContext* ctx);
    IfStmt if_stmt(P::IfStmtContext* ctx);
    ConfigDecl config_block(P::ConfigBlockDeclContext* ctx);
    TypeExpr type_expr(P::TypeExprContext* ctx);
    FieldDecl field_decl(P::FieldDeclContext* ctx);

    // transform_stream.cpp
    StreamDecl stream_decl(P::StreamDeclContext* ctx);
    StreamSource stream_source(P::StreamSourceContext* ctx);
    InlineStream inline_stream(P::InlineStreamContext* ctx);
    SequenceStep sequence_step(P::SequenceStepContext* ctx);
    StreamOp stream_op(P::StreamOpContext* ctx);
    void step_clauses(const std::vector<P::StepClauseContext*>& clauses, StreamOp& op);
    std::vector<OpArg> op_args(P::OpArgsContext* ctx);
    PatternDecl pattern_decl(P::PatternDeclContext* ctx);
    SaseNode sase_expr(P::SaseExprContext* ctx);
    SaseNode sase_and(P::SaseAndContext* ctx);
    SaseNode sase_not(P::SaseNotContext* ctx);
    SaseNode sase_item(P::SaseItemContext* ctx);

    // transform_expr.cpp
  public:
    ExprPtr expr(P::ExprContext* ctx);
  private:
    ExprPtr lambda(P::LambdaContext* ctx);
    ExprPtr or_expr(P::OrExprContext* ctx);
    ExprPtr and_expr(P::AndExprContext* ctx);
    ExprPtr not_expr(P::NotExprContext* ctx);
    ExprPtr comparison(P::ComparisonContext* ctx);
    ExprPtr additive(P::AdditiveContext* ctx);
    ExprPtr power(P::PowerContext* ctx);
    ExprPtr unary(P::UnaryContext* ctx);
    ExprPtr postfix(P::PostfixContext* ctx);
    ExprPtr primary(P::PrimaryContext* ctx);
    ExprPtr literal(P::LiteralContext* ctx);
    /// Fold a rule of the form `operand (op operand)*` into a left-associative chain.
    ExprPtr binary_chain(antlr4::ParserRuleContext* ctx);
    /// Dispatch any expression-level rule context.
    ExprPtr any_expr(antlr4::tree::ParseTree* tree);
    NamedArg named_arg(P::NamedArgContext* ctx);
    std::string string_literal(antlr4::Token* token);

  public:
    std::string name(P::NameContext* ctx);
    std::string any_name(P::AnyNameContext* ctx);
    Span span(antlr4::ParserRuleContext* ctx) const;
    Span span(antlr4::Token* token) const;
    void error(const Span& at, std::string message, std::string hint = {});

  private:
    const ExpandedSource& source_;
    Diagnostics diagnostics_;
};

/// Decode the escapes of a string literal body (without quotes): \n \t \r \0 \" \' \\ \uXXXX.
/// Unknown escapes are kept as written.
std::string decode_string_escapes(std::string_view body);

}  // namespace varpulis::vpl::detail
