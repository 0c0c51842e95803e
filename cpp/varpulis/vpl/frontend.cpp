// SPDX-License-Identifier: Apache-2.0
#include "varpulis/vpl/frontend.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>

#include "ANTLRInputStream.h"
#include "BaseErrorListener.h"
#include "CommonTokenStream.h"
#include "VPLLexer.h"
#include "VPLParser.h"
#include "atn/ParserATNSimulator.h"
#include "atn/PredictionMode.h"
#include "varpulis/vpl/depth.hpp"
#include "varpulis/vpl/fold.hpp"
#include "varpulis/vpl/token_source_internal.hpp"
#include "varpulis/vpl/transformer_internal.hpp"
#include "varpulis/vpl/validate.hpp"

namespace varpulis::vpl {

namespace {

using generated::VPLLexer;
using generated::VPLParser;

/// Thrown to stop parsing at the first syntax error (ANTLR's recovery only adds noise).
struct StopParsing {};

/// VPLParser that refuses to recurse past a stack budget, so hostile input fails cleanly.
class GuardedParser : public VPLParser {
  public:
    GuardedParser(antlr4::TokenStream* input, size_t budget) : VPLParser(input), budget_(budget) {
        char probe = 0;
        base_ = reinterpret_cast<uintptr_t>(&probe);
    }
    void enterRule(antlr4::ParserRuleContext* ctx, size_t state, size_t rule) override {
        char probe = 0;
        auto here = reinterpret_cast<uintptr_t>(&probe);
        if (base_ > here && base_ - here > budget_) {
            too_deep_token_ = getCurrentToken();
            throw StopParsing{};
        }
        VPLParser::enterRule(ctx, state, rule);
    }
    antlr4::Token* too_deep_token() const { return too_deep_token_; }

  private:
    uintptr_t base_ = 0;
    size_t budget_;
    antlr4::Token* too_deep_token_ = nullptr;
};

std::string describe_token(antlr4::Token* t) {
    if (t == nullptr) return "end of input";
    switch (t->getType()) {
        case antlr4::Token::EOF: return "end of input";
        case VPLParser::NEWLINE: return "end of line";
        case VPLParser::INDENT: return "indentation";
        case VPLParser::DEDENT: return "end of block";
        case VPLParser::STRING: return "string " + t->getText();
        default: return "'" + t->getText() + "'";
    }
}

std::string describe_expected(size_t type, const antlr4::dfa::Vocabulary& vocabulary) {
    switch (type) {
        case antlr4::Token::EOF: return "end of input";
        case VPLParser::NEWLINE: return "end of line";
        case VPLParser::INDENT: return "an indented block";
        case VPLParser::DEDENT: return "end of block";
        case VPLParser::IDENT: return "a name";
        case VPLParser::INT: return "an integer";
        case VPLParser::FLOAT: return "a float";
        case VPLParser::STRING: return "a string";
        case VPLParser::DURATION: return "a duration";
        case VPLParser::TIMESTAMP: return "a timestamp";
        default: return vocabulary.getDisplayName(type);
    }
}

/// Build "expected X, Y or Z" from the tokens the parser could have taken. Keywords that only
/// stand in for names are folded into "a name"; long lists are left out.
std::string expected_hint(antlr4::Parser* parser) {
    antlr4::misc::IntervalSet expected;
    try {
        expected = parser->getExpectedTokens();
    } catch (...) {
        return {};
    }
    bool takes_name = expected.contains(static_cast<size_t>(VPLParser::IDENT));
    if (takes_name && expected.contains(static_cast<size_t>(VPLParser::INT)) &&
        expected.contains(static_cast<size_t>(VPLParser::STRING))) {
        return "expected an expression";
    }
    std::vector<std::string> items;
    for (ssize_t type : expected.toList()) {
        auto t = static_cast<size_t>(type);
        std::string display = parser->getVocabulary().getDisplayName(t);
        bool keyword = display.size() > 2 && display[0] == '\'' && std::isalpha(static_cast<unsigned char>(display[1]));
        if (takes_name && keyword) continue;
        items.push_back(describe_expected(t, parser->getVocabulary()));
    }
    if (items.empty() || items.size() > 8) return {};
    std::string out = "expected ";
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += i + 1 == items.size() ? " or " : ", ";
        out += items[i];
    }
    return out;
}

class FirstErrorListener : public antlr4::BaseErrorListener {
  public:
    void syntaxError(antlr4::Recognizer* recognizer, antlr4::Token* offending, size_t line, size_t column,
                     const std::string& /*message*/, std::exception_ptr /*e*/) override {
        found = true;
        this->line = line;
        this->column = column + 1;
        message = "unexpected " + describe_token(offending);
        hint = expected_hint(dynamic_cast<antlr4::Parser*>(recognizer));
        throw StopParsing{};
    }
    bool found = false;
    size_t line = 0, column = 0;
    std::string message, hint;
};

Diagnostic syntax_error(const ExpandedSource& src, size_t line, size_t column, std::string message,
                        std::string hint) {
    Diagnostic d;
    d.code = "E000";
    d.message = std::move(message);
    d.hint = std::move(hint);
    d.span = src.to_original(static_cast<uint32_t>(line), static_cast<uint32_t>(column));
    return d;
}

/// Return the position of the first byte that is not valid UTF-8, if any.
std::optional<std::pair<uint32_t, uint32_t>> first_invalid_utf8(std::string_view s) {
    uint32_t line = 1, column = 1;
    for (size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        bool ok = len != 0 && i + len <= s.size();
        for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
        if (ok && len == 2) ok = c >= 0xC2;
        if (ok && len == 3) {
            auto c1 = static_cast<unsigned char>(s[i + 1]);
            ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
        }
        if (ok && len == 4) {
            auto c1 = static_cast<unsigned char>(s[i + 1]);
            ok = c <= 0xF4 && !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
        }
        if (!ok) return std::make_pair(line, column);
        if (c == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
        i += len;
    }
    return std::nullopt;
}

/// The token stream of a pass. In a full-context pass it stops prediction once prediction has
/// read more tokens than its budget or spent more than 500 ms: from then on it answers end of
/// input to lookahead, so every decision ends at once and the pass fails, and the caller keeps
/// the SLL pass's error. Nothing is thrown through ANTLR's prediction: it holds raw pointers
/// there, and an exception leaked them (vpl_fuzz, LeakSanitizer).
class BudgetedTokenStream : public antlr4::CommonTokenStream {
  public:
    using antlr4::CommonTokenStream::CommonTokenStream;

    void limit(size_t tokens_read) {
        limit_ = tokens_read;
        deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    }
    bool exhausted() const { return exhausted_; }

    size_t LA(ssize_t i) override { return exhausted_ && !in_base_ ? antlr4::Token::EOF : antlr4::CommonTokenStream::LA(i); }
    void consume() override {
        if (!exhausted_ && (++consumed_ > limit_ || ((consumed_ & 255) == 0 && std::chrono::steady_clock::now() > deadline_))) {
            exhausted_ = true;
        }
        in_base_ = true;  // the base checks the real next token
        antlr4::CommonTokenStream::consume();
        in_base_ = false;
    }

  private:
    size_t consumed_ = 0;
    size_t limit_ = SIZE_MAX;
    bool exhausted_ = false;
    bool in_base_ = false;
    std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
};

struct ParseAttempt {
    std::optional<Program> program;
    std::optional<Diagnostic> error;
    /// The error does not depend on the prediction mode (a lexical error, nesting too deep):
    /// another pass would find the same one.
    bool error_is_final = false;
    /// The full-context pass ran out of its lookahead budget: its outcome means nothing.
    bool exhausted = false;
    Diagnostics transform_errors;
};

/// One pass of the ANTLR parser in the given prediction mode.
ParseAttempt run_parser(const ExpandedSource& src, const FrontendOptions& options, antlr4::atn::PredictionMode mode) {
    antlr4::ANTLRInputStream input(src.text);
    VPLLexer lexer(&input);
    lexer.removeErrorListeners();
    detail::IndentTokenSource tokens_source(lexer, options.max_nesting, options.max_expr_depth);
    BudgetedTokenStream tokens(&tokens_source);
    if (mode == antlr4::atn::PredictionMode::LL) {
        tokens.fill();  // the pass before read them all: the budget scales with their number
        tokens.limit(2'000 + options.ll_lookahead_per_token * tokens.size());
    }
    GuardedParser parser(&tokens, options.stack_budget);
    parser.removeErrorListeners();
    FirstErrorListener listener;
    parser.addErrorListener(&listener);
    parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(mode);

    ParseAttempt attempt;
    VPLParser::ProgramContext* tree = nullptr;
    try {
        tree = parser.program();
    } catch (const StopParsing&) {
    }
    if (tokens.exhausted()) {
        attempt.exhausted = true;
        return attempt;
    }
    // A lexical error explains the failure better than the parser's view of the cut-off input.
    if (!tokens_source.errors().empty()) {
        const auto& e = tokens_source.errors().front();
        attempt.error = syntax_error(src, e.line, e.column, e.message, e.hint);
        attempt.error_is_final = true;
        return attempt;
    }
    if (auto* t = parser.too_deep_token()) {
        attempt.error = syntax_error(src, t->getLine(), t->getCharPositionInLine() + 1,
                                     "program is nested too deeply", "split it into smaller expressions or functions");
        attempt.error_is_final = true;
        return attempt;
    }
    if (listener.found || tree == nullptr) {
        attempt.error = syntax_error(src, listener.line, listener.column, listener.message, listener.hint);
        return attempt;
    }
    detail::Transformer transformer(src);
    attempt.program = transformer.program(tree);
    attempt.transform_errors = std::move(transformer.diagnostics());
    return attempt;
}

void sort_by_position(Diagnostics& ds) {
    std::stable_sort(ds.begin(), ds.end(), [](const Diagnostic& a, const Diagnostic& b) {
        return std::tie(a.span.line, a.span.column) < std::tie(b.span.line, b.span.column);
    });
}

}  // namespace

ParseResult parse(std::string_view source, const FrontendOptions& options) {
    ParseResult result;
    if (auto bad = first_invalid_utf8(source)) {
        Diagnostic d;
        d.code = "E000";
        d.message = "source is not valid UTF-8";
        d.hint = "save the file as UTF-8";
        d.span = {bad->first, bad->second, bad->first, bad->second};
        result.diagnostics.push_back(std::move(d));
        return result;
    }
    auto expanded = expand_source(source, options.expand);
    if (auto* d = std::get_if<Diagnostic>(&expanded)) {
        result.diagnostics.push_back(*d);
        return result;
    }
    const auto& src = std::get<ExpandedSource>(expanded);
    // SLL prediction is fast and right for almost every input; only a syntax error needs the full
    // LL pass, to tell a real error from an SLL conflict. A lexical error is the same in both, and
    // the LL pass over it can cost seconds (vpl_fuzz: 6 s for 2.5 KB of nested lambdas).
    ParseAttempt attempt;
    try {
        attempt = run_parser(src, options, antlr4::atn::PredictionMode::SLL);
        if (attempt.error && !attempt.error_is_final) {
            ParseAttempt full = run_parser(src, options, antlr4::atn::PredictionMode::LL);
            // Out of budget, the SLL error stands: it is where SLL prediction failed, which for
            // all but a program valid only in full context is where the error is.
            if (!full.exhausted) attempt = std::move(full);
        }
    } catch (const std::exception& e) {
        Diagnostic d;
        d.code = "E000";
        d.message = std::string("the parser failed: ") + e.what();
        result.diagnostics.push_back(std::move(d));
        return result;
    }
    if (attempt.error) {
        result.diagnostics.push_back(*attempt.error);
        return result;
    }
    result.diagnostics = std::move(attempt.transform_errors);
    // A refused tree may be deeper than the budget: it is freed without recursion.
    if (has_errors(result.diagnostics)) {
        dismantle(*attempt.program);
        return result;
    }
    if (auto deep = find_too_deep(*attempt.program, options.max_ast_depth)) {
        dismantle(*attempt.program);
        Diagnostic d;
        d.code = "E000";
        d.message = "expression nested deeper than " + std::to_string(options.max_ast_depth) + " levels";
        d.hint = "split it into variables or functions";
        d.span = *deep;
        result.diagnostics.push_back(std::move(d));
        return result;
    }
    fold_constants(*attempt.program);
    result.program = std::move(attempt.program);
    return result;
}

ParseResult check(std::string_view source, const FrontendOptions& options) {
    ParseResult result = parse(source, options);
    if (!result.program) return result;
    Diagnostics found = validate(*result.program);
    result.diagnostics.insert(result.diagnostics.end(), found.begin(), found.end());
    sort_by_position(result.diagnostics);
    return result;
}

}  // namespace varpulis::vpl
