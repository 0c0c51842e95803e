// SPDX-License-Identifier: Apache-2.0
#pragma once

// Python objects ↔ VPL values and events.

#include <pybind11/pybind11.h>

#include "varpulis/engine/event.hpp"

namespace varpulis::python {

/// Convert a Python value (None, bool, int, float, str, list/tuple, dict) to a VPL value.
/// Raises TypeError for anything else.
common::Value to_value(const pybind11::handle& obj, int depth = 0);

/// Convert a VPL value to Python.
pybind11::object from_value(const common::Value& v);

/// Build an event from a type and a dict of fields.
engine::EventPtr to_event(const std::string& type, const pybind11::handle& fields, int64_t timestamp);

/// `{"event_type": ..., **fields}`.
pybind11::dict event_to_dict(const engine::Event& e);

}  // namespace varpulis::python
