// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/engine.hpp"

#include <algorithm>

#include "varpulis/engine/checkpoint.hpp"

namespace varpulis::engine {

using common::ErrorCode;
using common::Result;
using common::Status;

Result<std::unique_ptr<Engine>> Engine::create(Plan plan) {
    for (const auto& sink : plan.sinks) {
        if (!sink.slot->sink) return Status(ErrorCode::Invalid, "connector '" + sink.config.name + "' is not open");
    }
    return std::unique_ptr<Engine>(new Engine(std::move(plan)));
}

const std::vector<Stream*>* Engine::routes_for(Symbol type) const {
    if (type >= plan_.routes.size() || plan_.routes[type].empty()) return nullptr;
    return &plan_.routes[type];
}

bool Engine::consumes(Symbol type) const { return routes_for(type) != nullptr; }

const ConnectorConfig* Engine::connector(const std::string& name) const {
    auto it = plan_.connectors.find(name);
    return it == plan_.connectors.end() ? nullptr : &it->second;
}

std::vector<ConnectorHealth> Engine::sink_health() const {
    std::vector<ConnectorHealth> out;
    for (const auto& sink : plan_.sinks) {
        if (auto h = sink.slot->sink->health()) {
            h->connector = sink.config.name;
            out.push_back(std::move(*h));
        }
    }
    // By name, whatever the order the program first used them in.
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.connector < b.connector; });
    return out;
}

std::vector<NamedSink> Engine::sinks() const {
    std::vector<NamedSink> out;
    for (const auto& sink : plan_.sinks) out.push_back({sink.config.name, sink.slot->sink});
    return out;
}

OpContext Engine::op_context(const Stream& s) const {
    OpContext ctx;
    ctx.eval.globals = &plan_.globals;
    ctx.eval.functions = plan_.functions.get();
    ctx.stream_name = s.symbol;
    return ctx;
}

void Engine::run_stream(Stream& s, Batch& batch, size_t from_op) {
    OpContext ctx = op_context(s);
    for (size_t i = from_op; i < s.ops.size() && !batch.empty(); ++i) s.ops[i]->apply(batch, ctx);
}

void Engine::deliver(Stream& s, Batch& batch, int depth, std::vector<EventPtr>& outputs) {
    for (auto& e : batch) {
        if (e->type != s.symbol) {  // results are renamed to the stream for its consumers
            auto renamed = std::make_shared<Event>(*e);
            renamed->type = s.symbol;
            e = std::move(renamed);
        }
    }
    if (s.external) {
        outputs.insert(outputs.end(), batch.begin(), batch.end());
        stats_.outputs += batch.size();
    }
    if (exported_ && std::find(exports_.begin(), exports_.end(), s.symbol) != exports_.end()) {
        exported_->insert(exported_->end(), batch.begin(), batch.end());
    }
    if (!consumes(s.symbol)) return;
    if (depth + 1 >= plan_.options.max_depth) {
        stats_.dropped_by_depth += batch.size();
        return;
    }
    for (auto& e : batch) work_.emplace_back(e, depth + 1);
}

std::optional<std::string> Engine::drain(std::vector<EventPtr>& outputs) {
    std::optional<std::string> first_error;
    while (!work_.empty()) {
        auto [e, depth] = std::move(work_.front());
        work_.pop_front();
        const auto* streams = routes_for(e->type);
        if (!streams) continue;
        for (Stream* s : *streams) {
            // A stream's error stops that stream's work on the event, not the other streams'.
            try {
                batch_.clear();
                batch_.push_back(e);
                run_stream(*s, batch_, 0);
                if (!batch_.empty()) deliver(*s, batch_, depth, outputs);
            } catch (const EvalError& err) {
                if (!first_error) first_error = "stream '" + s->name + "': " + err.what();
            } catch (const std::bad_alloc&) {
                // The limits above should leave nothing to reach this; if one is missed, the
                // event fails and the process lives.
                if (!first_error) first_error = "stream '" + s->name + "': out of memory";
            } catch (const std::length_error& err) {
                if (!first_error) first_error = "stream '" + s->name + "': " + err.what();
            }
        }
    }
    return first_error;
}

Status Engine::process(const EventPtr& event, std::vector<EventPtr>& outputs, std::vector<EventPtr>* exported) {
    ++stats_.events_in;
    exported_ = exported;
    work_.clear();
    work_.emplace_back(event, 0);
    if (auto error = drain(outputs)) {
        ++stats_.errors;
        return Status(ErrorCode::Runtime, std::string("while processing ") + event->type_name() + ": " + *error);
    }
    return Status::ok();
}

Status Engine::flush(std::vector<EventPtr>& outputs, std::vector<EventPtr>* exported) {
    exported_ = exported;
    try {
        for (auto& s : plan_.streams) {
            for (size_t i = 0; i < s->ops.size(); ++i) {
                OpContext ctx = op_context(*s);
                Batch batch;
                s->ops[i]->flush(batch, ctx);
                if (batch.empty()) continue;
                run_stream(*s, batch, i + 1);
                if (batch.empty()) continue;
                work_.clear();
                deliver(*s, batch, 0, outputs);
                if (auto error = drain(outputs)) throw EvalError(*error);
            }
        }
    } catch (const EvalError& err) {
        ++stats_.errors;
        return Status(ErrorCode::Runtime, std::string("while flushing: ") + err.what());
    }
    return Status::ok();
}

uint64_t Engine::evicted() const {
    uint64_t n = 0;
    for (const auto& s : plan_.streams) {
        for (const auto& op : s->ops) n += op->evicted();
    }
    return n;
}

size_t Engine::held() const {
    size_t n = 0;
    for (const auto& s : plan_.streams) {
        for (const auto& op : s->ops) n += op->held();
    }
    return n;
}

nlohmann::json Engine::checkpoint() const {
    Json globals = Json::object();
    for (const auto& [name, slot] : plan_.global_slots) globals[name] = save_value(plan_.globals[slot]);
    Json streams = Json::object();
    for (const auto& s : plan_.streams) {
        Json ops = Json::array();
        for (const auto& op : s->ops) ops.push_back(op->save());
        streams[s->name] = ops;
    }
    return {{"version", 1}, {"globals", globals}, {"streams", streams}, {"events_in", stats_.events_in}};
}

Status Engine::restore(const nlohmann::json& state) {
    if (!state.is_object() || state.value("version", 0) != 1 || !state.contains("streams") || !state["streams"].is_object()) {
        return Status(ErrorCode::Invalid, "not a version 1 engine checkpoint");
    }
    for (const auto& s : plan_.streams) {
        auto it = state["streams"].find(s->name);
        if (it == state["streams"].end() || !it->is_array() || it->size() != s->ops.size()) {
            return Status(ErrorCode::Invalid, "the checkpoint does not match this program (stream '" + s->name + "')");
        }
    }
    try {
        for (const auto& s : plan_.streams) {
            const auto& ops = state["streams"][s->name];
            for (size_t i = 0; i < s->ops.size(); ++i) {
                Status st = s->ops[i]->load(ops[i]);
                if (!st.is_ok()) return Status(st.code(), "stream '" + s->name + "': " + st.message());
            }
        }
        if (state.contains("globals") && state["globals"].is_object()) {
            for (const auto& [name, value] : state["globals"].items()) {
                auto slot = plan_.global_slots.find(name);
                if (slot == plan_.global_slots.end()) continue;
                VP_ASSIGN_OR_RETURN(plan_.globals[slot->second], load_value(value));
            }
        }
    } catch (const nlohmann::json::exception& e) {
        return Status(ErrorCode::Invalid, std::string("malformed checkpoint: ") + e.what());
    }
    return Status::ok();
}

std::optional<Value> Engine::variable(const std::string& name) const {
    auto it = plan_.global_slots.find(name);
    if (it == plan_.global_slots.end()) return std::nullopt;
    return plan_.globals[it->second];
}

}  // namespace varpulis::engine
