// SPDX-License-Identifier: Apache-2.0
#pragma once

// Turns the generated lexer's raw NL tokens into the NEWLINE / INDENT / DEDENT structure the
// parser expects. Private to the vpl module.

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "TokenSource.h"
#include "VPLLexer.h"
#include "VPLParser.h"

namespace varpulis::vpl::detail {

/// A lexical error found while producing tokens (1-based position in the expanded text).
struct LexError {
    size_t line = 0;
    size_t column = 0;
    std::string message;
    std::string hint;
};

/// Wraps VPLLexer. Rules:
/// * Inside brackets, line breaks mean nothing.
/// * A line break ends a statement (NEWLINE) unless the next line starts with `.` or `->`, or is
///   indented deeper than the current block without the previous line ending in `:`.
/// * A line ending in `:` followed by a deeper line opens a block (INDENT); a shallower line
///   closes blocks (one DEDENT per level).
/// * Lexical errors, bracket nesting past `max_depth` and expression nesting past
///   `max_expr_depth` stop the stream (EOF) and are recorded.
///
/// Expression nesting is measured here, before the parser sees a token, because ANTLR's
/// prediction recurses once per nesting level without entering a rule, where no stack guard can
/// stop it: 50,000 unary minus signs crashed it. A level is an open bracket, or one of the
/// constructs that nest without brackets: a prefix operator (`-`, `+`, `~`, `not`) not yet closed
/// by a binary operator after its operand, a `**` (right-associative) not yet closed by a
/// lower-precedence operator, an `if ... then ... else` or a lambda `=>` (both open until the
/// end of their bracket, argument or statement).
class IndentTokenSource : public antlr4::TokenSource {
  public:
    IndentTokenSource(generated::VPLLexer& lexer, int max_depth, int max_expr_depth);

    std::unique_ptr<antlr4::Token> nextToken() override;
    size_t getLine() const override { return lexer_.getLine(); }
    size_t getCharPositionInLine() override { return lexer_.getCharPositionInLine(); }
    antlr4::CharStream* getInputStream() override { return lexer_.getInputStream(); }
    std::string getSourceName() override { return lexer_.getSourceName(); }
    antlr4::TokenFactory<antlr4::CommonToken>* getTokenFactory() override { return lexer_.getTokenFactory(); }

    const std::vector<LexError>& errors() const { return errors_; }

  private:
    void handle_line_break(const antlr4::Token& line_break);
    void handle_end_of_input(std::unique_ptr<antlr4::Token> eof);
    /// Return the next raw token, skipping line breaks inside brackets.
    std::unique_ptr<antlr4::Token> next_raw();
    /// Hand a queued or fresh token to the parser.
    std::unique_ptr<antlr4::Token> deliver(std::unique_ptr<antlr4::Token> token);
    std::unique_ptr<antlr4::Token> synthetic(size_t type, const antlr4::Token& at, const char* text);
    std::unique_ptr<antlr4::Token> stop_with_error(const antlr4::Token& at, std::string message, std::string hint);
    /// Check a real token on its way to the parser: errors, bracket depth, first-line indentation.
    std::unique_ptr<antlr4::Token> admit(std::unique_ptr<antlr4::Token> token);
    /// Count the nesting a real token opens or closes; false when it goes past max_expr_depth.
    bool gauge_nesting(const antlr4::Token& token);
    bool within_expr_depth() const;

    generated::VPLLexer& lexer_;
    int max_depth_;
    int max_expr_depth_;
    /// Nesting without brackets, per open bracket (the first entry: outside any bracket).
    struct Unbracketed {
        int prefix = 0;  ///< prefix operators waiting for a binary operator
        int power = 0;   ///< `**` waiting for a lower-precedence operator
        int open = 0;    ///< `if` and `=>`, open to the end of the argument
        int total() const { return prefix + power + open; }
    };
    std::vector<Unbracketed> unbracketed_{1};
    int unbracketed_total_ = 0;   ///< the sum over unbracketed_
    size_t last_real_type_ = 0;   ///< the last token that was not NEWLINE, INDENT or DEDENT
    bool started_ = false;
    bool stopped_ = false;
    size_t last_type_ = 0;  ///< type of the last token handed to the parser (0 = none yet)
    std::vector<size_t> indents_{0};
    struct OpenBracket {
        size_t line, column;
        char bracket;
    };
    std::vector<OpenBracket> open_brackets_;
    std::deque<std::unique_ptr<antlr4::Token>> pending_;
    std::vector<LexError> errors_;
};

}  // namespace varpulis::vpl::detail
