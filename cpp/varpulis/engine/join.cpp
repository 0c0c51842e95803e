// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/join.hpp"

#include "varpulis/engine/checkpoint.hpp"

namespace varpulis::engine {

void JoinOp::apply(Batch& batch, OpContext& ctx) {
    Batch out;
    for (const auto& e : batch) on_event(e, ctx, out);
    batch = std::move(out);
}

void JoinOp::on_event(const EventPtr& e, OpContext& ctx, Batch& out) {
    EvalContext ec = ctx.eval;
    ec.event = e.get();
    bool any = false;
    std::string key;
    for (size_t i = 0; i < sources_.size(); ++i) {
        const JoinSource& src = sources_[i];
        if (src.name != e->type || (src.filter && !src.filter->test(ec))) continue;
        std::string k;
        if (src.key) {
            Value v = src.key->value(ec);
            if (v.is_null()) continue;  // an event without its key joins nothing
            k = v.to_source();
        }
        auto& q = buffers_[i][k];
        hold(q, e);
        if (q.size() > max_per_key_) drop_front(q);
        keep_to_budget(q);
        key = k;
        any = true;
    }
    if (!any) return;
    // Expire everything older than the window, then join on the arriving event's key.
    std::vector<const Event*> parts;
    for (auto& per_source : buffers_) {
        for (auto it = per_source.begin(); it != per_source.end();) {
            auto& q = it->second;
            while (!q.empty() && q.front()->timestamp < e->timestamp - window_ns_) drop_front(q);
            it = q.empty() ? per_source.erase(it) : std::next(it);
        }
        auto found = per_source.find(key);
        if (found == per_source.end() || found->second.empty()) return;
        parts.push_back(found->second.back().get());
    }
    out.push_back(joined(parts, ctx));
}

void JoinOp::hold(std::deque<EventPtr>& q, const EventPtr& e) {
    q.push_back(e);
    if (budget_) budget_->hold(event_bytes(*e));
}

void JoinOp::drop_front(std::deque<EventPtr>& q) {
    if (budget_) budget_->release(event_bytes(*q.front()));
    q.pop_front();
}

void JoinOp::keep_to_budget(std::deque<EventPtr>& q) {
    if (!budget_) return;
    // As a window does: this key's oldest first, then the new event itself is not kept.
    while (budget_->over() && !q.empty()) {
        if (q.size() > 1) {
            drop_front(q);
        } else {
            budget_->release(event_bytes(*q.back()));
            q.pop_back();
        }
        ++evicted_;
    }
}

void JoinOp::release_all() {
    for (auto& per_source : buffers_) {
        for (auto& [k, q] : per_source) {
            while (!q.empty()) drop_front(q);
        }
        per_source.clear();
    }
}

EventPtr JoinOp::joined(const std::vector<const Event*>& parts, const OpContext& ctx) const {
    auto out = std::make_shared<Event>();
    out->type = ctx.stream_name;
    for (size_t i = 0; i < parts.size(); ++i) {
        const Event& p = *parts[i];
        out->timestamp = std::max(out->timestamp, p.timestamp);
        const std::string& label = sources_[i].label;
        bool type_differs = p.type_name() != label;
        for (const auto& [name, value] : p.fields) {
            out->fields.emplace_back(intern(label + "." + symbol_name(name)), value);
            if (type_differs) out->fields.emplace_back(intern(p.type_name() + "." + symbol_name(name)), value);
        }
    }
    // Unprefixed fields too, the first source winning on conflicts.
    for (const Event* p : parts) {
        for (const auto& [name, value] : p->fields) {
            if (!out->get(name)) out->fields.emplace_back(name, value);
        }
    }
    return out;
}

size_t JoinOp::held() const {
    size_t n = 0;
    for (const auto& per_source : buffers_) {
        for (const auto& [k, q] : per_source) n += q.size();
    }
    return n;
}

nlohmann::json JoinOp::save() const {
    Json sources = Json::array();
    for (const auto& per_source : buffers_) {
        Json keys = Json::array();
        for (const auto& [k, q] : per_source) {
            Json events = Json::array();
            for (const auto& e : q) events.push_back(save_event(e));
            keys.push_back({{"key", k}, {"events", events}});
        }
        sources.push_back(keys);
    }
    return {{"sources", sources}};
}

common::Status JoinOp::load(const nlohmann::json& state) {
    if (!state.is_object() || !state.contains("sources") || state["sources"].size() != buffers_.size()) {
        return common::Status(common::ErrorCode::Invalid, "join state does not match this program");
    }
    release_all();
    for (size_t i = 0; i < buffers_.size(); ++i) {
        for (const auto& k : state["sources"][i]) {
            auto& q = buffers_[i][k.at("key").get<std::string>()];
            for (const auto& e : k.at("events")) {
                VP_ASSIGN_OR_RETURN(auto ev, load_event(e));
                hold(q, ev);
            }
        }
    }
    if (budget_ && budget_->over()) return over_budget_error(*budget_);
    return common::Status::ok();
}

}  // namespace varpulis::engine
