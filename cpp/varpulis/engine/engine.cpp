// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/engine.hpp"

#include "varpulis/engine/checkpoint.hpp"
#include "varpulis/engine/stream_compiler.hpp"

namespace varpulis::engine {

using common::ErrorCode;
using common::Result;
using common::Status;

Result<std::unique_ptr<Engine>> Engine::create(const vpl::Program& program, const EngineOptions& options) {
    std::unique_ptr<Engine> engine(new Engine());
    VP_RETURN_NOT_OK(engine->load(program, options));
    return engine;
}

Status Engine::evaluate_global(const std::string& name, const vpl::Expr& init) {
    ExprScope scope;
    scope.globals = &global_slots_;
    scope.functions = &functions_;
    VP_ASSIGN_OR_RETURN(auto node, compile_expr(init, scope));
    EvalContext ctx;
    ctx.globals = &globals_;
    ctx.functions = &functions_;
    try {
        globals_[global_slots_.at(name)] = node->value(ctx);
    } catch (const EvalError& e) {
        return Status(ErrorCode::Runtime, "initialising '" + name + "': " + e.what(), init.span);
    }
    return Status::ok();
}

Status Engine::load(const vpl::Program& program, const EngineOptions& options) {
    options_ = options;
    std::vector<const vpl::FnDecl*> fns;
    for (const auto& stmt : program.statements) {
        if (auto* v = std::get_if<vpl::VarDecl>(&stmt->node)) global_slots_.emplace(v->name, global_slots_.size());
        if (auto* a = std::get_if<vpl::AssignStmt>(&stmt->node)) global_slots_.emplace(a->name, global_slots_.size());
        if (auto* f = std::get_if<vpl::FnDecl>(&stmt->node)) fns.push_back(f);
        if (auto* c = std::get_if<vpl::ContextDecl>(&stmt->node)) contexts_.push_back(c->name);
        if (auto* c = std::get_if<vpl::ConnectorDecl>(&stmt->node)) {
            ConnectorConfig config{c->name, c->kind, {}};
            for (const auto& p : c->params) {
                config.params[p.name] = p.value->kind == vpl::ExprKind::Ident ? Value(p.value->name) : p.value->value;
            }
            connectors_[c->name] = std::move(config);
        }
    }
    globals_.resize(global_slots_.size());
    VP_RETURN_NOT_OK(functions_.compile(fns, &global_slots_, options.functions));
    for (const auto& stmt : program.statements) {
        if (auto* v = std::get_if<vpl::VarDecl>(&stmt->node)) VP_RETURN_NOT_OK(evaluate_global(v->name, *v->value));
        if (auto* a = std::get_if<vpl::AssignStmt>(&stmt->node)) VP_RETURN_NOT_OK(evaluate_global(a->name, *a->value));
    }
    // Immutable globals (let, const) are constants to the typed fast path of functions.
    std::unordered_map<std::string, Value> constants;
    for (const auto& stmt : program.statements) {
        if (auto* v = std::get_if<vpl::VarDecl>(&stmt->node); v && v->kind != vpl::VarKind::Var) {
            constants[v->name] = globals_[global_slots_.at(v->name)];
        }
    }
    functions_.compile_typed(fns, std::move(constants));
    StreamCompiler compiler(*this, program);
    VP_RETURN_NOT_OK(compiler.compile_all());
    for (auto& s : streams_) {
        for (Symbol input : s->inputs) {
            if (input >= routes_.size()) routes_.resize(input + 1);
            auto& list = routes_[input];
            if (std::find(list.begin(), list.end(), s.get()) == list.end()) list.push_back(s.get());
        }
    }
    return Status::ok();
}

const std::vector<Stream*>* Engine::routes_for(Symbol type) const {
    if (type >= routes_.size() || routes_[type].empty()) return nullptr;
    return &routes_[type];
}

bool Engine::consumes(Symbol type) const { return routes_for(type) != nullptr; }

const ConnectorConfig* Engine::connector(const std::string& name) const {
    auto it = connectors_.find(name);
    return it == connectors_.end() ? nullptr : &it->second;
}

std::vector<ConnectorHealth> Engine::sink_health() const {
    std::vector<ConnectorHealth> out;
    for (const auto& [name, sink] : sinks_) {
        if (auto h = sink->health()) {
            h->connector = name;
            out.push_back(std::move(*h));
        }
    }
    return out;
}

OpContext Engine::op_context(const Stream& s) const {
    OpContext ctx;
    ctx.eval.globals = &globals_;
    ctx.eval.functions = &functions_;
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
    if (depth + 1 >= options_.max_depth) {
        stats_.dropped_by_depth += batch.size();
        return;
    }
    for (auto& e : batch) work_.emplace_back(e, depth + 1);
}

void Engine::drain(std::vector<EventPtr>& outputs) {
    while (!work_.empty()) {
        auto [e, depth] = std::move(work_.front());
        work_.pop_front();
        const auto* streams = routes_for(e->type);
        if (!streams) continue;
        for (Stream* s : *streams) {
            batch_.clear();
            batch_.push_back(e);
            run_stream(*s, batch_, 0);
            if (!batch_.empty()) deliver(*s, batch_, depth, outputs);
        }
    }
}

Status Engine::process(const EventPtr& event, std::vector<EventPtr>& outputs, std::vector<EventPtr>* exported) {
    ++stats_.events_in;
    exported_ = exported;
    work_.clear();
    work_.emplace_back(event, 0);
    try {
        drain(outputs);
    } catch (const EvalError& err) {
        ++stats_.errors;
        work_.clear();
        return Status(ErrorCode::Runtime, std::string("while processing ") + event->type_name() + ": " + err.what());
    }
    return Status::ok();
}

Status Engine::flush(std::vector<EventPtr>& outputs, std::vector<EventPtr>* exported) {
    exported_ = exported;
    try {
        for (auto& s : streams_) {
            for (size_t i = 0; i < s->ops.size(); ++i) {
                OpContext ctx = op_context(*s);
                Batch batch;
                s->ops[i]->flush(batch, ctx);
                if (batch.empty()) continue;
                run_stream(*s, batch, i + 1);
                if (batch.empty()) continue;
                work_.clear();
                deliver(*s, batch, 0, outputs);
                drain(outputs);
            }
        }
    } catch (const EvalError& err) {
        ++stats_.errors;
        return Status(ErrorCode::Runtime, std::string("while flushing: ") + err.what());
    }
    return Status::ok();
}

size_t Engine::held() const {
    size_t n = 0;
    for (const auto& s : streams_) {
        for (const auto& op : s->ops) n += op->held();
    }
    return n;
}

nlohmann::json Engine::checkpoint() const {
    Json globals = Json::object();
    for (const auto& [name, slot] : global_slots_) globals[name] = save_value(globals_[slot]);
    Json streams = Json::object();
    for (const auto& s : streams_) {
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
    for (const auto& s : streams_) {
        auto it = state["streams"].find(s->name);
        if (it == state["streams"].end() || !it->is_array() || it->size() != s->ops.size()) {
            return Status(ErrorCode::Invalid, "the checkpoint does not match this program (stream '" + s->name + "')");
        }
    }
    try {
        for (const auto& s : streams_) {
            const auto& ops = state["streams"][s->name];
            for (size_t i = 0; i < s->ops.size(); ++i) {
                Status st = s->ops[i]->load(ops[i]);
                if (!st.is_ok()) return Status(st.code(), "stream '" + s->name + "': " + st.message());
            }
        }
        if (state.contains("globals") && state["globals"].is_object()) {
            for (const auto& [name, value] : state["globals"].items()) {
                auto slot = global_slots_.find(name);
                if (slot == global_slots_.end()) continue;
                VP_ASSIGN_OR_RETURN(globals_[slot->second], load_value(value));
            }
        }
    } catch (const nlohmann::json::exception& e) {
        return Status(ErrorCode::Invalid, std::string("malformed checkpoint: ") + e.what());
    }
    return Status::ok();
}

std::optional<Value> Engine::variable(const std::string& name) const {
    auto it = global_slots_.find(name);
    if (it == global_slots_.end()) return std::nullopt;
    return globals_[it->second];
}

}  // namespace varpulis::engine
