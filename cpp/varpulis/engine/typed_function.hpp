// SPDX-License-Identifier: Apache-2.0
#pragma once

// A second, faster compilation of user functions whose locals all have one static type (int,
// float or bool): every value lives unboxed in a frame slot, and every operation is a node
// specialised for its operand kinds (slot, constant, sub-expression). Numeric kernels such as the
// Mandelbrot demo run here; a function that uses anything else (strings, fields, maps...) keeps
// only its generic compilation, which has the same meaning.

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "varpulis/engine/expr.hpp"
#include "varpulis/engine/function.hpp"
#include "varpulis/vpl/ast.hpp"

namespace varpulis::engine {

enum class TType { Int, Float, Bool, Void };

struct TypedSignature {
    std::vector<TType> params;
    TType result = TType::Void;
};

class TypedFunction;

/// The typed compilations of a program's functions (those that fit), callable by index.
class TypedProgram {
  public:
    TypedProgram();
    ~TypedProgram();
    TypedProgram(const TypedProgram&) = delete;
    TypedProgram& operator=(const TypedProgram&) = delete;

    /// Compile every function that fits. `constants` are immutable globals known at load time;
    /// `index` maps names to function indices (the same as the generic table's).
    void compile(const std::vector<const vpl::FnDecl*>& fns, const std::unordered_map<std::string, size_t>& index,
                 std::unordered_map<std::string, Value> constants, const FunctionLimits& limits);

    /// Return true when function `index` has a typed compilation.
    bool has(size_t index) const { return index < functions_.size() && functions_[index] != nullptr; }

    /// Run function `index` with boxed arguments. Returns nothing (run the generic version
    /// instead) when an argument's type does not fit the signature.
    std::optional<Value> call(size_t index, const Value* args, size_t count, const EvalContext& caller) const;

    /// Internal: used by the compiler and the nodes of typed code.
    const TypedFunction* function(size_t index) const { return functions_[index].get(); }
    const std::optional<TypedSignature>& signature(size_t index) const { return signatures_[index]; }
    const std::unordered_map<std::string, size_t>& index() const { return *index_; }
    const std::unordered_map<std::string, Value>& constants() const { return constants_; }
    const FunctionLimits& limits() const { return limits_; }

  private:
    const std::unordered_map<std::string, size_t>* index_ = nullptr;
    std::vector<std::optional<TypedSignature>> signatures_;
    std::vector<std::unique_ptr<TypedFunction>> functions_;
    std::unordered_map<std::string, Value> constants_;
    FunctionLimits limits_;
};

}  // namespace varpulis::engine
