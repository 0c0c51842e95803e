// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/runtime.hpp"

#include "varpulis/engine/context_runtime.hpp"
#include "varpulis/engine/event_file.hpp"
#include "varpulis/engine/plan_compiler.hpp"
#include "varpulis/vpl/frontend.hpp"

namespace varpulis::engine {

using common::Result;
using common::Status;

namespace {

vpl::Diagnostic refusal(const Status& st) { return {vpl::Severity::Error, "E095", st.message(), "", st.span()}; }

/// Open the sink of every connector the plan's `.to()`s name, once each, in order of first use.
Status open_sinks(Plan& plan, const RuntimeOptions& options) {
    for (auto& sink : plan.sinks) {
        sink.config.file_root = options.file_root;
        auto opened = make_sink(sink.config);
        if (!opened) return stream_error(opened.status(), sink.stream, sink.span);
        sink.slot->sink = std::move(*opened);
    }
    return Status::ok();
}

/// Bind the sinks of a context's plan to those opened for the whole program's plan.
void share_sinks(Plan& plan, const Plan& opened) {
    for (auto& sink : plan.sinks) {
        for (const auto& o : opened.sinks) {
            if (o.config.name == sink.config.name) sink.slot->sink = o.slot->sink;
        }
    }
}

}  // namespace

Runtime::~Runtime() = default;

LoadResult Runtime::from_source(std::string_view source, const RuntimeOptions& options) {
    PlanResult compiled = compile(source, options);
    LoadResult result;
    result.diagnostics = std::move(compiled.diagnostics);
    if (!compiled.plan) return result;
    auto rt = start(std::move(*compiled.plan), options);
    if (!rt) {
        result.diagnostics.push_back(refusal(rt.status()));
        return result;
    }
    result.runtime = std::move(*rt);
    return result;
}

PlanResult Runtime::compile(std::string_view source, const RuntimeOptions& options) {
    PlanResult result;
    vpl::ParseResult checked = vpl::check(source);
    bool valid = checked.ok();
    result.diagnostics = std::move(checked.diagnostics);
    if (!valid) return result;
    auto plan = compile_program(*checked.program, options.engine);
    if (!plan) {
        result.diagnostics.push_back(refusal(plan.status()));
        return result;
    }
    result.plan = std::move(*plan);
    return result;
}

Result<std::unique_ptr<Runtime>> Runtime::start(ProgramPlan plan, const RuntimeOptions& options) {
    VP_RETURN_NOT_OK(open_sinks(plan.program, options));
    for (auto& context : plan.contexts) share_sinks(context.plan, plan.program);
    std::unique_ptr<Runtime> rt(new Runtime());
    // With contexts, the whole program's engine carries the metadata (streams, timers, bindings,
    // sink health) and the work runs in the context engines.
    bool contexts = !plan.contexts.empty();
    VP_ASSIGN_OR_RETURN(auto engine, Engine::create(std::move(plan.program)));
    if (contexts) {
        VP_ASSIGN_OR_RETURN(rt->contexts_, ContextRuntime::create(std::move(plan.contexts), options.context_queue_capacity));
        rt->shape_ = std::move(engine);
    } else {
        rt->engine_ = std::move(engine);
    }
    rt->next_fire_.resize(rt->timers().size());
    rt->file_root_ = options.file_root;
    return rt;
}

const Engine& Runtime::first_engine() const { return engine_ ? *engine_ : *shape_; }

Status Runtime::push(const EventPtr& event, std::vector<EventPtr>& outputs) {
    last_timestamp_.store(event->timestamp, std::memory_order_relaxed);  // a default for later events only
    if (contexts_) {
        std::vector<EventFailure> failures;
        contexts_->push_many({event}, outputs, failures);
        return failures.empty() ? Status::ok() : failures.front().status;
    }
    std::lock_guard lock(mutex_);
    return engine_->process(event, outputs);
}

Status Runtime::push(std::string_view type, std::vector<std::pair<std::string, Value>> fields,
                     std::optional<int64_t> timestamp, std::vector<EventPtr>& outputs) {
    return push(make_event(type, std::move(fields), timestamp.value_or(last_timestamp())), outputs);
}

void Runtime::push_many(const std::vector<EventPtr>& events, std::vector<EventPtr>& outputs,
                        std::vector<EventFailure>& failures) {
    if (events.empty()) return;
    last_timestamp_.store(events.back()->timestamp, std::memory_order_relaxed);
    if (contexts_) return contexts_->push_many(events, outputs, failures);
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < events.size(); ++i) {
        if (Status st = engine_->process(events[i], outputs); !st.is_ok()) failures.push_back({i, std::move(st)});
    }
}

Status Runtime::push_many(const std::vector<EventPtr>& events, std::vector<EventPtr>& outputs) {
    std::vector<EventFailure> failures;
    push_many(events, outputs, failures);
    if (failures.empty()) return Status::ok();
    return failures.front().status.with_context("event " + std::to_string(failures.front().index));
}

Status Runtime::flush(std::vector<EventPtr>& outputs) {
    if (contexts_) return contexts_->flush(outputs);
    std::lock_guard lock(mutex_);
    return engine_->flush(outputs);
}

Status Runtime::run_file(const std::string& path, std::vector<EventPtr>& outputs) {
    VP_RETURN_NOT_OK(read_event_file(path, [&](EventPtr e) { return push(e, outputs); }));
    return flush(outputs);
}

Status Runtime::advance_time(int64_t now_ns, std::vector<EventPtr>& outputs) {
    const auto& timers = this->timers();
    if (timers.empty()) return Status::ok();
    if (!timer_origin_) {
        timer_origin_ = now_ns;
        for (size_t i = 0; i < timers.size(); ++i) next_fire_[i] = now_ns + timers[i].initial_delay_ns;
    }
    static const Symbol kTimestamp = intern("timestamp");
    // Fire in time order across timers, each at most as often as its interval.
    for (;;) {
        size_t due = timers.size();
        for (size_t i = 0; i < timers.size(); ++i) {
            if (next_fire_[i] <= now_ns && (due == timers.size() || next_fire_[i] < next_fire_[due])) due = i;
        }
        if (due == timers.size()) return Status::ok();
        auto e = std::make_shared<Event>();
        e->type = timers[due].event_type;
        e->timestamp = next_fire_[due];
        e->fields.emplace_back(kTimestamp, Value(next_fire_[due] / 1'000'000));
        next_fire_[due] += timers[due].interval_ns;
        VP_RETURN_NOT_OK(push(e, outputs));
    }
}

common::Result<nlohmann::json> Runtime::checkpoint() {
    if (!contexts_) {
        std::lock_guard lock(mutex_);
        return nlohmann::json{{"engine", engine_->checkpoint()}};
    }
    std::vector<nlohmann::json> parts(contexts_->engines().size());
    VP_RETURN_NOT_OK(contexts_->on_each([&](size_t i, Engine& e) {
        parts[i] = e.checkpoint();
        return Status::ok();
    }));
    return nlohmann::json{{"contexts", parts}};
}

Status Runtime::restore(const nlohmann::json& state) {
    if (!contexts_) {
        if (!state.is_object() || !state.contains("engine")) return Status(common::ErrorCode::Invalid, "not a checkpoint of this pipeline");
        std::lock_guard lock(mutex_);
        return engine_->restore(state["engine"]);
    }
    if (!state.is_object() || !state.contains("contexts") || !state["contexts"].is_array() ||
        state["contexts"].size() != contexts_->engines().size()) {
        return Status(common::ErrorCode::Invalid, "not a checkpoint of this pipeline (contexts differ)");
    }
    return contexts_->on_each([&](size_t i, Engine& e) { return e.restore(state["contexts"][i]); });
}

std::vector<std::string> Runtime::stream_names() const {
    std::vector<std::string> out;
    for (const auto& s : first_engine().streams()) out.push_back(s->name);
    return out;
}

std::vector<std::string> Runtime::contexts() const { return first_engine().contexts(); }
const std::vector<TimerSpec>& Runtime::timers() const { return first_engine().timers(); }
const std::vector<SourceBinding>& Runtime::source_bindings() const { return first_engine().source_bindings(); }
const ConnectorConfig* Runtime::connector(const std::string& name) const { return first_engine().connector(name); }
std::vector<ConnectorHealth> Runtime::sink_health() const { return first_engine().sink_health(); }
std::vector<NamedSink> Runtime::sinks() const { return first_engine().sinks(); }
bool Runtime::may_wait() const { return first_engine().may_wait(); }

std::unique_lock<std::recursive_mutex> Runtime::try_hold() const {
    if (contexts_) return {};
    return std::unique_lock(mutex_, std::try_to_lock);
}

namespace {

RuntimeStats engine_stats(const Engine& e) {
    RuntimeStats s;
    s.events_in = e.stats().events_in;
    s.outputs = e.stats().outputs;
    s.errors = e.stats().errors;
    s.dropped_by_depth = e.stats().dropped_by_depth;
    s.held = e.held();
    s.evicted = e.evicted();
    s.state_bytes = e.state_bytes();
    return s;
}

}  // namespace

RuntimeStats& RuntimeStats::operator+=(const RuntimeStats& o) {
    events_in += o.events_in;
    outputs += o.outputs;
    errors += o.errors;
    dropped_by_depth += o.dropped_by_depth;
    held += o.held;
    evicted += o.evicted;
    state_bytes += o.state_bytes;
    return *this;
}

RuntimeStats Runtime::stats() const {
    if (engine_) {
        std::lock_guard lock(mutex_);
        return engine_stats(*engine_);
    }
    // A context's engine is read on its own thread, between events: its counters, and the state
    // held() walks, change under any other thread's feet.
    std::vector<RuntimeStats> parts(contexts_->engines().size());
    (void)contexts_->on_each([&](size_t i, Engine& e) {
        parts[i] = engine_stats(e);
        return Status::ok();
    });
    RuntimeStats out;
    for (const auto& p : parts) out += p;
    return out;
}

std::optional<Value> Runtime::variable(const std::string& name) const { return first_engine().variable(name); }

}  // namespace varpulis::engine
