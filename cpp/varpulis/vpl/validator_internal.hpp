// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <map>
#include <set>
#include <string>

#include "varpulis/vpl/ast.hpp"
#include "varpulis/vpl/diagnostic.hpp"

namespace varpulis::vpl::detail {

/// Where an expression appears: decides which calls and constructs it may use.
enum class ExprPlace { Plain, Aggregate };

/// Where a statement appears.
struct StmtPlace {
    bool top_level = true;
    bool in_loop = false;
};

class Validator {
  public:
    explicit Validator(const Program& program) : program_(program) {}
    Diagnostics run();

    // validate.cpp
    void error(const char* code, const Span& at, std::string message, std::string hint = {});
    void warning(const char* code, const Span& at, std::string message, std::string hint = {});
    void check_expr(const Expr& e, ExprPlace place = ExprPlace::Plain);
    void check_call(const Expr& call, ExprPlace place);
    bool is_declared_name(const std::string& name) const;

    // validate_stream.cpp
    void check_stream(const StreamDecl& stream, const Span& at);
    void check_pattern(const PatternDecl& pattern);

  private:
    void collect_symbols();
    void declare(std::map<std::string, Span>& table, const std::string& name, const Span& at, const char* code,
                 const char* what);
    void check_block(const Block& block, StmtPlace place);
    void check_statement(const Stmt& stmt, StmtPlace place);
    void check_connector(const ConnectorDecl& c, const Span& at);
    void check_context(const ContextDecl& c, const Span& at);
    void check_assignment(const AssignStmt& a, const Span& at, StmtPlace place);

    // validate_stream.cpp
    void check_source(const StreamDecl& stream);
    void check_op(const StreamOp& op, const StreamDecl& stream);
    void check_op_shape(const StreamOp& op);
    void check_aggregate(const StreamOp& op);
    void check_aggregate_expr(const Expr& e);
    void check_condition(const StreamOp& op);
    void check_duration_arg(const Expr* e, const Span& at, const char* what);
    void check_connector_ref(const std::string& name, const Span& at);
    void check_named_params(const StreamOp& op);

  public:
    const Program& program_;
    Diagnostics out_;
    std::map<std::string, Span> events_, streams_, fns_, connectors_, contexts_, patterns_, types_;
    std::map<std::string, size_t> fn_params_;
    std::map<std::string, std::string> connector_kinds_;
    std::map<std::string, VarKind> globals_;
};

}  // namespace varpulis::vpl::detail
