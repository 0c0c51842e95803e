// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/expr.hpp"

#include "varpulis/engine/function.hpp"
#include "varpulis/engine/value_ops.hpp"

namespace varpulis::engine {

using common::ErrorCode;
using common::Result;
using common::Status;
using vpl::BinaryOp;
using vpl::ExprKind;

namespace {

const Value kNull;

class ConstNode final : public CompiledExpr {
  public:
    explicit ConstNode(Value v) : v_(std::move(v)) {}
    const Value& eval(const EvalContext&, Value&) const override { return v_; }

  private:
    Value v_;
};

class FieldNode final : public CompiledExpr {
  public:
    explicit FieldNode(Symbol s) : s_(s) {}
    const Value& eval(const EvalContext& ctx, Value&) const override {
        if (!ctx.event) return kNull;
        const Value* v = ctx.event->get(s_);
        return v ? *v : kNull;
    }

  private:
    Symbol s_;
};

class GlobalNode final : public CompiledExpr {
  public:
    explicit GlobalNode(size_t slot) : slot_(slot) {}
    const Value& eval(const EvalContext& ctx, Value&) const override { return (*ctx.globals)[slot_]; }

  private:
    size_t slot_;
};

class LocalNode final : public CompiledExpr {
  public:
    explicit LocalNode(size_t slot) : slot_(slot) {}
    const Value& eval(const EvalContext& ctx, Value&) const override { return ctx.locals[slot_]; }

  private:
    size_t slot_;
};

/// `alias.field`: a capture of an earlier sequence step, the current event under its own alias,
/// or a field of a match (`alias_field`) or join (`alias.field`) output, or `Type.field`.
class AliasFieldNode final : public CompiledExpr {
  public:
    AliasFieldNode(int capture, bool self, std::string_view alias, std::string_view field)
        : capture_(capture),
          self_(self),
          alias_(intern(alias)),
          field_(intern(field)),
          dotted_(intern(std::string(alias) + "." + std::string(field))),
          underscored_(intern(std::string(alias) + "_" + std::string(field))) {}

    const Value& eval(const EvalContext& ctx, Value&) const override {
        if (capture_ >= 0 && ctx.captures) {
            const Event* captured = ctx.captures[capture_].get();
            if (captured) {
                const Value* v = captured->get(field_);
                return v ? *v : kNull;
            }
        }
        const Event* e = ctx.event;
        if (!e) return kNull;
        if (self_ || e->type == alias_) {
            if (const Value* v = e->get(field_)) return *v;
        }
        if (const Value* v = e->get(dotted_)) return *v;
        if (const Value* v = e->get(underscored_)) return *v;
        return kNull;
    }

  private:
    int capture_;
    bool self_;
    Symbol alias_, field_, dotted_, underscored_;
};

const Value* map_get(const Value& m, const std::string& key) {
    if (m.kind() != Value::Kind::Map) return nullptr;
    for (const auto& [k, v] : m.as_map()) {
        if (k == key) return &v;
    }
    return nullptr;
}

class MemberNode final : public CompiledExpr {
  public:
    MemberNode(ExprNode object, std::string key) : object_(std::move(object)), key_(std::move(key)) {}
    const Value& eval(const EvalContext& ctx, Value& scratch) const override {
        Value tmp;
        const Value& obj = object_->eval(ctx, tmp);
        const Value* v = map_get(obj, key_);
        if (!v) return kNull;
        if (&obj == &tmp) {  // the map is a temporary: copy the element out before it dies
            scratch = *v;
            return scratch;
        }
        return *v;
    }

  private:
    ExprNode object_;
    std::string key_;
};

class IndexNode final : public CompiledExpr {
  public:
    IndexNode(ExprNode object, ExprNode index) : object_(std::move(object)), index_(std::move(index)) {}
    const Value& eval(const EvalContext& ctx, Value& scratch) const override {
        Value t1, t2;
        const Value& obj = object_->eval(ctx, t1);
        const Value& idx = index_->eval(ctx, t2);
        scratch = index_value(obj, idx);
        return scratch;
    }

    static Value index_value(const Value& obj, const Value& idx) {
        if (obj.kind() == Value::Kind::Array && idx.is_int()) {
            const auto& a = obj.as_array();
            int64_t i = idx.as_int();
            if (i < 0) i += static_cast<int64_t>(a.size());
            return i >= 0 && i < static_cast<int64_t>(a.size()) ? a[static_cast<size_t>(i)] : Value();
        }
        if (obj.kind() == Value::Kind::Map && idx.is_string()) {
            const Value* v = map_get(obj, idx.as_string());
            return v ? *v : Value();
        }
        if (obj.is_string() && idx.is_int()) {
            const auto& s = obj.as_string();
            int64_t i = idx.as_int();
            if (i < 0) i += static_cast<int64_t>(s.size());
            return i >= 0 && i < static_cast<int64_t>(s.size()) ? Value(std::string(1, s[static_cast<size_t>(i)])) : Value();
        }
        return {};
    }

  private:
    ExprNode object_, index_;
};

class SliceNode final : public CompiledExpr {
  public:
    SliceNode(ExprNode object, ExprNode lo, ExprNode hi) : object_(std::move(object)), lo_(std::move(lo)), hi_(std::move(hi)) {}
    const Value& eval(const EvalContext& ctx, Value& scratch) const override {
        Value t1;
        const Value& obj = object_->eval(ctx, t1);
        int64_t size = obj.is_string() ? static_cast<int64_t>(obj.as_string().size())
                       : obj.kind() == Value::Kind::Array ? static_cast<int64_t>(obj.as_array().size())
                                                          : -1;
        if (size < 0) return kNull;
        auto bound = [&](const ExprNode& e, int64_t fallback) {
            if (!e) return fallback;
            Value v = e->value(ctx);
            if (!v.is_int()) return fallback;
            int64_t i = v.as_int();
            if (i < 0) i += size;
            return std::clamp<int64_t>(i, 0, size);
        };
        int64_t lo = bound(lo_, 0), hi = std::max(lo, bound(hi_, size));
        if (obj.is_string()) {
            scratch = Value(obj.as_string().substr(static_cast<size_t>(lo), static_cast<size_t>(hi - lo)));
        } else {
            const auto& a = obj.as_array();
            scratch = Value(common::Array(a.begin() + lo, a.begin() + hi));
        }
        return scratch;
    }

  private:
    ExprNode object_, lo_, hi_;
};

class UnaryNode final : public CompiledExpr {
  public:
    UnaryNode(vpl::UnaryOp op, ExprNode x) : op_(op), x_(std::move(x)) {}
    const Value& eval(const EvalContext& ctx, Value& scratch) const override {
        Value tmp;
        scratch = unary_op(op_, x_->eval(ctx, tmp));
        return scratch;
    }

  private:
    vpl::UnaryOp op_;
    ExprNode x_;
};

class BinaryNode final : public CompiledExpr {
  public:
    BinaryNode(BinaryOp op, ExprNode a, ExprNode b) : op_(op), a_(std::move(a)), b_(std::move(b)) {}
    const Value& eval(const EvalContext& ctx, Value& scratch) const override {
        Value t1, t2;
        const Value& a = a_->eval(ctx, t1);
        const Value& b = b_->eval(ctx, t2);
        scratch = binary_op(op_, a, b);
        return scratch;
    }

  private:
    BinaryOp op_;
    ExprNode a_, b_;
};

/// `and` / `or`: short-circuit; a non-bool operand that decides nothing makes the result null.
class LogicNode final : public CompiledExpr {
  public:
    LogicNode(bool is_and, ExprNode a, ExprNode b) : is_and_(is_and), a_(std::move(a)), b_(std::move(b)) {}
    const Value& eval(const EvalContext& ctx, Value& scratch) const override {
        Value t1, t2;
        const Value& a = a_->eval(ctx, t1);
        bool decisive = is_and_ ? false : true;
        if (a.is_bool() && a.as_bool() == decisive) return scratch = Value(decisive);
        const Value& b = b_->eval(ctx, t2);
        if (b.is_bool() && b.as_bool() == decisive) return scratch = Value(decisive);
        if (a.is_bool() && b.is_bool()) return scratch = Value(!decisive);
        return scratch = Value();
    }

  private:
    bool is_and_;
    ExprNode a_, b_;
};

class IfNode final : public CompiledExpr {
  public:
    IfNode(ExprNode c, ExprNode a, ExprNode b) : c_(std::move(c)), a_(std::move(a)), b_(std::move(b)) {}
    const Value& eval(const EvalContext& ctx, Value& scratch) const override {
        return c_->test(ctx) ? a_->eval(ctx, scratch) : b_->eval(ctx, scratch);
    }

  private:
    ExprNode c_, a_, b_;
};

class ArrayNode final : public CompiledExpr {
  public:
    explicit ArrayNode(std::vector<ExprNode> items) : items_(std::move(items)) {}
    const Value& eval(const EvalContext& ctx, Value& scratch) const override {
        common::Array out;
        out.reserve(items_.size());
        bool nested = false;
        for (const auto& i : items_) {
            out.push_back(i->value(ctx));
            nested |= out.back().kind() == Value::Kind::Array || out.back().kind() == Value::Kind::Map;
        }
        scratch = Value(std::move(out));
        if (nested) check_value_size(scratch);  // `a = [a, a]` doubles; a flat literal is as the source wrote it
        return scratch;
    }

  private:
    std::vector<ExprNode> items_;
};

class MapNode final : public CompiledExpr {
  public:
    MapNode(std::vector<std::string> keys, std::vector<ExprNode> items) : keys_(std::move(keys)), items_(std::move(items)) {}
    const Value& eval(const EvalContext& ctx, Value& scratch) const override {
        common::Map out;
        out.reserve(items_.size());
        bool nested = false;
        for (size_t i = 0; i < items_.size(); ++i) {
            out.emplace_back(keys_[i], items_[i]->value(ctx));
            nested |= out.back().second.kind() == Value::Kind::Array || out.back().second.kind() == Value::Kind::Map;
        }
        scratch = Value(std::move(out));
        if (nested) check_value_size(scratch);
        return scratch;
    }

  private:
    std::vector<std::string> keys_;
    std::vector<ExprNode> items_;
};

/// `a..b` outside a `for` header: the array of integers (a runtime error past kMaxArrayItems).
class RangeNode final : public CompiledExpr {
  public:
    RangeNode(ExprNode lo, ExprNode hi, bool inclusive) : lo_(std::move(lo)), hi_(std::move(hi)), inclusive_(inclusive) {}
    const Value& eval(const EvalContext& ctx, Value& scratch) const override {
        Value lo = lo_->value(ctx), hi = hi_->value(ctx);
        if (!lo.is_int() || !hi.is_int()) return kNull;
        size_t count = range_length(lo.as_int(), hi.as_int(), 1);
        if (inclusive_ && hi.as_int() >= lo.as_int() && count < SIZE_MAX) ++count;
        check_array_size(count);
        common::Array out;
        out.reserve(count);
        for (size_t k = 0; k < count; ++k) out.emplace_back(static_cast<int64_t>(static_cast<uint64_t>(lo.as_int()) + k));
        return scratch = Value(std::move(out));
    }

  private:
    ExprNode lo_, hi_;
    bool inclusive_;
};

class BuiltinCallNode final : public CompiledExpr {
  public:
    BuiltinCallNode(BuiltinFn fn, std::vector<ExprNode> args) : fn_(fn), args_(std::move(args)) {}
    const Value& eval(const EvalContext& ctx, Value& scratch) const override {
        Value values[4];
        std::vector<Value> many;
        Value* argv = values;
        if (args_.size() > 4) {
            many.resize(args_.size());
            argv = many.data();
        }
        for (size_t i = 0; i < args_.size(); ++i) argv[i] = args_[i]->value(ctx);
        return scratch = fn_(argv, args_.size());
    }

  private:
    BuiltinFn fn_;
    std::vector<ExprNode> args_;
};

class UserCallNode final : public CompiledExpr {
  public:
    UserCallNode(size_t index, std::vector<ExprNode> args) : index_(index), args_(std::move(args)) {}
    const Value& eval(const EvalContext& ctx, Value& scratch) const override {
        return scratch = ctx.functions->call(index_, args_, ctx);
    }

  private:
    size_t index_;
    std::vector<ExprNode> args_;
};

Status unsupported(const vpl::Expr& e, std::string what) {
    return Status(ErrorCode::Invalid, std::move(what), e.span);
}

int capture_index(const ExprScope& scope, const std::string& alias) {
    for (size_t i = scope.captures.size(); i-- > 0;) {
        if (scope.captures[i] == alias) return static_cast<int>(i);
    }
    return -1;
}

Result<std::vector<ExprNode>> compile_all(const std::vector<vpl::ExprPtr>& items, size_t from, const ExprScope& scope) {
    std::vector<ExprNode> out;
    for (size_t i = from; i < items.size(); ++i) {
        if (!items[i]) {
            out.push_back(nullptr);
            continue;
        }
        VP_ASSIGN_OR_RETURN(auto node, compile_expr(*items[i], scope));
        out.push_back(std::move(node));
    }
    return out;
}

Result<ExprNode> compile_ident(const vpl::Expr& e, const ExprScope& scope) {
    if (scope.locals) {
        if (auto it = scope.locals->find(e.name); it != scope.locals->end()) return ExprNode(std::make_unique<LocalNode>(it->second));
    }
    if (scope.globals) {
        if (auto it = scope.globals->find(e.name); it != scope.globals->end()) return ExprNode(std::make_unique<GlobalNode>(it->second));
    }
    return ExprNode(std::make_unique<FieldNode>(intern(e.name)));
}

Result<ExprNode> compile_member(const vpl::Expr& e, const ExprScope& scope) {
    const vpl::Expr& object = *e.children[0];
    bool is_local_or_global = object.kind == ExprKind::Ident &&
                              ((scope.locals && scope.locals->count(object.name)) ||
                               (scope.globals && scope.globals->count(object.name)));
    if (object.kind == ExprKind::Ident && !is_local_or_global) {
        int capture = capture_index(scope, object.name);
        bool self = !scope.self_alias.empty() && object.name == scope.self_alias;
        return ExprNode(std::make_unique<AliasFieldNode>(capture, self, object.name, e.name));
    }
    VP_ASSIGN_OR_RETURN(auto obj, compile_expr(object, scope));
    return ExprNode(std::make_unique<MemberNode>(std::move(obj), e.name));
}

Result<ExprNode> compile_call(const vpl::Expr& e, const ExprScope& scope) {
    const std::string& name = e.callee_name();
    if (name.empty()) return unsupported(e, "method-call syntax is not implemented");
    VP_ASSIGN_OR_RETURN(auto args, compile_all(e.children, 1, scope));
    if (scope.functions) {
        if (auto index = scope.functions->index_of(name)) {
            return ExprNode(std::make_unique<UserCallNode>(*index, std::move(args)));
        }
    }
    if (BuiltinFn fn = find_builtin(name)) return ExprNode(std::make_unique<BuiltinCallNode>(fn, std::move(args)));
    return unsupported(e, "unknown function '" + name + "'");
}

}  // namespace

Result<ExprNode> compile_expr(const vpl::Expr& e, const ExprScope& scope) {
    switch (e.kind) {
        case ExprKind::Literal: return ExprNode(std::make_unique<ConstNode>(e.value));
        case ExprKind::Ident: return compile_ident(e, scope);
        case ExprKind::Member:
        case ExprKind::OptionalMember: return compile_member(e, scope);
        case ExprKind::Call: return compile_call(e, scope);
        case ExprKind::Unary: {
            VP_ASSIGN_OR_RETURN(auto x, compile_expr(*e.children[0], scope));
            return ExprNode(std::make_unique<UnaryNode>(e.unary_op, std::move(x)));
        }
        case ExprKind::Binary: {
            if (e.binary_op == BinaryOp::Is || e.binary_op == BinaryOp::IsNot) {
                return unsupported(e, "the 'is' operator is not implemented");
            }
            VP_ASSIGN_OR_RETURN(auto a, compile_expr(*e.children[0], scope));
            VP_ASSIGN_OR_RETURN(auto b, compile_expr(*e.children[1], scope));
            if (e.binary_op == BinaryOp::And || e.binary_op == BinaryOp::Or) {
                return ExprNode(std::make_unique<LogicNode>(e.binary_op == BinaryOp::And, std::move(a), std::move(b)));
            }
            if (e.binary_op == BinaryOp::Range || e.binary_op == BinaryOp::RangeInclusive) {
                return ExprNode(std::make_unique<RangeNode>(std::move(a), std::move(b), e.binary_op == BinaryOp::RangeInclusive));
            }
            return ExprNode(std::make_unique<BinaryNode>(e.binary_op, std::move(a), std::move(b)));
        }
        case ExprKind::Index: {
            VP_ASSIGN_OR_RETURN(auto obj, compile_expr(*e.children[0], scope));
            VP_ASSIGN_OR_RETURN(auto idx, compile_expr(*e.children[1], scope));
            return ExprNode(std::make_unique<IndexNode>(std::move(obj), std::move(idx)));
        }
        case ExprKind::Slice: {
            VP_ASSIGN_OR_RETURN(auto parts, compile_all(e.children, 0, scope));
            return ExprNode(std::make_unique<SliceNode>(std::move(parts[0]), std::move(parts[1]), std::move(parts[2])));
        }
        case ExprKind::Array: {
            VP_ASSIGN_OR_RETURN(auto items, compile_all(e.children, 0, scope));
            return ExprNode(std::make_unique<ArrayNode>(std::move(items)));
        }
        case ExprKind::Map: {
            VP_ASSIGN_OR_RETURN(auto items, compile_all(e.children, 0, scope));
            return ExprNode(std::make_unique<MapNode>(e.names, std::move(items)));
        }
        case ExprKind::If: {
            VP_ASSIGN_OR_RETURN(auto parts, compile_all(e.children, 0, scope));
            return ExprNode(std::make_unique<IfNode>(std::move(parts[0]), std::move(parts[1]), std::move(parts[2])));
        }
        case ExprKind::Lambda: return unsupported(e, "lambdas are only allowed inside .pattern(...)");
    }
    return unsupported(e, "unsupported expression");
}

}  // namespace varpulis::engine
