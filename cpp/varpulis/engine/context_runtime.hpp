// SPDX-License-Identifier: Apache-2.0
#pragma once

// Contexts (vpl-language.md §1.13): one OS thread per declared context, each with its own engine
// (the streams placed there with `.context(name)`, plus the unplaced ones) and a bounded queue.
// An event goes to the contexts whose streams consume its type; results that a stream in another
// context consumes are forwarded there. A push returns once the event and everything it caused
// in every context is done, with all the outputs.

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "varpulis/engine/engine.hpp"

namespace varpulis::engine {

class ContextRuntime {
  public:
    /// Start one thread per context plan, each running an engine built from it (its sinks open).
    static common::Result<std::unique_ptr<ContextRuntime>> create(std::vector<ContextPlan> plans, size_t queue_capacity);
    ~ContextRuntime();
    ContextRuntime(const ContextRuntime&) = delete;
    ContextRuntime& operator=(const ContextRuntime&) = delete;

    /// Process events to completion (contexts work in parallel) and append all their outputs.
    /// Blocks while a target queue is full: backpressure, never a drop. An event that fails is
    /// added to `failures` with its position (once, however many contexts it reached).
    void push_many(const std::vector<EventPtr>& events, std::vector<EventPtr>& outputs,
                   std::vector<EventFailure>& failures);

    /// Close open windows in every context and collect what that produces.
    common::Status flush(std::vector<EventPtr>& outputs);

    /// Run `task` on every context's thread, between events (checkpoints, restores).
    common::Status on_each(const std::function<common::Status(size_t index, Engine& engine)>& task);

    /// The context engines (for stream lists, statistics and timers).
    std::vector<const Engine*> engines() const;

  private:
    struct Completion;
    struct Item {
        EventPtr event;  ///< null: flush, or run `task`
        std::shared_ptr<Completion> done;
        std::function<common::Status(Engine&)> task;
        size_t index = 0;  ///< the event's position in the batch it came in (forwards keep it)
    };
    struct Context;

    ContextRuntime() = default;
    void start(Context& c, int core);
    void enqueue(Context& c, Item item, bool wait_for_room);
    void work(Context& c);
    void handle(Context& c, Item& item);
    const std::vector<size_t>* targets(Symbol type) const;

    size_t capacity_ = 10'000;
    std::vector<std::unique_ptr<Context>> contexts_;
    std::unordered_map<Symbol, std::vector<size_t>> ingress_;  ///< event type → contexts
};

}  // namespace varpulis::engine
