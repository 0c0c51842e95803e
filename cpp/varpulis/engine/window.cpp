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

void WindowOp::add(const EventPtr& e, State& s, Batch& out) const {
    using K = WindowSpec::Kind;
    switch (spec_.kind) {
        case K::CountTumbling:
            s.events.push_back(e);
            if (static_cast<int64_t>(s.events.size()) >= spec_.size) {
                out.insert(out.end(), s.events.begin(), s.events.end());
                s.events.clear();
            }
            break;
        case K::CountSliding:
            s.events.push_back(e);
            ++s.since_emit;
            if (static_cast<int64_t>(s.events.size()) > spec_.size) s.events.pop_front();
            if (static_cast<int64_t>(s.events.size()) >= spec_.size && s.since_emit >= spec_.slide) {
                out.insert(out.end(), s.events.begin(), s.events.end());
                s.since_emit = 0;
            }
            break;
        case K::TimeTumbling:
            // Anchored at the first event; a later event at or past the end closes the window.
            if (s.events.empty() && !s.emitted) s.start = e->timestamp;
            if (e->timestamp >= s.start + spec_.size) {
                out.insert(out.end(), s.events.begin(), s.events.end());
                s.events.clear();
                s.start = e->timestamp;
            }
            s.emitted = true;
            s.events.push_back(e);
            break;
        case K::TimeSliding:
            s.events.push_back(e);
            while (!s.events.empty() && s.events.front()->timestamp < e->timestamp - spec_.size) s.events.pop_front();
            if (!s.emitted || e->timestamp >= s.last_emit + spec_.slide) {
                out.insert(out.end(), s.events.begin(), s.events.end());
                s.last_emit = e->timestamp;
                s.emitted = true;
            }
            break;
        case K::Session:
            if (!s.events.empty() && e->timestamp - s.events.back()->timestamp > spec_.size) {
                out.insert(out.end(), s.events.begin(), s.events.end());
                s.events.clear();
            }
            s.events.push_back(e);
            break;
    }
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
        auto& s = states_.get(key);
        out.insert(out.end(), s.events.begin(), s.events.end());
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
    states_.clear();
    if (!state.is_object() || !state.contains("partitions")) return common::Status(common::ErrorCode::Invalid, "bad window state");
    for (const auto& p : state["partitions"]) {
        State& s = states_.get(p.at("key").get<std::string>());
        for (const auto& e : p.at("events")) {
            VP_ASSIGN_OR_RETURN(auto ev, load_event(e));
            s.events.push_back(std::move(ev));
        }
        s.start = p.at("start").get<int64_t>();
        s.last_emit = p.at("last_emit").get<int64_t>();
        s.since_emit = p.at("since_emit").get<int64_t>();
        s.emitted = p.at("emitted").get<bool>();
    }
    return common::Status::ok();
}

}  // namespace varpulis::engine
