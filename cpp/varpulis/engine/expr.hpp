// SPDX-License-Identifier: Apache-2.0
#pragma once

// Expressions compiled from the AST into a tree of nodes with every name resolved ahead of time:
// locals and globals to slots, fields to symbols, builtins to function pointers. Evaluation does
// no name lookup and copies no value it only reads.

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "varpulis/common/status.hpp"
#include "varpulis/engine/event.hpp"
#include "varpulis/vpl/ast.hpp"

namespace varpulis::engine {

class FunctionTable;
struct EmitCollector;

/// What an expression can see while it runs.
struct EvalContext {
    const Event* event = nullptr;                  ///< the current event (fields)
    const std::vector<Value>* globals = nullptr;   ///< top-level let/var/const, by slot
    Value* locals = nullptr;                       ///< the running function's frame, by slot
    const EventPtr* captures = nullptr;            ///< sequence aliases bound so far, by index (null: unbound)
    EmitCollector* emits = nullptr;                ///< where `emit` statements go (in .process)
    const FunctionTable* functions = nullptr;      ///< user functions
};

class CompiledExpr {
  public:
    virtual ~CompiledExpr() = default;
    /// Evaluate. The result refers either to `scratch` or to storage that outlives the call (a
    /// field, a constant, a slot), so reading a string field copies nothing.
    virtual const Value& eval(const EvalContext& ctx, Value& scratch) const = 0;

    /// Evaluate into a value the caller owns.
    Value value(const EvalContext& ctx) const {
        Value scratch;
        const Value& r = eval(ctx, scratch);
        return &r == &scratch ? std::move(scratch) : r;
    }
    /// Evaluate as a condition: only `true` passes.
    bool test(const EvalContext& ctx) const {
        Value scratch;
        const Value& r = eval(ctx, scratch);
        return r.is_bool() && r.as_bool();
    }
};

using ExprNode = std::unique_ptr<CompiledExpr>;

/// Names an expression may refer to, and how they resolve.
struct ExprScope {
    const std::unordered_map<std::string, size_t>* globals = nullptr;  ///< name → global slot
    const std::unordered_map<std::string, size_t>* locals = nullptr;   ///< name → frame slot
    std::vector<std::string> captures;  ///< sequence aliases bound before this step, by index
    std::string self_alias;             ///< the alias naming the current event (`Type as a`, a step's own alias)
    const FunctionTable* functions = nullptr;
};

/// Compile one expression. Fails on constructs the engine does not run (lambdas, `is`).
common::Result<ExprNode> compile_expr(const vpl::Expr& e, const ExprScope& scope);

/// A scalar builtin: arguments in, value out (null on bad arguments).
using BuiltinFn = Value (*)(const Value* args, size_t count);

/// Return the implementation of a scalar builtin, or nullptr.
BuiltinFn find_builtin(std::string_view name);

}  // namespace varpulis::engine
