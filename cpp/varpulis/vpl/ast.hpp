// SPDX-License-Identifier: Apache-2.0
#pragma once

// The VPL abstract syntax tree: the front end's output and the engine's input. No ANTLR type
// appears here; `transform_*.cpp` builds these nodes from the parse tree.

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "varpulis/common/span.hpp"
#include "varpulis/common/value.hpp"

namespace varpulis::vpl {

using common::Span;
using common::Value;

struct Expr;
struct Stmt;
struct StreamOp;
using ExprPtr = std::shared_ptr<Expr>;
using StmtPtr = std::shared_ptr<Stmt>;
using Block = std::vector<StmtPtr>;

// ---------------------------------------------------------------------------------------------
// Expressions
// ---------------------------------------------------------------------------------------------

enum class UnaryOp { Neg, Plus, BitNot, Not };

enum class BinaryOp {
    Add, Sub, Mul, Div, Mod, Pow,
    Eq, Ne, Lt, Le, Gt, Ge, In, NotIn, Is, IsNot,
    And, Or,
    BitOr, BitXor, BitAnd, Shl, Shr,
    Range, RangeInclusive,
};

enum class ExprKind {
    Literal,         ///< value
    Ident,           ///< name
    Unary,           ///< unary_op, children[0]
    Binary,          ///< binary_op, children[0] and children[1]
    Call,            ///< children[0] = callee, children[1..] = arguments, names = argument names ("" = positional)
    Member,          ///< children[0].name
    OptionalMember,  ///< children[0]?.name
    Index,           ///< children[0][children[1]]
    Slice,           ///< children[0][children[1]:children[2]]; a missing bound is nullptr
    Array,           ///< children = elements
    Map,             ///< names = keys, children = values
    If,              ///< if children[0] then children[1] else children[2]
    Lambda,          ///< names = parameters, block = statements before the result, children[0] = result
};

/// One expression node. Which fields are used depends on `kind` (see ExprKind).
struct Expr {
    ExprKind kind = ExprKind::Literal;
    Span span;
    Value value;
    std::string name;
    UnaryOp unary_op = UnaryOp::Neg;
    BinaryOp binary_op = BinaryOp::Add;
    std::vector<ExprPtr> children;
    std::vector<std::string> names;
    Block block;

    /// Return the callee's name when this is a call of a plain identifier, else "".
    const std::string& callee_name() const;
};

/// Return the source spelling of an operator ("+", "not in", "..=").
const char* binary_op_text(BinaryOp op);
const char* unary_op_text(UnaryOp op);

// ---------------------------------------------------------------------------------------------
// Types (advisory: parsed and kept, not enforced)
// ---------------------------------------------------------------------------------------------

struct TypeExpr {
    enum class Kind { Named, Array, Map, Tuple };
    Kind kind = Kind::Named;
    std::string name;  ///< Named: "int", "Stream", "Reading"...
    std::vector<TypeExpr> args;
    bool optional = false;
    Span span;
};

// ---------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------

/// `name: value` or a positional value (empty name).
struct NamedArg {
    std::string name;
    ExprPtr value;
    Span span;
};

enum class OpKind {
    FollowedBy, Where, Filter, Select, Window, Aggregate, Having, PartitionBy, OrderBy, Limit,
    Distinct, Map, Tap, Print, Log, Emit, To, Pattern, Concurrent, Process, OnError, Collect, On,
    Within, Not, Fork, Any, All, First, Watermark, AllowedLateness, TrendAggregate, Score,
    Forecast, Enrich, Context,
};

/// Return the operator's name as written after the dot ("partition_by"), or "->".
const char* op_kind_name(OpKind kind);
/// Return the operator kind named `name` ("where"), if there is one.
std::optional<OpKind> op_kind_from_name(std::string_view name);

/// One argument of a stream operator.
struct OpArg {
    std::string name;                   ///< "" for a positional argument
    ExprPtr value;                      ///< null for fork chains and `.pattern` logic
    std::vector<StreamOp> chain;        ///< `.fork(name: .op().op())`
    std::string logic;                  ///< `.pattern(name: A -> B and not C)`, as text
    bool descending = false;            ///< `.order_by(x desc)`
    bool has_order = false;             ///< `asc` or `desc` was written
    Span span;
};

/// One operator of a stream: `.name(args)` or a `-> step`.
struct StreamOp {
    OpKind kind = OpKind::Where;
    Span span;
    std::vector<OpArg> args;
    // FollowedBy and Not:
    bool kleene = false;      ///< `-> all T`
    std::string event_type;   ///< the step's (or negated) event type or stream
    ExprPtr filter;           ///< `where` predicate, may be null
    std::string alias;        ///< `as alias`, may be empty
    // Emit:
    std::string emit_as;      ///< `.emit as T(...)`
};

/// An input of merge(...) or join(...): a name, or an inline `stream N = Source .op()...`.
struct InlineStream {
    std::string name;
    std::string source;  ///< for inline streams: the source type; else equals name
    std::vector<StreamOp> ops;
    bool is_inline = false;
    Span span;
};

/// A step of `sequence(alias: Type where ... .within(d), ...)`.
struct SequenceStep {
    std::string alias;
    std::string event_type;
    ExprPtr filter;
    ExprPtr within;
    Span span;
};

enum class SourceKind { Named, Kleene, From, Merge, Join, Sequence, Timer };

struct StreamSource {
    SourceKind kind = SourceKind::Named;
    Span span;
    std::string name;        ///< Named, Kleene, From: the event type or stream
    std::string alias;       ///< `as alias`
    std::string connector;   ///< From
    std::vector<NamedArg> args;  ///< From parameters; Timer arguments
    std::vector<InlineStream> inputs;  ///< Merge, Join
    std::vector<SequenceStep> steps;   ///< Sequence
};

// ---------------------------------------------------------------------------------------------
// Named patterns: `pattern P = SEQ(A as a, B+ where x > 1) within 5m partition by k`
// ---------------------------------------------------------------------------------------------

struct SaseNode {
    enum class Kind { Seq, And, Or, Not, Item };
    Kind kind = Kind::Item;
    std::vector<SaseNode> children;
    // Item:
    std::string event_type;
    char quantifier = 0;  ///< 0, '+', '*' or '?'
    bool negated = false; ///< `NOT X` inside SEQ
    ExprPtr filter;
    std::string alias;
    Span span;
};

// ---------------------------------------------------------------------------------------------
// Statements
// ---------------------------------------------------------------------------------------------

struct ContextDecl { std::string name; std::vector<NamedArg> params; };
struct ConnectorDecl { std::string name; std::string kind; std::vector<NamedArg> params; };
struct StreamDecl {
    std::string name;
    std::optional<TypeExpr> type;
    StreamSource source;
    std::vector<StreamOp> ops;
};
struct PatternDecl { std::string name; SaseNode expr; ExprPtr within; std::string partition_by; };
struct FieldDecl { std::string name; TypeExpr type; Span span; };
struct EventDecl { std::string name; std::string extends; std::vector<FieldDecl> fields; };
struct TypeDecl { std::string name; TypeExpr type; };
enum class VarKind { Let, Var, Const };
struct VarDecl { VarKind kind = VarKind::Let; std::string name; std::optional<TypeExpr> type; ExprPtr value; };
struct ConfigDecl { std::string name; std::vector<NamedArg> entries; };
struct ImportStmt { std::string path; std::string alias; };
struct Param { std::string name; std::optional<TypeExpr> type; Span span; };
struct FnDecl { std::string name; std::vector<Param> params; std::optional<TypeExpr> return_type; Block body; };
struct IfBranch { ExprPtr condition; Block body; };
struct IfStmt { std::vector<IfBranch> branches; Block else_body; bool has_else = false; };
struct ForStmt { std::string var; ExprPtr iterable; Block body; };
struct WhileStmt { ExprPtr condition; Block body; };
struct ReturnStmt { ExprPtr value; };  ///< value may be null
struct BreakStmt {};
struct ContinueStmt {};
struct EmitStmt { std::string event_type; std::vector<NamedArg> fields; };
struct AssignStmt { std::string name; ExprPtr value; };
struct ExprStmt { ExprPtr expr; };

using StmtNode = std::variant<ContextDecl, ConnectorDecl, StreamDecl, PatternDecl, EventDecl, TypeDecl,
                              VarDecl, ConfigDecl, ImportStmt, FnDecl, IfStmt, ForStmt, WhileStmt,
                              ReturnStmt, BreakStmt, ContinueStmt, EmitStmt, AssignStmt, ExprStmt>;

struct Stmt {
    Span span;
    StmtNode node;
};

/// Return a short name of the statement kind ("stream", "fn", "expression"...).
const char* stmt_kind_name(const StmtNode& node);

/// A parsed VPL program: its top-level statements in source order.
struct Program {
    Block statements;
};

}  // namespace varpulis::vpl
