// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/window.hpp"

#include <charconv>

#include "varpulis/engine/checkpoint.hpp"

namespace varpulis::engine {

void partition_key(const CompiledExpr* key, const Event& e, const OpContext& ctx, std::string& out) {
    if (!key) {
        out.clear();
        return;
    }
    EvalContext ec = ctx.eval;
    ec.event = &e;
    Value scratch;
    const Value& v = key->eval(ec, scratch);
    if (v.is_string()) {
        out.assign(v.as_string());
    } else if (v.is_null()) {
        out.assign("default");
    } else if (v.is_int()) {  // the common key, written in place: no temporary string
        char digits[24];
        auto end = std::to_chars(digits, digits + sizeof digits, v.as_int()).ptr;
        out.assign(digits, end);
    } else {
        out = v.to_display();
    }
}

void WindowOp::hold(State& s, const EventPtr& e) {
    s.events.push_back(e);
    if (budget_) {
        const size_t bytes = event_bytes(*e);
        s.bytes += bytes;
        budget_->hold(bytes);
    }
}

void WindowOp::drop_front(State& s) {
    if (budget_) {
        const size_t bytes = event_bytes(*s.events.front());
        s.bytes -= bytes;
        budget_->release(bytes);
    }
    s.events.pop_front();
}

void WindowOp::emit_all(State& s, Batch& out) {
    out.insert(out.end(), s.events.begin(), s.events.end());
    release_all(s);
}

void WindowOp::release_all(State& s) {
    if (budget_) budget_->release(s.bytes);
    s.bytes = 0;
    s.events.clear();
}

void WindowOp::keep_to_budget(State& s) {
    if (!budget_ || !budget_->over()) return;
    // The oldest events of this partition go first; when it holds only the new one (state spread
    // over many partitions), the new event is not held. Either way the loss is counted.
    while (budget_->over() && !s.events.empty()) {
        if (s.events.size() > 1) {
            drop_front(s);
        } else {
            release_all(s);
        }
        ++evicted_;
    }
}

void WindowOp::add(const EventPtr& e, State& s, Batch& out) {
    using K = WindowSpec::Kind;
    switch (spec_.kind) {
        case K::CountTumbling:
            hold(s, e);
            if (static_cast<int64_t>(s.events.size()) >= spec_.size) emit_all(s, out);
            break;
        case K::CountSliding:
            hold(s, e);
            ++s.since_emit;
            if (static_cast<int64_t>(s.events.size()) > spec_.size) drop_front(s);
            if (static_cast<int64_t>(s.events.size()) >= spec_.size && s.since_emit >= spec_.slide) {
                out.insert(out.end(), s.events.begin(), s.events.end());
                s.since_emit = 0;
            }
            break;
        case K::TimeTumbling:
            // Anchored at the first event; a later event at or past the end closes the window.
            if (s.events.empty() && !s.emitted) s.start = e->timestamp;
            if (e->timestamp >= s.start + spec_.size) {
                emit_all(s, out);
                s.start = e->timestamp;
            }
            s.emitted = true;
            hold(s, e);
            break;
        case K::TimeSliding:
            hold(s, e);
            while (!s.events.empty() && s.events.front()->timestamp < e->timestamp - spec_.size) drop_front(s);
            if (!s.emitted || e->timestamp >= s.last_emit + spec_.slide) {
                out.insert(out.end(), s.events.begin(), s.events.end());
                s.last_emit = e->timestamp;
                s.emitted = true;
            }
            break;
        case K::Session:
            if (!s.events.empty() && e->timestamp - s.events.back()->timestamp > spec_.size) emit_all(s, out);
            hold(s, e);
            break;
    }
    keep_to_budget(s);
}

void WindowOp::apply(Batch& batch, OpContext& ctx) {
    out_.clear();
    for (const auto& e : batch) {
        partition_key(key_.get(), *e, ctx, key_buffer_);
        add(e, states_.get(key_buffer_), out_);
    }
    batch.swap(out_);
}

void WindowOp::flush(Batch& out, OpContext&) {
    using K = WindowSpec::Kind;
    if (spec_.kind != K::TimeTumbling && spec_.kind != K::Session) return;  // count windows never flush partial
    for (const auto& key : states_.sorted_keys()) {
        emit_all(states_.get(key), out);
    }
    states_.clear();
}

size_t WindowOp::held() const {
    size_t n = 0;
    for (const auto& [k, s] : states_.entries()) n += s.events.size();
    return n;
}

}  // namespace varpulis::engine

namespace varpulis::engine {

nlohmann::json WindowOp::save() const {
    Json parts = Json::array();
    for (const auto& [key, s] : states_.entries()) {
        Json events = Json::array();
        for (const auto& e : s.events) events.push_back(save_event(e));
        parts.push_back({{"key", key}, {"events", events}, {"start", s.start}, {"last_emit", s.last_emit},
                         {"since_emit", s.since_emit}, {"emitted", s.emitted}});
    }
    return {{"partitions", parts}};
}

common::Status WindowOp::load(const nlohmann::json& state) {
    for (auto& [key, s] : states_.entries()) release_all(s);
    states_.clear();
    if (!state.is_object() || !state.contains("partitions")) return common::Status(common::ErrorCode::Invalid, "bad window state");
    for (const auto& p : state["partitions"]) {
        State& s = states_.get(p.at("key").get<std::string>());
        for (const auto& e : p.at("events")) {
            VP_ASSIGN_OR_RETURN(auto ev, load_event(e));
            hold(s, ev);
        }
        s.start = p.at("start").get<int64_t>();
        s.last_emit = p.at("last_emit").get<int64_t>();
        s.since_emit = p.at("since_emit").get<int64_t>();
        s.emitted = p.at("emitted").get<bool>();
    }
    if (budget_ && budget_->over()) return over_budget_error(*budget_);
    return common::Status::ok();
}

}  // namespace varpulis::engine
