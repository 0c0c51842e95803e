// SPDX-License-Identifier: Apache-2.0
//
// VPL, the Varpulis Pipeline Language.
//
// The lexer produces raw NL tokens; `cpp/varpulis/vpl/token_source.cpp` wraps it and turns line
// structure into NEWLINE (end of statement), INDENT and DEDENT (Python-style blocks), so the parser
// below never sees NL. Statements end at a newline unless brackets are open, the next line starts
// with `.` or `->`, or the next line is indented deeper without a block opener (continuation).
//
// Keywords are real tokens with word boundaries; `name` lists the ones that may still be used as
// identifiers (field names such as `type`, `event`, `from`).
grammar VPL;

tokens { INDENT, DEDENT, NEWLINE }

@parser::members {
    /// Inside `-> T where <filter>` a `.name(` ends the filter: it starts the next stream operator.
    int step_filter_depth_ = 0;
    bool member_allowed() {
        return step_filter_depth_ == 0 || _input->LA(3) != VPLParser::LPAREN;
    }
}

// ---------------------------------------------------------------------------------------------
// Program and statements
// ---------------------------------------------------------------------------------------------

program : NEWLINE* (statement NEWLINE*)* EOF ;

statement
    : simpleStatement (NEWLINE | EOF)
    | compoundStatement
    ;

simpleStatement
    : contextDecl
    | connectorDecl
    | streamDecl
    | patternDecl
    | eventDecl
    | typeDecl
    | varDecl
    | configDecl
    | importStmt
    | returnStmt
    | BREAK
    | CONTINUE
    | emitStmt
    | assignment
    | expr
    ;

compoundStatement
    : fnDecl
    | ifStmt
    | forStmt
    | whileStmt
    | eventBlockDecl
    | configBlockDecl
    ;

block : NEWLINE INDENT (statement NEWLINE*)+ DEDENT ;

contextDecl : CONTEXT name (LPAREN namedArg (COMMA namedArg)* COMMA? RPAREN)? ;

connectorDecl : CONNECTOR name ASSIGN_EQ name LPAREN (namedArg (COMMA namedArg)* COMMA?)? RPAREN ;

streamDecl : STREAM name (COLON typeExpr)? ASSIGN_EQ streamSource streamOp* ;

patternDecl : PATTERN name ASSIGN_EQ saseExpr (WITHIN expr)? (PARTITION BY name)? ;

eventDecl
    : EVENT name (EXTENDS name)? LBRACE (fieldDecl (COMMA? fieldDecl)* COMMA?)? RBRACE
    | EVENT name (EXTENDS name)? (COLON fieldDecl (COMMA fieldDecl)*)?
    ;

eventBlockDecl : EVENT name (EXTENDS name)? COLON NEWLINE INDENT (fieldDecl NEWLINE+)+ DEDENT ;

fieldDecl : anyName COLON typeExpr ;

typeDecl : TYPE name ASSIGN_EQ typeExpr ;

varDecl : kind=(LET | VAR | CONST) name (COLON typeExpr)? ASSIGN_EQ expr ;

configDecl : CONFIG name LBRACE (configEntry COMMA?)* RBRACE ;

configBlockDecl : CONFIG name? COLON NEWLINE INDENT (configEntry COMMA? NEWLINE+)+ DEDENT ;

configEntry : anyName COLON expr ;

importStmt : IMPORT STRING (AS name)? ;

fnDecl : FN name LPAREN (param (COMMA param)* COMMA?)? RPAREN (ARROW typeExpr)? COLON block ;

param : name (COLON typeExpr)? ;

ifStmt : IF expr COLON block (ELIF expr COLON block)* (ELSE COLON block)? ;

forStmt : FOR name IN expr COLON block ;

whileStmt : WHILE expr COLON block ;

returnStmt : RETURN expr? ;

emitStmt : EMIT name LPAREN (namedArg (COMMA namedArg)* COMMA?)? RPAREN ;

assignment : name WALRUS expr ;

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

typeExpr : typeCore QUESTION? ;

typeCore
    : LBRACK typeExpr RBRACK                               # arrayType
    | LBRACE typeExpr COLON typeExpr RBRACE                # mapType
    | LPAREN typeExpr (COMMA typeExpr)+ RPAREN             # tupleType
    | name (LT typeExpr GT)?                               # namedType
    ;

// ---------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------

streamSource
    : name DOT FROM LPAREN name (COMMA namedArg)* COMMA? RPAREN          # fromSource
    | MERGE LPAREN inlineStream (COMMA inlineStream)* COMMA? RPAREN      # mergeSource
    | JOIN LPAREN inlineStream (COMMA inlineStream)* COMMA? RPAREN       # joinSource
    | SEQUENCE LPAREN sequenceStep (COMMA sequenceStep)* COMMA? RPAREN   # sequenceSource
    | TIMER LPAREN opArgs? RPAREN                                        # timerSource
    | ALL name (AS name)?                                                # kleeneSource
    | name (AS name)?                                                    # namedSource
    ;

inlineStream
    : STREAM name ASSIGN_EQ name streamOp*
    | name
    ;

sequenceStep
    : anyName COLON name stepFilter? (DOT WITHIN LPAREN expr RPAREN)?
    ;

stepFilter : WHERE { step_filter_depth_++; } expr { step_filter_depth_--; } ;

streamOp
    : ARROW ALL? name stepClause*                                        # followedByOp
    | DOT EMIT (AS name)? LPAREN opArgs? RPAREN                           # emitOp
    | DOT NOT LPAREN name stepFilter? RPAREN                              # notOp
    | DOT anyName LPAREN opArgs? RPAREN                                   # genericOp
    ;

stepClause
    : stepFilter
    | AS name
    ;

opArgs : opArg (COMMA opArg)* COMMA? ;

opArg
    : anyName COLON streamOp+                                             # opChainArg
    | anyName COLON expr                                                  # namedOpArg
    | anyName COLON patternLogic                                          # logicOpArg
    | expr order=(ASC | DESC)?                                            # positionalOpArg
    ;

// `.pattern(name: A -> B and not C)`: parsed, not executed.
patternLogic : patternAnd (OR patternAnd)* ;
patternAnd : patternUnary (AND patternUnary)* ;
patternUnary
    : NOT? LPAREN patternLogic RPAREN
    | NOT? name (ARROW name)*
    ;

// Named `pattern` declarations (upper-case operators).
saseExpr : saseAnd (OR_KW saseAnd)* ;
saseAnd : saseNot (AND_KW saseNot)* ;
saseNot : NOT_KW? saseTerm ;
saseTerm
    : SEQ_KW LPAREN saseItem (COMMA saseItem)* COMMA? RPAREN   # seqTerm
    | LPAREN saseExpr RPAREN                                  # parenTerm
    | saseItem                                                # itemTerm
    ;
saseItem : NOT_KW? name kleene=(PLUS | STAR | QUESTION)? stepClause* ;

// ---------------------------------------------------------------------------------------------
// Expressions, lowest to highest precedence
// ---------------------------------------------------------------------------------------------

expr
    : lambda
    | orExpr (rangeOp=(DOTDOT | DOTDOTEQ) orExpr)?
    ;

lambda
    : name FAT_ARROW lambdaBody
    | LPAREN (name (COMMA name)*)? RPAREN FAT_ARROW lambdaBody
    ;

lambdaBody
    : LBRACE (lambdaStatement SEMI?)* expr RBRACE
    | expr
    ;

lambdaStatement : varDecl | assignment ;

orExpr : andExpr (OR andExpr)* ;

andExpr : notExpr (AND notExpr)* ;

notExpr
    : NOT notExpr
    | comparison
    ;

comparison : bitOr (compareOp bitOr)? ;

compareOp : EQ | NEQ | LT | LE | GT | GE | IN | NOT IN | IS NOT? ;

bitOr : bitXor (PIPE bitXor)* ;

bitXor : bitAnd (CARET bitAnd)* ;

bitAnd : shift (AMP shift)* ;

shift : additive ((SHL | SHR) additive)* ;

additive : multiplicative ((PLUS | MINUS) multiplicative)* ;

multiplicative : power ((STAR | SLASH | PERCENT) power)* ;

// `-2 ** 2` is `(-2) ** 2`: the operands of `**` are unary expressions (as in the reference).
power : unary (POW power)? ;

unary
    : op=(MINUS | TILDE | PLUS) unary
    | postfix
    ;

postfix : primary postfixOp* ;

postfixOp
    : { member_allowed() }? DOT anyName                               # memberOp
    | QDOT anyName                                                    # optionalMemberOp
    | LBRACK lo=additive? COLON hi=additive? RBRACK                  # sliceOp
    | LBRACK expr RBRACK                                              # indexOp
    | LPAREN (callArg (COMMA callArg)* COMMA?)? RPAREN                # callOp
    ;

callArg
    : anyName COLON expr
    | expr
    ;

namedArg : anyName COLON expr ;

primary
    : IF expr THEN expr ELSE expr                                      # ifExpr
    | literal                                                          # literalExpr
    | name                                                             # identExpr
    | LBRACK (expr (COMMA expr)* COMMA?)? RBRACK                       # arrayExpr
    | LBRACE (mapEntry (COMMA mapEntry)* COMMA?)? RBRACE               # mapExpr
    | LPAREN expr RPAREN                                               # parenExpr
    ;

mapEntry : (STRING | anyName) COLON expr ;

literal
    : INT | FLOAT | DURATION | STRING | TIMESTAMP | KW_TRUE | KW_FALSE | KW_NULL
    ;

// Identifiers: keywords that cannot start or continue an expression may still name things.
name
    : IDENT
    | STREAM | EVENT | TYPE | PATTERN | CONTEXT | CONNECTOR | CONFIG | IMPORT | WHERE | AS | ALL
    | MERGE | JOIN | SEQUENCE | TIMER | FROM | EXTENDS | WITHIN | PARTITION | BY | ASC | DESC
    | SEQ_KW | AND_KW | OR_KW | NOT_KW
    ;

// After `.` and before `:` any word is a name.
anyName
    : name
    | FN | LET | VAR | CONST | IF | ELIF | ELSE | FOR | WHILE | RETURN | BREAK | CONTINUE | EMIT
    | NOT | AND | OR | IN | IS | THEN | KW_TRUE | KW_FALSE | KW_NULL
    ;

// ---------------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------------

STREAM : 'stream' ;
EVENT : 'event' ;
TYPE : 'type' ;
PATTERN : 'pattern' ;
CONTEXT : 'context' ;
CONNECTOR : 'connector' ;
CONFIG : 'config' ;
IMPORT : 'import' ;
FN : 'fn' ;
LET : 'let' ;
VAR : 'var' ;
CONST : 'const' ;
IF : 'if' ;
ELIF : 'elif' ;
ELSE : 'else' ;
THEN : 'then' ;
FOR : 'for' ;
WHILE : 'while' ;
RETURN : 'return' ;
BREAK : 'break' ;
CONTINUE : 'continue' ;
EMIT : 'emit' ;
WHERE : 'where' ;
AS : 'as' ;
ALL : 'all' ;
IN : 'in' ;
IS : 'is' ;
NOT : 'not' ;
AND : 'and' ;
OR : 'or' ;
KW_TRUE : 'true' ;
KW_FALSE : 'false' ;
KW_NULL : 'null' ;
MERGE : 'merge' ;
JOIN : 'join' ;
SEQUENCE : 'sequence' ;
TIMER : 'timer' ;
FROM : 'from' ;
EXTENDS : 'extends' ;
WITHIN : 'within' ;
PARTITION : 'partition' ;
BY : 'by' ;
ASC : 'asc' ;
DESC : 'desc' ;
SEQ_KW : 'SEQ' ;
AND_KW : 'AND' ;
OR_KW : 'OR' ;
NOT_KW : 'NOT' ;

ARROW : '->' ;
FAT_ARROW : '=>' ;
WALRUS : ':=' ;
DOTDOTEQ : '..=' ;
DOTDOT : '..' ;
QDOT : '?.' ;
EQ : '==' ;
NEQ : '!=' ;
LE : '<=' ;
GE : '>=' ;
SHL : '<<' ;
SHR : '>>' ;
POW : '**' ;
LT : '<' ;
GT : '>' ;
ASSIGN_EQ : '=' ;
PLUS : '+' ;
MINUS : '-' ;
STAR : '*' ;
SLASH : '/' ;
PERCENT : '%' ;
PIPE : '|' ;
CARET : '^' ;
AMP : '&' ;
TILDE : '~' ;
QUESTION : '?' ;
DOT : '.' ;
COMMA : ',' ;
COLON : ':' ;
SEMI : ';' ;
LPAREN : '(' ;
RPAREN : ')' ;
LBRACK : '[' ;
RBRACK : ']' ;
LBRACE : '{' ;
RBRACE : '}' ;

// A number glued to letters that are not a duration unit (`5min`, `3x`) is one bad token, so
// `5min` is never read as `5m` followed by the keyword `in`.
DURATION : DIGITS ('ns' | 'us' | 'ms' | 's' | 'm' | 'h' | 'd') ;
FLOAT : DIGITS '.' DIGITS EXPONENT? | DIGITS EXPONENT ;
INT : DIGITS ;
BAD_NUMBER : DIGITS ('.' DIGITS)? [a-zA-Z_] [a-zA-Z0-9_]* ;

TIMESTAMP : '@' DIGIT DIGIT DIGIT DIGIT '-' DIGIT DIGIT '-' DIGIT DIGIT
            ('T' DIGIT DIGIT ':' DIGIT DIGIT ':' DIGIT DIGIT ('.' DIGITS)?
                ('Z' | [+-] DIGIT DIGIT ':' DIGIT DIGIT)?)? ;

STRING : '"' (ESCAPE | ~["\\\r\n])* '"' ;
UNTERMINATED_STRING : '"' (ESCAPE | ~["\\\r\n])* ;

IDENT : [a-zA-Z_] [a-zA-Z0-9_]* ;

BLOCK_COMMENT : '/*' .*? '*/' -> channel(HIDDEN) ;
UNTERMINATED_COMMENT : '/*' (~'*' | '*'+ ~[*/])* '*'* ;
LINE_COMMENT : ('#' | '//') ~[\r\n]* -> skip ;
NL : '\r'? '\n' | '\r' ;
WS : [ \t\f]+ -> skip ;
LINE_JOIN : '\\' [ \t]* ('\r'? '\n' | '\r') -> skip ;
ERROR_CHAR : . ;

fragment DIGIT : [0-9] ;
fragment DIGITS : DIGIT+ ;
fragment EXPONENT : [eE] [+-]? DIGITS ;
fragment ESCAPE : '\\' . ;
