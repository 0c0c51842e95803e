// SPDX-License-Identifier: Apache-2.0
#pragma once

// Program in, plan out: compile a validated program into what its engines run (plan.hpp). A
// pure step: it opens no sink or source, starts no thread and touches nothing outside the plan,
// so every load-time refusal but a connector's can be had without connecting anywhere.

#include <string>

#include "varpulis/common/status.hpp"
#include "varpulis/engine/plan.hpp"
#include "varpulis/vpl/ast.hpp"

namespace varpulis::engine {

/// Compile the plan of one engine: every stream, or with `options.only_context` the streams of
/// one context thread. Fails on constructs the engine cannot run.
common::Result<Plan> compile_plan(const vpl::Program& program, const EngineOptions& options);

/// Compile a whole program: the plan of all its streams and, when streams are placed in
/// contexts, the plan of each context used.
common::Result<ProgramPlan> compile_program(const vpl::Program& program, const EngineOptions& options);

/// Return `st` as a refusal of stream `stream` declared at `span`: "stream 'S': ...", at the
/// error's own span when it has one.
common::Status stream_error(const common::Status& st, const std::string& stream, const common::Span& span);

}  // namespace varpulis::engine
