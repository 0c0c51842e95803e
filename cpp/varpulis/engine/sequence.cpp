// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/sequence.hpp"

#include "varpulis/engine/checkpoint.hpp"

namespace varpulis::engine {

bool SequenceOp::matches(const SequenceStep& step, const Event& e, const EventPtr* captures, OpContext& ctx) const {
    if (e.type != step.type) return false;
    if (!step.filter) return true;
    EvalContext ec = ctx.eval;
    ec.event = &e;
    ec.captures = captures;
    return step.filter->test(ec);
}

void SequenceOp::capture(Run& run, const SequenceStep& step, const EventPtr& e) const {
    if (step.alias < 0) return;
    run.captures[static_cast<size_t>(step.alias)] = e;
}

EventPtr SequenceOp::match_event(const Run& run, const Event& last, const OpContext& ctx) const {
    static const Symbol kStream = intern("stream");
    static const Symbol kDuration = intern("match_duration_ms");
    auto out = std::make_shared<Event>();
    out->type = ctx.stream_name;
    out->timestamp = last.timestamp;
    out->fields.reserve(2 + 4 * spec_.aliases.size());
    out->fields.emplace_back(kStream, Value(symbol_name(ctx.stream_name)));
    out->fields.emplace_back(kDuration, Value(static_cast<double>(last.timestamp - run.start) / 1e6));
    for (size_t i = 0; i < spec_.aliases.size(); ++i) {
        const Event* c = run.captures[i].get();
        if (!c) continue;
        for (const auto& [name, value] : c->fields) out->fields.emplace_back(match_field(i, name), value);
    }
    return out;
}

Symbol SequenceOp::match_field(size_t alias, Symbol field) const {
    uint64_t key = (static_cast<uint64_t>(alias) << 32) | field;
    auto it = match_fields_.find(key);
    if (it != match_fields_.end()) return it->second;
    Symbol s = intern(spec_.aliases[alias] + "_" + symbol_name(field));
    match_fields_.emplace(key, s);
    return s;
}

void SequenceOp::apply_negations(const Event& e, OpContext& ctx) {
    for (const auto& neg : spec_.negations) {
        if (neg.type != e.type) continue;
        for (auto& [key, runs] : partitions_.entries()) {
            for (auto& run : runs) {
                if (run.dead || (neg.only_before_step && run.state != *neg.only_before_step)) continue;
                if (neg.only_before_step && run.in_kleene) continue;
                bool kill = true;
                if (neg.filter) {
                    EvalContext ec = ctx.eval;
                    ec.event = &e;
                    ec.captures = run.captures.data();
                    kill = neg.filter->test(ec);
                }
                run.dead = run.dead || kill;
            }
        }
    }
}

void SequenceOp::advance(Run& run, const EventPtr& e, OpContext& ctx, Batch& out) {
    const size_t last = spec_.steps.size() - 1;
    const SequenceStep& step = spec_.steps[run.state];
    if (step.kleene && matches(step, *e, run.captures.data(), ctx)) {
        if (run.in_kleene && run.state != last && run.kleene_count >= spec_.max_kleene) return;
        capture(run, step, e);
        run.in_kleene = true;
        ++run.kleene_count;
        if (run.state == last) out.push_back(match_event(run, *e, ctx));  // complete and continue
        return;
    }
    if (step.kleene && !run.in_kleene) return;  // Kleene+ needs one match before moving on
    size_t next = step.kleene ? run.state + 1 : run.state;
    if (next > last || !matches(spec_.steps[next], *e, run.captures.data(), ctx)) return;
    capture(run, spec_.steps[next], e);
    run.state = next + 1;
    run.in_kleene = false;
    run.kleene_count = 0;
    if (run.state > last) {
        out.push_back(match_event(run, *e, ctx));
        run.dead = true;
    } else if (spec_.steps[run.state].kleene) {
        // waits for its first Kleene event
    }
}

void SequenceOp::on_event(const EventPtr& e, OpContext& ctx, Batch& out) {
    apply_negations(*e, ctx);
    partition_key(spec_.partition.get(), *e, ctx, key_buffer_);
    auto partition = partitions_.find_or_make(key_buffer_);
    auto& runs = partition->second;
    if (spec_.within_ns > 0) {
        for (auto& run : runs) {
            if (e->timestamp > run.start + spec_.within_ns) run.dead = true;
        }
    }
    for (auto& run : runs) {
        if (!run.dead) advance(run, e, ctx, out);
    }
    runs_total_ -= std::erase_if(runs, [](const Run& r) { return r.dead; });

    // Tested before a run is made: most events start none, and a run's captures are an allocation.
    const SequenceStep& first = spec_.steps[0];
    if (!matches(first, *e, no_captures_.data(), ctx)) {
        if (runs.empty()) partitions_.erase(partition);
        return;
    }
    Run fresh;
    fresh.captures.resize(spec_.aliases.size());
    fresh.start = e->timestamp;
    capture(fresh, first, e);
    if (first.kleene) {
        fresh.in_kleene = true;
        fresh.kleene_count = 1;
        if (spec_.steps.size() == 1) out.push_back(match_event(fresh, *e, ctx));
    } else {
        fresh.state = 1;
        if (spec_.steps.size() == 1) {
            out.push_back(match_event(fresh, *e, ctx));
            return;
        }
    }
    if (runs.size() >= spec_.max_runs) {
        runs.erase(runs.begin());  // rare: only a full partition pays the shift
        --runs_total_;
        ++evicted_;
    } else if (runs_total_ >= spec_.max_runs_total) {
        // Every partition together is full (unique keys): the new run is the one not kept.
        ++evicted_;
        if (runs.empty()) partitions_.erase(partition);
        return;
    }
    runs.push_back(std::move(fresh));
    ++runs_total_;
}

void SequenceOp::apply(Batch& batch, OpContext& ctx) {
    out_.clear();
    for (const auto& e : batch) on_event(e, ctx, out_);
    batch.swap(out_);
}

size_t SequenceOp::held() const {
    size_t n = 0;
    for (const auto& [k, runs] : partitions_.entries()) n += runs.size();
    return n;
}

nlohmann::json SequenceOp::save() const {
    Json parts = Json::array();
    for (const auto& [key, runs] : partitions_.entries()) {
        Json rs = Json::array();
        for (const auto& r : runs) {
            Json captures = Json::array();
            for (const auto& c : r.captures) captures.push_back(save_event(c));
            rs.push_back({{"state", r.state}, {"in_kleene", r.in_kleene}, {"kleene_count", r.kleene_count},
                          {"start", r.start}, {"captures", captures}});
        }
        parts.push_back({{"key", key}, {"runs", rs}});
    }
    return {{"partitions", parts}, {"evicted", evicted_}};
}

common::Status SequenceOp::load(const nlohmann::json& state) {
    partitions_.clear();
    runs_total_ = 0;
    if (!state.is_object() || !state.contains("partitions")) return common::Status(common::ErrorCode::Invalid, "bad sequence state");
    for (const auto& p : state["partitions"]) {
        auto& runs = partitions_.get(p.at("key").get<std::string>());
        for (const auto& r : p.at("runs")) {
            Run run;
            run.state = r.at("state").get<size_t>();
            run.in_kleene = r.at("in_kleene").get<bool>();
            run.kleene_count = r.at("kleene_count").get<size_t>();
            run.start = r.at("start").get<int64_t>();
            for (const auto& c : r.at("captures")) {
                VP_ASSIGN_OR_RETURN(auto ev, load_event(c));
                run.captures.push_back(std::move(ev));
            }
            if (run.captures.size() != spec_.aliases.size() || run.state >= spec_.steps.size()) {
                return common::Status(common::ErrorCode::Invalid, "sequence state does not match this program");
            }
            runs.push_back(std::move(run));
        }
    }
    evicted_ = state.value("evicted", uint64_t{0});
    runs_total_ = held();
    return common::Status::ok();
}

}  // namespace varpulis::engine
