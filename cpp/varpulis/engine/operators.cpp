// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/operators.hpp"

#include <cstdio>
#include <iostream>

namespace varpulis::engine {

namespace {

EvalContext at(const OpContext& ctx, const Event& e) {
    EvalContext ec = ctx.eval;
    ec.event = &e;
    return ec;
}

}  // namespace

void WhereOp::apply(Batch& batch, OpContext& ctx) {
    std::erase_if(batch, [&](const EventPtr& e) { return !cond_->test(at(ctx, *e)); });
}

void SelectOp::apply(Batch& batch, OpContext& ctx) {
    for (auto& e : batch) {
        auto out = std::make_shared<Event>();
        out->type = e->type;
        out->timestamp = e->timestamp;
        EvalContext ec = at(ctx, *e);
        for (const auto& item : items_) {
            Value v = item.value->value(ec);
            if (!v.is_null()) out->fields.emplace_back(item.name, std::move(v));
        }
        e = std::move(out);
    }
}

void EmitOp::apply(Batch& batch, OpContext& ctx) {
    for (auto& e : batch) {
        auto out = std::make_shared<Event>();
        out->type = ctx.stream_name;
        out->timestamp = e->timestamp;
        out->fields.reserve(items_.size());
        EvalContext ec = at(ctx, *e);
        for (const auto& item : items_) {
            Value scratch;
            const Value& v = item.value->eval(ec, scratch);
            if (v.is_null()) continue;
            out->fields.emplace_back(item.name, &v == &scratch ? std::move(scratch) : v);
        }
        e = std::move(out);
    }
}

void PrintOp::apply(Batch& batch, OpContext& ctx) {
    for (const auto& e : batch) {
        std::string line;
        if (items_.empty()) {
            line = "[" + symbol_name(ctx.stream_name) + "] " + describe(*e);
        } else {
            line = "[PRINT]";
            EvalContext ec = at(ctx, *e);
            for (const auto& item : items_) line += " " + item->value(ec).to_source();
        }
        line += "\n";
        std::fwrite(line.data(), 1, line.size(), stdout);
    }
}

void LogOp::apply(Batch& batch, OpContext& ctx) {
    for (const auto& e : batch) {
        std::string line = "[" + level_ + "] " + (message_.empty() ? e->type_name() : message_);
        if (data_) line += " " + data_->value(at(ctx, *e)).to_source();
        std::cerr << line << "\n";
    }
}

void DistinctOp::apply(Batch& batch, OpContext& ctx) {
    std::erase_if(batch, [&](const EventPtr& e) {
        std::string key;
        if (key_) {
            key = key_->value(at(ctx, *e)).to_source();
        } else {
            for (const auto& [name, value] : e->fields) key += symbol_name(name) + "=" + value.to_source() + ";";
        }
        if (auto it = seen_.find(key); it != seen_.end()) {
            order_.splice(order_.end(), order_, it->second);  // seen again: most recent now
            return true;
        }
        remember(std::move(key));
        if (order_.size() > capacity_) forget_oldest();
        while (budget_ && budget_->over() && order_.size() > 1) {
            forget_oldest();
            ++evicted_;
        }
        return false;
    });
}

// A key is held twice (the list and the index) beside their nodes.
static size_t distinct_key_bytes(const std::string& key) { return 2 * key.size() + 96; }

void DistinctOp::remember(std::string key) {
    if (budget_) budget_->hold(distinct_key_bytes(key));
    order_.push_back(std::move(key));
    seen_.emplace(order_.back(), std::prev(order_.end()));
}

void DistinctOp::forget_oldest() {
    if (budget_) budget_->release(distinct_key_bytes(order_.front()));
    seen_.erase(order_.front());
    order_.pop_front();
}

nlohmann::json DistinctOp::save() const { return {{"keys", order_}}; }

common::Status DistinctOp::load(const nlohmann::json& state) {
    while (!order_.empty()) forget_oldest();
    if (!state.is_object() || !state.contains("keys")) return common::Status(common::ErrorCode::Invalid, "bad distinct state");
    for (const auto& k : state["keys"]) remember(k.get<std::string>());
    if (budget_ && budget_->over()) return over_budget_error(*budget_);
    return common::Status::ok();
}

common::Status LimitOp::load(const nlohmann::json& state) {
    if (!state.is_object() || !state.contains("remaining")) return common::Status(common::ErrorCode::Invalid, "bad limit state");
    remaining_ = state["remaining"].get<int64_t>();
    return common::Status::ok();
}

void LimitOp::apply(Batch& batch, OpContext&) {
    if (remaining_ <= 0) {
        batch.clear();
        return;
    }
    if (static_cast<int64_t>(batch.size()) > remaining_) batch.resize(static_cast<size_t>(remaining_));
    remaining_ -= static_cast<int64_t>(batch.size());
}

void ToOp::apply(Batch& batch, OpContext&) {
    Sink& sink = *slot_->sink;
    for (const auto& e : batch) sink.send(*e, topic_);
}

void ToOp::flush(Batch&, OpContext&) { slot_->sink->flush(); }

void ProcessOp::apply(Batch& batch, OpContext& ctx) {
    Batch out;
    for (const auto& e : batch) {
        EmitCollector collector;
        collector.timestamp = e->timestamp;
        EvalContext ec = at(ctx, *e);
        ec.emits = &collector;
        (void)call_->value(ec);
        for (auto& emitted : collector.events) out.push_back(std::move(emitted));
    }
    batch = std::move(out);
}

void MergeFilterOp::apply(Batch& batch, OpContext& ctx) {
    std::erase_if(batch, [&](const EventPtr& e) {
        for (const auto& input : inputs_) {
            if (input.type == e->type && (!input.filter || input.filter->test(at(ctx, *e)))) return false;
        }
        return true;
    });
}

}  // namespace varpulis::engine
