// SPDX-License-Identifier: Apache-2.0
#pragma once

// User functions (`fn name(params): block`) compiled to statement nodes over a frame of
// slot-resolved locals, and the `emit` collector that `.process(...)` installs.

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "varpulis/common/status.hpp"
#include "varpulis/engine/event.hpp"
#include "varpulis/engine/expr.hpp"
#include "varpulis/vpl/ast.hpp"

namespace varpulis::engine {

/// Limits that stop runaway programs with an error instead of hanging or crashing.
struct FunctionLimits {
    int64_t max_loop_iterations = 10'000'000;  ///< per execution of one while/for loop
    int max_call_depth = 200;                  ///< nested user-function calls
};

/// Thrown inside evaluation for errors that must stop the event (runaway loop, deep recursion);
/// the engine catches it at the operator boundary and reports it as a runtime error.
class EvalError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// Where `emit Name(...)` statements put their events while `.process(...)` runs.
struct EmitCollector {
    std::vector<EventPtr> events;
    int64_t timestamp = 0;  ///< emitted events carry the triggering event's time
};

class CompiledStmt;
class TypedProgram;

struct CompiledFunction {
    CompiledFunction();
    CompiledFunction(CompiledFunction&&) noexcept;
    ~CompiledFunction();
    std::string name;
    size_t param_count = 0;
    size_t slot_count = 0;
    std::vector<std::unique_ptr<CompiledStmt>> body;
};

/// All user functions of a program, called by index from compiled expressions.
class FunctionTable {
  public:
    FunctionTable();
    ~FunctionTable();
    FunctionTable(const FunctionTable&) = delete;
    FunctionTable& operator=(const FunctionTable&) = delete;

    /// Compile every `fn` of the program. Functions may call each other in any order.
    common::Status compile(const std::vector<const vpl::FnDecl*>& fns,
                           const std::unordered_map<std::string, size_t>* globals, FunctionLimits limits);

    std::optional<size_t> index_of(const std::string& name) const;

    /// Call function `index` with argument expressions evaluated in `caller`'s context.
    Value call(size_t index, const std::vector<ExprNode>& args, const EvalContext& caller) const;

    /// Call function `index` with values (used by `.process(f(...))` and tests).
    Value call_values(size_t index, std::vector<Value> args, const EvalContext& caller) const;

    const FunctionLimits& limits() const { return limits_; }

    /// Compile the typed fast path of every function that fits (after the globals are known:
    /// immutable ones become constants). See typed_function.hpp.
    void compile_typed(const std::vector<const vpl::FnDecl*>& fns, std::unordered_map<std::string, Value> constants);

    /// Return true when function `name` runs on the typed fast path.
    bool is_typed(const std::string& name) const;

  private:
    Value run(const CompiledFunction& fn, Value* frame, const EvalContext& caller) const;

    std::vector<CompiledFunction> functions_;
    std::unordered_map<std::string, size_t> index_;
    FunctionLimits limits_;
    std::unique_ptr<TypedProgram> typed_;
};

}  // namespace varpulis::engine
