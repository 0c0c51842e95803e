// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "varpulis/common/status.hpp"
#include "varpulis/vpl/diagnostic.hpp"

namespace varpulis::python {

/// Raise the Python exception that matches `status` (the one place that maps error codes to
/// exception classes; the classes live in varpulis/errors.py). Does nothing for an OK status.
void throw_if_error(const common::Status& status);

/// Raise varpulis.VplSyntaxError (code E000) or varpulis.VplError for the first error in `ds`.
[[noreturn]] void throw_vpl_error(const vpl::Diagnostics& ds);

}  // namespace varpulis::python
