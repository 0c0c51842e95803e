// SPDX-License-Identifier: Apache-2.0
#pragma once

// The compiler behind compile_plan, shared by its files: plan_compiler.cpp (the program: its
// functions, globals, connectors, streams and routes), compile_source.cpp (a stream's source:
// an event type, `.from`, merge, timer, join), compile_sequence.cpp (sequences and named
// patterns) and compile_ops.cpp (one function per family of `.op(...)`). Each function
// returns what it compiled and changes nothing else; only `.to()` adds to the plan under
// construction (the sinks it needs).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "varpulis/engine/plan.hpp"
#include "varpulis/engine/sequence.hpp"
#include "varpulis/vpl/ast.hpp"

namespace varpulis::engine::detail {

/// The positional argument `index` of an operator, or null.
const vpl::Expr* positional(const vpl::StreamOp& op, size_t index = 0);
/// The argument `name:` of an operator, or null.
const vpl::Expr* named(const vpl::StreamOp& op, std::string_view name);
/// The nanoseconds of a duration literal, or nothing.
std::optional<int64_t> duration_of(const vpl::Expr* e);
/// An Invalid status at the operator.
common::Status invalid(const vpl::StreamOp& op, const std::string& message);
/// The field `field` of the current event as a key expression (null when it does not compile).
ExprNode field_key(const std::string& field, const ExprScope& scope);

/// What the operators of one stream compile against.
struct OpSite {
    ExprScope scope;        ///< the names their expressions see
    std::string partition;  ///< the field of the last `.partition_by` before the operator, or empty
    const EngineOptions* options = nullptr;
    StateBudget* budget = nullptr;  ///< the plan's, shared by its windows, joins and distinct sets
    std::string stream;  ///< the stream's name
    common::Span span;   ///< its declaration
};

// One function per operator family; each returns the operator and changes nothing.

/// `.where`, `.filter`, `.having`.
common::Result<OperatorPtr> compile_filter(const vpl::StreamOp& op, const OpSite& site);
/// `.select`.
common::Result<OperatorPtr> compile_projection(const vpl::StreamOp& op, const OpSite& site);
/// `.emit`, `.process`, `.print`, `.log`: what leaves the stream besides `.to`.
common::Result<OperatorPtr> compile_output(const vpl::StreamOp& op, const OpSite& site);
/// `.window`: count, time and session windows, per partition.
common::Result<OperatorPtr> compile_window(const vpl::StreamOp& op, const OpSite& site);
/// `.aggregate`, per partition.
common::Result<OperatorPtr> compile_aggregate(const vpl::StreamOp& op, const OpSite& site);
/// `.distinct`, `.limit`, `.first`.
common::Result<OperatorPtr> compile_distinct_limit(const vpl::StreamOp& op, const OpSite& site);

/// One step of a way a sequence or pattern can match, before compilation.
struct RawStep {
    std::string type;
    const vpl::Expr* filter = nullptr;
    std::string alias;
    bool kleene = false;
    bool negated = false;  ///< a pattern's `NOT X`: kills runs waiting for the next step
};

/// A stream's source compiled: the types it consumes, the stage that runs before its operators
/// (a sequence, join or merge filter), and what the plan starts for it.
struct SourceStage {
    std::vector<Symbol> inputs;
    OperatorPtr stage;       ///< null: events enter the operators as they come
    std::string self_alias;  ///< `Type as a`: the alias naming the current event
    std::optional<TimerSpec> timer;
    std::optional<SourceBinding> binding;
};

class PlanCompiler {
  public:
    PlanCompiler(const vpl::Program& program, const EngineOptions& options);
    /// Compile the program into its plan.
    common::Result<Plan> compile() &&;

  private:
    // plan_compiler.cpp
    common::Status compile_globals();
    common::Status evaluate_global(const std::string& name, const vpl::Expr& init);
    common::Status compile_stream(const vpl::StreamDecl& decl, const common::Span& span);
    common::Result<OperatorPtr> compile_op(const vpl::StreamOp& op, const OpSite& site);
    /// `.to(Connector, topic:)`: a ToOp on the connector's sink slot, declared on first use.
    common::Result<OperatorPtr> compile_to(const vpl::StreamOp& op, const OpSite& site);
    void add_routes();
    ExprScope scope(const std::string& self_alias = {}) const;

    // compile_source.cpp
    common::Result<SourceStage> compile_source(const vpl::StreamDecl& decl) const;
    common::Result<SourceStage> compile_from(const vpl::StreamDecl& decl, bool has_steps) const;
    common::Result<SourceStage> compile_merge(const vpl::StreamSource& src) const;
    common::Result<SourceStage> compile_timer(const vpl::StreamDecl& decl) const;
    common::Result<SourceStage> compile_join(const vpl::StreamDecl& decl) const;

    // compile_sequence.cpp
    common::Result<SourceStage> compile_sequence(const vpl::StreamDecl& decl) const;
    common::Result<SourceStage> compile_pattern(const vpl::PatternDecl& pattern) const;
    /// Compile the steps of one way to match into `spec`, its aliases into capture slots in
    /// step order; a negated step becomes a negation before the next step. `own_capture_hidden`:
    /// a step's filter reads its own alias from the candidate, not from an earlier capture.
    common::Status compile_steps(const std::vector<RawStep>& raw, bool own_capture_hidden, SequenceSpec& spec,
                                 std::vector<Symbol>& inputs) const;

    const vpl::Program& program_;
    const EngineOptions& options_;
    std::map<std::string, const vpl::PatternDecl*> patterns_;
    Plan plan_;
};

}  // namespace varpulis::engine::detail
