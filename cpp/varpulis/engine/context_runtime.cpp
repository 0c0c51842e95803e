// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/context_runtime.hpp"

#include <pthread.h>

#include <algorithm>
#include <set>

namespace varpulis::engine {

using common::ErrorCode;
using common::Result;
using common::Status;

/// One push (or flush) across contexts: the work still pending and what it produced.
struct ContextRuntime::Completion {
    std::mutex mutex;
    std::condition_variable cv;
    size_t pending = 0;
    std::vector<EventPtr> outputs;
    Status error;                        ///< flush and tasks: the first failure
    std::vector<EventFailure> failures;  ///< events: each failed event once, by its position

    /// Keep an item's failure: an event's once (it may fail in several contexts or forwards),
    /// the first of a flush or task.
    void fail(const Item& item, const Status& st) {
        if (!item.event) {
            if (error.is_ok()) error = st;
            return;
        }
        for (const auto& f : failures) {
            if (f.index == item.index) return;
        }
        failures.push_back({item.index, st});
    }
};

struct ContextRuntime::Context {
    std::string name;
    std::unique_ptr<Engine> engine;
    std::vector<size_t> forward_to;  ///< per exported stream: resolved through ingress at run time
    std::mutex mutex;
    std::condition_variable not_empty, not_full;
    std::deque<Item> queue;
    bool stopping = false;
    std::thread thread;
};

Result<std::unique_ptr<ContextRuntime>> ContextRuntime::create(std::vector<ContextPlan> plans, size_t queue_capacity) {
    std::unique_ptr<ContextRuntime> rt(new ContextRuntime());
    rt->capacity_ = std::max<size_t>(queue_capacity, 1);
    std::vector<int> cores;
    for (auto& plan : plans) {
        VP_ASSIGN_OR_RETURN(auto engine, Engine::create(std::move(plan.plan)));
        auto c = std::make_unique<Context>();
        c->name = plan.name;
        c->engine = std::move(engine);
        rt->contexts_.push_back(std::move(c));
        cores.push_back(plan.core);
    }
    // Ingress: a type goes to the contexts whose placed streams consume it; types only unplaced
    // streams consume go to the first context.
    std::set<Symbol> unplaced_inputs;
    for (size_t i = 0; i < rt->contexts_.size(); ++i) {
        for (const auto& s : rt->contexts_[i]->engine->streams()) {
            for (Symbol t : s->inputs) {
                if (s->context == rt->contexts_[i]->name) {
                    auto& list = rt->ingress_[t];
                    if (std::find(list.begin(), list.end(), i) == list.end()) list.push_back(i);
                } else {
                    unplaced_inputs.insert(t);
                }
            }
        }
    }
    for (Symbol t : unplaced_inputs) {
        if (!rt->ingress_.count(t)) rt->ingress_[t] = {0};
    }
    // Exports: results of a placed stream that a stream placed in another context consumes.
    for (size_t i = 0; i < rt->contexts_.size(); ++i) {
        std::vector<Symbol> exports;
        for (const auto& s : rt->contexts_[i]->engine->streams()) {
            if (s->context != rt->contexts_[i]->name) continue;
            auto it = rt->ingress_.find(s->symbol);
            if (it == rt->ingress_.end()) continue;
            for (size_t target : it->second) {
                if (target != i) {
                    exports.push_back(s->symbol);
                    break;
                }
            }
        }
        rt->contexts_[i]->engine->set_exports(std::move(exports));
    }
    for (size_t i = 0; i < rt->contexts_.size(); ++i) rt->start(*rt->contexts_[i], cores[i]);
    return rt;
}

ContextRuntime::~ContextRuntime() {
    for (auto& c : contexts_) {
        {
            std::lock_guard lock(c->mutex);
            c->stopping = true;
        }
        c->not_empty.notify_all();
        c->not_full.notify_all();
    }
    for (auto& c : contexts_) {
        if (c->thread.joinable()) c->thread.join();
    }
}

void ContextRuntime::start(Context& c, int core) {
    c.thread = std::thread([this, &c] { work(c); });
    std::string name = ("vp-" + c.name).substr(0, 15);
    pthread_setname_np(c.thread.native_handle(), name.c_str());
    if (core >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(static_cast<size_t>(core), &set);
        (void)pthread_setaffinity_np(c.thread.native_handle(), sizeof set, &set);  // a hint: ignored if refused
    }
}

const std::vector<size_t>* ContextRuntime::targets(Symbol type) const {
    auto it = ingress_.find(type);
    return it == ingress_.end() ? nullptr : &it->second;
}

void ContextRuntime::enqueue(Context& c, Item item, bool wait_for_room) {
    std::unique_lock lock(c.mutex);
    // External pushes wait for room. Forwarded events never wait: two contexts forwarding to
    // each other with full queues would otherwise deadlock; the external bound still limits
    // what can be in flight.
    if (wait_for_room) c.not_full.wait(lock, [&] { return c.queue.size() < capacity_ || c.stopping; });
    c.queue.push_back(std::move(item));
    lock.unlock();
    c.not_empty.notify_one();
}

void ContextRuntime::work(Context& c) {
    for (;;) {
        Item item;
        {
            std::unique_lock lock(c.mutex);
            c.not_empty.wait(lock, [&] { return !c.queue.empty() || c.stopping; });
            if (c.queue.empty()) return;  // stopping, and everything was done
            item = std::move(c.queue.front());
            c.queue.pop_front();
        }
        c.not_full.notify_one();
        handle(c, item);
    }
}

void ContextRuntime::handle(Context& c, Item& item) {
    std::vector<EventPtr> outputs, exported;
    Status st = item.task    ? item.task(*c.engine)
                : item.event ? c.engine->process(item.event, outputs, &exported)
                             : c.engine->flush(outputs, &exported);
    // Work this item causes elsewhere is counted before this item is marked done.
    std::vector<std::pair<size_t, EventPtr>> forwards;
    for (const auto& e : exported) {
        if (const auto* to = targets(e->type)) {
            for (size_t target : *to) {
                if (contexts_[target].get() != &c) forwards.emplace_back(target, e);
            }
        }
    }
    {
        std::lock_guard lock(item.done->mutex);
        item.done->outputs.insert(item.done->outputs.end(), outputs.begin(), outputs.end());
        if (!st.is_ok()) item.done->fail(item, st);
        item.done->pending += forwards.size();
    }
    for (auto& [target, e] : forwards) enqueue(*contexts_[target], Item{e, item.done, {}, item.index}, false);
    bool finished = false;
    {
        std::lock_guard lock(item.done->mutex);
        finished = --item.done->pending == 0;
    }
    if (finished) item.done->cv.notify_all();
}

void ContextRuntime::push_many(const std::vector<EventPtr>& events, std::vector<EventPtr>& outputs,
                               std::vector<EventFailure>& failures) {
    auto done = std::make_shared<Completion>();
    std::vector<std::pair<size_t, Item>> work;  // (target context, item)
    for (size_t i = 0; i < events.size(); ++i) {
        if (const auto* to = targets(events[i]->type)) {
            for (size_t target : *to) work.emplace_back(target, Item{events[i], done, {}, i});
        }
    }
    if (work.empty()) return;
    done->pending = work.size();
    for (auto& [target, item] : work) enqueue(*contexts_[target], std::move(item), true);
    std::unique_lock lock(done->mutex);
    done->cv.wait(lock, [&] { return done->pending == 0; });
    outputs.insert(outputs.end(), done->outputs.begin(), done->outputs.end());
    std::sort(done->failures.begin(), done->failures.end(),
              [](const EventFailure& a, const EventFailure& b) { return a.index < b.index; });
    failures.insert(failures.end(), done->failures.begin(), done->failures.end());
}

Status ContextRuntime::flush(std::vector<EventPtr>& outputs) {
    auto done = std::make_shared<Completion>();
    done->pending = contexts_.size();
    for (auto& c : contexts_) enqueue(*c, Item{nullptr, done, {}}, true);
    std::unique_lock lock(done->mutex);
    done->cv.wait(lock, [&] { return done->pending == 0; });
    outputs.insert(outputs.end(), done->outputs.begin(), done->outputs.end());
    return done->error;
}

Status ContextRuntime::on_each(const std::function<Status(size_t, Engine&)>& task) {
    auto done = std::make_shared<Completion>();
    done->pending = contexts_.size();
    for (size_t i = 0; i < contexts_.size(); ++i) {
        enqueue(*contexts_[i], Item{nullptr, done, [&task, i](Engine& e) { return task(i, e); }}, true);
    }
    std::unique_lock lock(done->mutex);
    done->cv.wait(lock, [&] { return done->pending == 0; });
    return done->error;
}

std::vector<const Engine*> ContextRuntime::engines() const {
    std::vector<const Engine*> out;
    for (const auto& c : contexts_) out.push_back(c->engine.get());
    return out;
}

}  // namespace varpulis::engine
