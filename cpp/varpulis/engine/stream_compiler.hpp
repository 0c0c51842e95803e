// SPDX-License-Identifier: Apache-2.0
#pragma once

// Turns each `stream` declaration into a Stream: its inputs (routing), a sequence or join stage
// when the source needs one, and one operator per remaining `.op(...)`.

#include <map>
#include <string>

#include "varpulis/engine/engine.hpp"
#include "varpulis/engine/sequence.hpp"

namespace varpulis::engine {

class StreamCompiler {
  public:
    StreamCompiler(Engine& engine, const vpl::Program& program);
    common::Status compile_all();

  private:
    common::Status compile(const vpl::StreamDecl& decl);
    common::Status compile_source(const vpl::StreamDecl& decl, Stream& s, std::string& self_alias);
    common::Status compile_sequence(const vpl::StreamDecl& decl, Stream& s);
    common::Status compile_pattern(const vpl::PatternDecl& pattern, Stream& s);
    common::Status compile_join(const vpl::StreamDecl& decl, Stream& s);
    /// `partition` is the field named by the last `.partition_by` before the operator, or empty.
    common::Result<OperatorPtr> compile_op(const vpl::StreamOp& op, Stream& s, const ExprScope& scope,
                                           const std::string& partition);

    ExprScope scope(const std::string& self_alias = {}) const;
    ExprNode key_of(const vpl::StreamOp& partition_by) const;
    ExprNode field_key(const std::string& field) const;

    Engine& engine_;
    const vpl::Program& program_;
    std::map<std::string, const vpl::PatternDecl*> patterns_;
};

}  // namespace varpulis::engine
