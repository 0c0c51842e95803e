// SPDX-License-Identifier: Apache-2.0
#pragma once

// Every connector kind built into this binary, registered in one place (the shape of
// ClickHouse's registerStorages): each external system is its own library under
// connectors/<system>/, compiled in with VARPULIS_WITH_<SYSTEM>.

#include "varpulis/common/status.hpp"

namespace varpulis::connectors {

/// Register the built kinds with the engine's global registry, once per process; later calls
/// return the first call's outcome. Every front door (CLI, servers, Python) calls it at start-up.
common::Status register_all();

}  // namespace varpulis::connectors
