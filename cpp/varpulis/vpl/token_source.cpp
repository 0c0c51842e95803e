// SPDX-License-Identifier: Apache-2.0
#include "varpulis/vpl/token_source_internal.hpp"

#include <algorithm>
#include <cstdint>

namespace varpulis::vpl::detail {

using antlr4::Token;
using generated::VPLLexer;
using generated::VPLParser;

namespace {

bool is_synthetic(size_t type) {
    return type == VPLParser::NEWLINE || type == VPLParser::INDENT || type == VPLParser::DEDENT || type == Token::EOF;
}

char closing_for(char open) { return open == '(' ? ')' : open == '[' ? ']' : '}'; }

/// True for a token an operand can end with, so that a following `-` or `+` is binary.
bool ends_operand(size_t type) {
    switch (type) {
        case VPLLexer::IDENT:
        case VPLLexer::INT:
        case VPLLexer::FLOAT:
        case VPLLexer::DURATION:
        case VPLLexer::STRING:
        case VPLLexer::TIMESTAMP:
        case VPLLexer::KW_TRUE:
        case VPLLexer::KW_FALSE:
        case VPLLexer::KW_NULL:
        case VPLLexer::RPAREN:
        case VPLLexer::RBRACK:
        case VPLLexer::RBRACE: return true;
        default: return false;
    }
}

/// True for a binary operator below `**` in precedence (it closes prefix operators and `**`).
bool is_low_binary(size_t type) {
    switch (type) {
        case VPLLexer::STAR:
        case VPLLexer::SLASH:
        case VPLLexer::PERCENT:
        case VPLLexer::SHL:
        case VPLLexer::SHR:
        case VPLLexer::AMP:
        case VPLLexer::CARET:
        case VPLLexer::PIPE:
        case VPLLexer::EQ:
        case VPLLexer::NEQ:
        case VPLLexer::LT:
        case VPLLexer::LE:
        case VPLLexer::GT:
        case VPLLexer::GE:
        case VPLLexer::AND:
        case VPLLexer::OR:
        case VPLLexer::IN:
        case VPLLexer::IS:
        case VPLLexer::DOTDOT:
        case VPLLexer::DOTDOTEQ: return true;
        default: return false;
    }
}

}  // namespace

IndentTokenSource::IndentTokenSource(VPLLexer& lexer, int max_depth, int max_expr_depth)
    : lexer_(lexer), max_depth_(max_depth), max_expr_depth_(max_expr_depth) {}

std::unique_ptr<Token> IndentTokenSource::nextToken() {
    while (pending_.empty()) {
        if (stopped_) {
            return lexer_.getTokenFactory()->create({&lexer_, lexer_.getInputStream()}, Token::EOF, "<EOF>",
                                                    Token::DEFAULT_CHANNEL, 0, 0, lexer_.getLine(),
                                                    lexer_.getCharPositionInLine());
        }
        auto token = next_raw();
        if (token->getType() == VPLLexer::NL) {
            handle_line_break(*token);
        } else if (token->getType() == Token::EOF) {
            handle_end_of_input(std::move(token));
        } else {
            pending_.push_back(std::move(token));
        }
    }
    auto token = std::move(pending_.front());
    pending_.pop_front();
    return deliver(std::move(token));
}

std::unique_ptr<Token> IndentTokenSource::deliver(std::unique_ptr<Token> token) {
    if (!is_synthetic(token->getType())) {
        token = admit(std::move(token));
    } else if (open_brackets_.empty()) {
        // A statement ends: nothing it opened without brackets is open any more.
        unbracketed_total_ = 0;
        unbracketed_.assign(1, Unbracketed{});
    }
    last_type_ = token->getType();
    return token;
}

bool IndentTokenSource::gauge_nesting(const Token& token) {
    const size_t type = token.getType();
    const bool after_operand = ends_operand(last_real_type_);
    last_real_type_ = type;
    switch (type) {
        case VPLLexer::LPAREN:
        case VPLLexer::LBRACK:
        case VPLLexer::LBRACE:
            unbracketed_.emplace_back();
            return within_expr_depth();
        case VPLLexer::RPAREN:
        case VPLLexer::RBRACK:
        case VPLLexer::RBRACE:
            if (unbracketed_.size() > 1) {
                unbracketed_total_ -= unbracketed_.back().total();
                unbracketed_.pop_back();
            }
            return true;
        default: break;
    }
    Unbracketed& level = unbracketed_.back();
    const int before = level.total();
    switch (type) {
        case VPLLexer::COMMA:
        case VPLLexer::SEMI: level = Unbracketed{}; break;
        case VPLLexer::MINUS:
        case VPLLexer::PLUS:
        case VPLLexer::NOT:  // after an operand: binary minus or plus, or `a not in b`
            if (after_operand) {
                level.prefix = level.power = 0;
            } else {
                ++level.prefix;
            }
            break;
        case VPLLexer::TILDE: ++level.prefix; break;
        case VPLLexer::POW:
            level.prefix = 0;
            ++level.power;
            break;
        case VPLLexer::IF:
        case VPLLexer::FAT_ARROW: ++level.open; break;
        default:
            if (is_low_binary(type)) level.prefix = level.power = 0;
            break;
    }
    unbracketed_total_ += level.total() - before;
    return within_expr_depth();
}

bool IndentTokenSource::within_expr_depth() const {
    return static_cast<int>(open_brackets_.size()) + unbracketed_total_ <= max_expr_depth_;
}

std::unique_ptr<Token> IndentTokenSource::next_raw() {
    for (;;) {
        auto token = lexer_.nextToken();
        if (token->getType() == VPLLexer::BLOCK_COMMENT) continue;
        if (token->getType() == VPLLexer::NL && !open_brackets_.empty()) continue;
        return token;
    }
}

void IndentTokenSource::handle_line_break(const Token& line_break) {
    // A block comment that starts a line sets that line's indentation.
    size_t comment_column = SIZE_MAX;
    auto next = lexer_.nextToken();
    for (;; next = lexer_.nextToken()) {
        if (next->getType() == VPLLexer::NL) {
            comment_column = SIZE_MAX;
        } else if (next->getType() == VPLLexer::BLOCK_COMMENT) {
            comment_column = std::min(comment_column, next->getCharPositionInLine());
        } else {
            break;
        }
    }
    if (next->getType() == Token::EOF) {
        handle_end_of_input(std::move(next));
        return;
    }
    size_t type = next->getType();
    if (last_type_ == 0 || type == VPLLexer::DOT || type == VPLLexer::ARROW) {
        pending_.push_back(std::move(next));  // leading blank lines, or a continuation line
        return;
    }
    size_t column = std::min(comment_column, next->getCharPositionInLine());
    if (column > indents_.back()) {
        if (last_type_ == VPLLexer::COLON) {
            pending_.push_back(synthetic(VPLParser::NEWLINE, line_break, "<newline>"));
            pending_.push_back(synthetic(VPLParser::INDENT, *next, "<indent>"));
            indents_.push_back(column);
        }
        pending_.push_back(std::move(next));  // deeper without a block opener: a continuation
        return;
    }
    pending_.push_back(synthetic(VPLParser::NEWLINE, line_break, "<newline>"));
    while (indents_.size() > 1 && column < indents_.back()) {
        indents_.pop_back();
        pending_.push_back(synthetic(VPLParser::DEDENT, *next, "<dedent>"));
    }
    if (column != indents_.back()) {
        pending_.push_back(stop_with_error(*next, "indentation does not match any enclosing block",
                                           "indent this line like the block it belongs to"));
        return;
    }
    pending_.push_back(std::move(next));
}

void IndentTokenSource::handle_end_of_input(std::unique_ptr<Token> eof) {
    if (!open_brackets_.empty()) {
        const auto& open = open_brackets_.back();
        errors_.push_back({open.line, open.column + 1, std::string("'") + open.bracket + "' is never closed",
                           std::string("add the matching '") + closing_for(open.bracket) + "'"});
    }
    if (last_type_ != 0 && last_type_ != VPLParser::NEWLINE) {
        pending_.push_back(synthetic(VPLParser::NEWLINE, *eof, "<newline>"));
    }
    while (indents_.size() > 1) {
        indents_.pop_back();
        pending_.push_back(synthetic(VPLParser::DEDENT, *eof, "<dedent>"));
    }
    pending_.push_back(std::move(eof));
    stopped_ = true;
}

std::unique_ptr<Token> IndentTokenSource::admit(std::unique_ptr<Token> token) {
    if (!started_) {
        started_ = true;
        indents_.back() = token->getCharPositionInLine();
    }
    switch (token->getType()) {
        case VPLLexer::UNTERMINATED_STRING:
            return stop_with_error(*token, "unterminated string literal",
                                   "close the string with \" on the same line");
        case VPLLexer::UNTERMINATED_COMMENT:
            return stop_with_error(*token, "unterminated block comment", "close the comment with */");
        case VPLLexer::BAD_NUMBER:
            return stop_with_error(*token, "invalid number '" + token->getText() + "'",
                                   "durations end in ns, us, ms, s, m, h or d; floats are written 1.5");
        case VPLLexer::ERROR_CHAR:
            return stop_with_error(*token, "unexpected character '" + token->getText() + "'", "");
        case VPLLexer::LPAREN:
        case VPLLexer::LBRACK:
        case VPLLexer::LBRACE:
            open_brackets_.push_back({token->getLine(), token->getCharPositionInLine(), token->getText()[0]});
            if (static_cast<int>(open_brackets_.size()) > max_depth_) {
                return stop_with_error(*token, "brackets nested deeper than " + std::to_string(max_depth_) + " levels",
                                       "split the expression into functions or variables");
            }
            break;
        case VPLLexer::RPAREN:
        case VPLLexer::RBRACK:
        case VPLLexer::RBRACE:
            if (!open_brackets_.empty()) open_brackets_.pop_back();
            break;
        default: break;
    }
    if (!gauge_nesting(*token)) {
        return stop_with_error(*token, "expression nested deeper than " + std::to_string(max_expr_depth_) + " levels",
                               "split it into variables or functions");
    }
    return token;
}

std::unique_ptr<Token> IndentTokenSource::synthetic(size_t type, const Token& at, const char* text) {
    return lexer_.getTokenFactory()->create({&lexer_, lexer_.getInputStream()}, type, text,
                                            Token::DEFAULT_CHANNEL, at.getStartIndex(), at.getStartIndex(),
                                            at.getLine(), at.getCharPositionInLine());
}

std::unique_ptr<Token> IndentTokenSource::stop_with_error(const Token& at, std::string message, std::string hint) {
    errors_.push_back({at.getLine(), at.getCharPositionInLine() + 1, std::move(message), std::move(hint)});
    stopped_ = true;
    pending_.clear();
    return synthetic(Token::EOF, at, "<EOF>");
}

}  // namespace varpulis::vpl::detail
