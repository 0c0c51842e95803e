// SPDX-License-Identifier: Apache-2.0
#pragma once

// The operator interface of a stream pipeline. Each operator transforms the current batch of
// events in place; an empty batch stops the pipeline for that input.

#include <memory>
#include <vector>

#include "varpulis/engine/event.hpp"
#include "varpulis/engine/expr.hpp"

namespace varpulis::engine {

using Batch = std::vector<EventPtr>;

/// What operators may use while they run.
struct OpContext {
    EvalContext eval;     ///< globals and functions; `event` is set per event
    Symbol stream_name = kNoSymbol;
};

class Operator {
  public:
    virtual ~Operator() = default;
    /// Transform `batch` in place.
    virtual void apply(Batch& batch, OpContext& ctx) = 0;
    /// At end of input, move what the operator still holds (open time and session windows) into
    /// `out`. Most operators hold nothing.
    virtual void flush(Batch& /*out*/, OpContext& /*ctx*/) {}
    /// Return the number of events or runs held in memory (for metrics and memory tests).
    virtual size_t held() const { return 0; }
};

using OperatorPtr = std::unique_ptr<Operator>;

/// Evaluate `key` on an event as a partition key: its text, or "default" when missing.
std::string partition_key(const CompiledExpr* key, const Event& e, const OpContext& ctx);

}  // namespace varpulis::engine
