// SPDX-License-Identifier: Apache-2.0
#include "varpulis/vpl/ast_json.hpp"

namespace varpulis::vpl {

using nlohmann::json;

namespace {

json span_json(const Span& s) { return json::array({s.line, s.column}); }

json expr_or_null(const ExprPtr& e) { return e ? to_json(*e) : json(nullptr); }

json type_json(const TypeExpr& t) {
    json j;
    switch (t.kind) {
        case TypeExpr::Kind::Named: j = t.name; break;
        case TypeExpr::Kind::Array: j = {{"array", type_json(t.args[0])}}; break;
        case TypeExpr::Kind::Map: j = {{"map", {type_json(t.args[0]), type_json(t.args[1])}}}; break;
        case TypeExpr::Kind::Tuple: {
            json items = json::array();
            for (const auto& a : t.args) items.push_back(type_json(a));
            j = {{"tuple", items}};
            break;
        }
    }
    if (t.kind == TypeExpr::Kind::Named && !t.args.empty()) j = {{"name", t.name}, {"of", type_json(t.args[0])}};
    if (t.optional) j = {{"optional", j}};
    return j;
}

json args_json(const std::vector<NamedArg>& args) {
    json out = json::array();
    for (const auto& a : args) {
        json j = {{"value", expr_or_null(a.value)}};
        if (!a.name.empty()) j["name"] = a.name;
        out.push_back(j);
    }
    return out;
}

json block_json(const Block& block);
json ops_json(const std::vector<StreamOp>& ops);

json op_json(const StreamOp& op) {
    json j = {{"op", op_kind_name(op.kind)}, {"at", span_json(op.span)}};
    if (op.kind == OpKind::FollowedBy || op.kind == OpKind::Not) {
        j["event_type"] = op.event_type;
        if (op.kleene) j["all"] = true;
        if (op.filter) j["where"] = to_json(*op.filter);
        if (!op.alias.empty()) j["as"] = op.alias;
    }
    if (!op.emit_as.empty()) j["as"] = op.emit_as;
    if (!op.args.empty()) {
        json args = json::array();
        for (const auto& a : op.args) {
            json aj;
            if (!a.name.empty()) aj["name"] = a.name;
            if (a.value) aj["value"] = to_json(*a.value);
            if (!a.chain.empty()) aj["chain"] = ops_json(a.chain);
            if (!a.logic.empty()) aj["logic"] = a.logic;
            if (a.has_order) aj["order"] = a.descending ? "desc" : "asc";
            args.push_back(aj);
        }
        j["args"] = args;
    }
    return j;
}

json ops_json(const std::vector<StreamOp>& ops) {
    json out = json::array();
    for (const auto& op : ops) out.push_back(op_json(op));
    return out;
}

const char* source_kind_name(SourceKind k) {
    switch (k) {
        case SourceKind::Named: return "named";
        case SourceKind::Kleene: return "all";
        case SourceKind::From: return "from";
        case SourceKind::Merge: return "merge";
        case SourceKind::Join: return "join";
        case SourceKind::Sequence: return "sequence";
        case SourceKind::Timer: return "timer";
    }
    return "?";
}

json source_json(const StreamSource& s) {
    json j = {{"kind", source_kind_name(s.kind)}};
    if (!s.name.empty()) j["name"] = s.name;
    if (!s.alias.empty()) j["as"] = s.alias;
    if (!s.connector.empty()) j["connector"] = s.connector;
    if (!s.args.empty()) j["args"] = args_json(s.args);
    if (!s.inputs.empty()) {
        json inputs = json::array();
        for (const auto& i : s.inputs) {
            json ij = {{"name", i.name}};
            if (i.is_inline) {
                ij["source"] = i.source;
                ij["ops"] = ops_json(i.ops);
            }
            inputs.push_back(ij);
        }
        j["inputs"] = inputs;
    }
    if (!s.steps.empty()) {
        json steps = json::array();
        for (const auto& st : s.steps) {
            steps.push_back({{"alias", st.alias}, {"event_type", st.event_type}, {"where", expr_or_null(st.filter)},
                             {"within", expr_or_null(st.within)}});
        }
        j["steps"] = steps;
    }
    return j;
}

json sase_json(const SaseNode& n) {
    static constexpr const char* kKinds[] = {"seq", "and", "or", "not", "item"};
    json j = {{"kind", kKinds[static_cast<int>(n.kind)]}};
    if (n.kind == SaseNode::Kind::Item) {
        j["event_type"] = n.event_type;
        if (n.quantifier) j["quantifier"] = std::string(1, n.quantifier);
        if (n.negated) j["not"] = true;
        if (n.filter) j["where"] = to_json(*n.filter);
        if (!n.alias.empty()) j["as"] = n.alias;
    } else {
        json children = json::array();
        for (const auto& c : n.children) children.push_back(sase_json(c));
        j["items"] = children;
    }
    return j;
}

json stmt_json(const Stmt& stmt) {
    json j = {{"kind", stmt_kind_name(stmt.node)}, {"at", span_json(stmt.span)}};
    std::visit(
        [&](const auto& n) {
            using T = std::decay_t<decltype(n)>;
            if constexpr (std::is_same_v<T, ContextDecl>) {
                j["name"] = n.name;
                if (!n.params.empty()) j["params"] = args_json(n.params);
            } else if constexpr (std::is_same_v<T, ConnectorDecl>) {
                j["name"] = n.name;
                j["connector"] = n.kind;
                j["params"] = args_json(n.params);
            } else if constexpr (std::is_same_v<T, StreamDecl>) {
                j["name"] = n.name;
                if (n.type) j["type"] = type_json(*n.type);
                j["source"] = source_json(n.source);
                j["ops"] = ops_json(n.ops);
            } else if constexpr (std::is_same_v<T, PatternDecl>) {
                j["name"] = n.name;
                j["pattern"] = sase_json(n.expr);
                if (n.within) j["within"] = to_json(*n.within);
                if (!n.partition_by.empty()) j["partition_by"] = n.partition_by;
            } else if constexpr (std::is_same_v<T, EventDecl>) {
                j["name"] = n.name;
                if (!n.extends.empty()) j["extends"] = n.extends;
                json fields = json::array();
                for (const auto& f : n.fields) fields.push_back({{"name", f.name}, {"type", type_json(f.type)}});
                j["fields"] = fields;
            } else if constexpr (std::is_same_v<T, TypeDecl>) {
                j["name"] = n.name;
                j["type"] = type_json(n.type);
            } else if constexpr (std::is_same_v<T, VarDecl>) {
                j["binding"] = n.kind == VarKind::Let ? "let" : n.kind == VarKind::Var ? "var" : "const";
                j["name"] = n.name;
                if (n.type) j["type"] = type_json(*n.type);
                j["value"] = expr_or_null(n.value);
            } else if constexpr (std::is_same_v<T, ConfigDecl>) {
                j["name"] = n.name;
                j["entries"] = args_json(n.entries);
            } else if constexpr (std::is_same_v<T, ImportStmt>) {
                j["path"] = n.path;
                if (!n.alias.empty()) j["as"] = n.alias;
            } else if constexpr (std::is_same_v<T, FnDecl>) {
                j["name"] = n.name;
                json params = json::array();
                for (const auto& p : n.params) {
                    json pj = {{"name", p.name}};
                    if (p.type) pj["type"] = type_json(*p.type);
                    params.push_back(pj);
                }
                j["params"] = params;
                if (n.return_type) j["returns"] = type_json(*n.return_type);
                j["body"] = block_json(n.body);
            } else if constexpr (std::is_same_v<T, IfStmt>) {
                json branches = json::array();
                for (const auto& b : n.branches) branches.push_back({{"if", to_json(*b.condition)}, {"then", block_json(b.body)}});
                j["branches"] = branches;
                if (n.has_else) j["else"] = block_json(n.else_body);
            } else if constexpr (std::is_same_v<T, ForStmt>) {
                j["var"] = n.var;
                j["in"] = to_json(*n.iterable);
                j["body"] = block_json(n.body);
            } else if constexpr (std::is_same_v<T, WhileStmt>) {
                j["condition"] = to_json(*n.condition);
                j["body"] = block_json(n.body);
            } else if constexpr (std::is_same_v<T, ReturnStmt>) {
                j["value"] = expr_or_null(n.value);
            } else if constexpr (std::is_same_v<T, EmitStmt>) {
                j["event_type"] = n.event_type;
                j["fields"] = args_json(n.fields);
            } else if constexpr (std::is_same_v<T, AssignStmt>) {
                j["name"] = n.name;
                j["value"] = to_json(*n.value);
            } else if constexpr (std::is_same_v<T, ExprStmt>) {
                j["expr"] = to_json(*n.expr);
            }
        },
        stmt.node);
    return j;
}

json block_json(const Block& block) {
    json out = json::array();
    for (const auto& s : block) out.push_back(stmt_json(*s));
    return out;
}

}  // namespace

json value_to_json(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Null: return nullptr;
        case Value::Kind::Bool: return v.as_bool();
        case Value::Kind::Int: return v.as_int();
        case Value::Kind::Float: return v.as_float();
        case Value::Kind::Str: return v.as_string();
        case Value::Kind::Timestamp: return {{"timestamp_ns", v.as_timestamp().ns}};
        case Value::Kind::Duration: return {{"duration_ns", v.as_duration().ns}};
        case Value::Kind::Array: {
            json out = json::array();
            for (const auto& item : v.as_array()) out.push_back(value_to_json(item));
            return out;
        }
        case Value::Kind::Map: {
            json out = json::object();
            for (const auto& [k, item] : v.as_map()) out[k] = value_to_json(item);
            return out;
        }
    }
    return nullptr;
}

namespace {

json call_args_json(const Expr& call) {
    json args = json::array();
    for (size_t i = 1; i < call.children.size(); ++i) {
        json a = to_json(*call.children[i]);
        if (!call.names[i - 1].empty()) {
            json named = json::object();
            named["name"] = call.names[i - 1];
            named["value"] = std::move(a);
            a = std::move(named);
        }
        args.push_back(std::move(a));
    }
    return args;
}

json items_json(const Expr& array) {
    json items = json::array();
    for (const auto& c : array.children) items.push_back(to_json(*c));
    return items;
}

json entries_json(const Expr& map) {
    json entries = json::array();
    for (size_t i = 0; i < map.children.size(); ++i) {
        json entry = json::object();
        entry["key"] = map.names[i];
        entry["value"] = to_json(*map.children[i]);
        entries.push_back(std::move(entry));
    }
    return entries;
}

}  // namespace

// Fields are set one at a time, and lists are made in helpers: an initializer list holds a
// temporary per element in the frame of every level, and a tree the depth budget allows (2,000
// levels of `f()()()...`) overflowed the stack of a sanitizer build (found by vpl_fuzz).
json to_json(const Expr& e) {
    json out = json::object();
    auto child = [&e](size_t i) { return to_json(*e.children[i]); };
    switch (e.kind) {
        case ExprKind::Literal: out["literal"] = value_to_json(e.value); break;
        case ExprKind::Ident: out["ident"] = e.name; break;
        case ExprKind::Unary:
            out["unary"] = unary_op_text(e.unary_op);
            out["operand"] = child(0);
            break;
        case ExprKind::Binary:
            out["binary"] = binary_op_text(e.binary_op);
            out["left"] = child(0);
            out["right"] = child(1);
            break;
        case ExprKind::Call:
            out["call"] = child(0);
            out["args"] = call_args_json(e);
            break;
        case ExprKind::Member:
            out["member"] = e.name;
            out["of"] = child(0);
            break;
        case ExprKind::OptionalMember:
            out["optional_member"] = e.name;
            out["of"] = child(0);
            break;
        case ExprKind::Index:
            out["index"] = child(1);
            out["of"] = child(0);
            break;
        case ExprKind::Slice:
            out["slice"] = json::array();
            out["slice"].push_back(expr_or_null(e.children[1]));
            out["slice"].push_back(expr_or_null(e.children[2]));
            out["of"] = child(0);
            break;
        case ExprKind::Array: out["array"] = items_json(e); break;
        case ExprKind::Map: out["map"] = entries_json(e); break;
        case ExprKind::If:
            out["if"] = child(0);
            out["then"] = child(1);
            out["else"] = child(2);
            break;
        case ExprKind::Lambda:
            out["lambda"] = e.names;
            out["block"] = block_json(e.block);
            out["body"] = child(0);
            break;
    }
    return out;
}

json to_json(const Program& program) { return {{"statements", block_json(program.statements)}}; }

}  // namespace varpulis::vpl
