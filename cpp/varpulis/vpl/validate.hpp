// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "varpulis/vpl/ast.hpp"
#include "varpulis/vpl/diagnostic.hpp"

namespace varpulis::vpl {

/// Check a parsed program for semantic errors (E001–E094) and warnings (W001–W081).
/// The codes and their meaning are listed in docs/vpl-diagnostics.md.
Diagnostics validate(const Program& program);

}  // namespace varpulis::vpl
