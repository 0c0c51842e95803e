// SPDX-License-Identifier: Apache-2.0
// libFuzzer target `vpl_fuzz`: any byte string through the whole VPL front end (expansion,
// parsing, transform, depth check, folding, validation, diagnostics, AST JSON), then, for a
// program that checks, through the engine as Runtime::from_source takes it (compile, then start
// when starting opens nothing). It must answer diagnostics, never crash, hang or leak.
//
// Structure-aware: besides libFuzzer's own mutations, the custom mutator wraps a span of the
// input in one operator form of the grammar (grammar/VPL.g4) repeated up to 100,000 times, nests
// blocks under `if`/`for`/`while`/`fn` headers, or repeats the span itself (long flat chains). So
// every form reaches the nesting limits of docs/vpl.md ("Nesting limits"): past them the answer
// must be an E000 diagnostic.
#include <pthread.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <string_view>

#include "varpulis/engine/plan_compiler.hpp"
#include "varpulis/engine/runtime.hpp"
#include "varpulis/vpl/ast_json.hpp"
#include "varpulis/vpl/frontend.hpp"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

using varpulis::vpl::Diagnostics;

/// A program compiled and started only when starting it touches nothing outside the process:
/// no sink (a `file` sink opens a path the input names) and few context threads.
bool safe_to_start(const varpulis::engine::ProgramPlan& plan) {
    if (plan.contexts.size() > 8) return false;
    if (!plan.program.sinks.empty()) return false;
    for (const auto& context : plan.contexts) {
        if (!context.plan.sinks.empty()) return false;
    }
    return true;
}

[[noreturn]] void finding(const char* what, std::string_view source) {
    std::fprintf(stderr, "vpl_fuzz finding: %s (input of %zu bytes)\n", what, source.size());
    __builtin_trap();
}

/// The diagnostics of a refused program: at least one error, each with a code and a message.
void check_refusal(const Diagnostics& diagnostics, std::string_view source) {
    if (!varpulis::vpl::has_errors(diagnostics)) finding("a refused program without an error", source);
    for (const auto& d : diagnostics) {
        if (d.code.empty() || d.message.empty()) finding("a diagnostic without a code or a message", source);
        // Every nesting limit is a syntax error (docs/vpl.md "Nesting limits").
        if (d.message.find("nested deeper than") != std::string::npos && d.code != "E000") {
            finding("a nesting limit that is not E000", source);
        }
    }
}

/// One input through the front end and, when it checks, the engine.
void fuzz_one(std::string_view source) {
    auto result = varpulis::vpl::check(source);
    if (!result.diagnostics.empty()) (void)varpulis::vpl::format_diagnostics(result.diagnostics, source);
    if (!result.program) {
        check_refusal(result.diagnostics, source);
        return;
    }
    (void)varpulis::vpl::to_json(*result.program).dump();
    if (!result.ok()) return;

    // What Runtime::from_source does after its check (the same check, not run twice: parsing is
    // most of the cost of an input, and the timeout is per input).
    auto plan = varpulis::engine::compile_program(*result.program, varpulis::engine::EngineOptions{});
    if (!plan) {
        if (plan.status().message().empty()) finding("a refused plan without a message", source);
        return;
    }
    if (!safe_to_start(*plan)) return;
    auto started = varpulis::engine::Runtime::start(std::move(*plan));
    if (started) {
        std::vector<varpulis::engine::EventPtr> outputs;
        (void)(*started)->flush(outputs);
    }
}

/// The stack each input runs on. Sanitizer frames are several times a release build's (nlohmann's
/// dump took ~5 KB a level under ASan: 1,648 levels overflowed 8 MB), and the budgets are sized
/// for release frames on a thread's default 8 MB (RobustnessTest.TheDeepestAllowedTreesFitAQuarter
/// OfAThreadsStack: the deepest allowed trees fit 2 MB). 64 MB gives the sanitizer build that
/// room, and a pass without a budget still overflows it: the mutator repeats forms 100,000 times.
constexpr size_t kStack = size_t{64} << 20;

void* run_input(void* arg) {
    fuzz_one(*static_cast<const std::string_view*>(arg));
    return nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view source(reinterpret_cast<const char*>(data), size);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, kStack);
    pthread_t thread;
    if (pthread_create(&thread, &attr, run_input, &source) != 0) __builtin_trap();
    pthread_attr_destroy(&attr);
    pthread_join(thread, nullptr);
    return 0;
}

// ---- The structure-aware mutator ----------------------------------------------------------

namespace {

/// One operator form: the span becomes prefix^n span suffix^n.
struct Form {
    const char* prefix;
    const char* suffix;
};

// Every way the grammar nests an expression, a stream, a pattern or a type.
constexpr Form kForms[] = {
    // prefix operators (unary, `not`), and `**` (right-associative)
    {"-", ""}, {"~", ""}, {"+", ""}, {"- ", ""}, {"not ", ""}, {"2 ** ", ""}, {"-2 ** -", ""},
    // brackets: parentheses, arrays, maps, calls, named arguments
    {"(", ")"}, {"[", "]"}, {"[0, ", "]"}, {"{\"k\": ", "}"}, {"{k: ", "}"}, {"f(", ")"}, {"f(a: ", ")"},
    {"f(1, ", ")"}, {"x.f(", ")"},
    // postfix: members, optional members, index, slice, call
    {"", ".x"}, {"", "?.x"}, {"", "[0]"}, {"", "[1:2]"}, {"", "[:]"}, {"", "()"}, {"", "(1)"},
    // binary operators, left- and right-nested
    {"1 + ", ""}, {"", " + 1"}, {"", " - 1"}, {"", " * 2"}, {"", " / 2"}, {"", " % 2"}, {"", " ** 2"},
    {"", " | 1"}, {"", " ^ 1"}, {"", " & 1"}, {"", " << 1"}, {"", " >> 1"}, {"", " and true"},
    {"", " or false"}, {"true and ", ""}, {"false or ", ""}, {"", " == 1"}, {"", " in [1]"},
    {"", " not in [1]"}, {"", " is null"}, {"", "..1"}, {"0..=", ""},
    // if/else expressions in each position
    {"if true then ", " else 0"}, {"if ", " then 1 else 0"}, {"if true then 1 else ", ""},
    // lambdas: one parameter, several, none, with a block body
    {"x => ", ""}, {"(a, b) => ", ""}, {"() => ", ""}, {"x => { let y = 1; ", " }"}, {"x => { y := 1; ", " }"},
    // stream operators, sequences, merges, joins
    {"", " .where(x > 1)"}, {"", " .emit(v: 1)"}, {"", " -> B"}, {"", " -> all B where x > 1"},
    {"", "\n    .where(x)"}, {"merge(stream S = ", ")"}, {"join(stream S = ", ")"},
    {"sequence(a: A, b: ", ")"}, {"", " .window(5)"}, {"", ".within(5m)"},
    // `.pattern(...)` logic and named SASE patterns
    {"not (", ")"}, {"NOT ", ""}, {"SEQ(", ")"}, {"(", " AND B)"}, {"", " OR B"}, {"", " -> C"},
    // types
    {"list<", ">"}, {"[", "]?"}, {"{string: ", "}"}, {"(int, ", ")"},
    // lexical forms: comments, strings, line joins
    {"/*", "*/"}, {"\"", "\""}, {"\\\n", ""}, {"# ", "\n"},
};

// Block headers: nested, each one level deeper (compile-time loops nest at column 0 only for
// the outermost).
constexpr const char* kBlocks[] = {
    "if x:", "elif y:", "else:", "for i in xs:", "while x:", "fn f():", "fn f(a: int) -> int:",
    "for V in 0..1:", "event E:", "config:",
};

using Rng = std::minstd_rand;

size_t below(Rng& rng, size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng); }

/// A repetition count, log-uniform from 1 to ~100,000, so shallow and very deep nesting both come.
size_t repetitions(Rng& rng) {
    size_t bits = below(rng, 18);
    return (size_t{1} << bits) + below(rng, size_t{1} << bits);
}

bool is_word(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

/// A span of `text` that does not cut a word in two: [begin, end).
std::pair<size_t, size_t> pick_span(Rng& rng, std::string_view text) {
    if (text.empty()) return {0, 0};
    size_t begin = below(rng, text.size());
    size_t end = std::min(text.size(), begin + 1 + below(rng, below(rng, 4) == 0 ? text.size() : 32));
    while (begin > 0 && is_word(text[begin - 1]) && is_word(text[begin])) --begin;
    while (end < text.size() && is_word(text[end - 1]) && is_word(text[end])) ++end;
    return {begin, end};
}

std::string repeat(std::string_view unit, size_t n) {
    std::string out;
    out.reserve(unit.size() * n);
    for (size_t i = 0; i < n; ++i) out += unit;
    return out;
}

/// The span wrapped in one operator form as many times as fit.
std::string wrap_in_form(Rng& rng, std::string_view text, size_t max_size) {
    auto [begin, end] = pick_span(rng, text);
    const Form& form = kForms[below(rng, std::size(kForms))];
    size_t unit = std::strlen(form.prefix) + std::strlen(form.suffix);
    size_t room = max_size > text.size() ? max_size - text.size() : 0;
    size_t n = std::min(repetitions(rng), unit == 0 ? 0 : room / unit);
    std::string out(text.substr(0, begin));
    out += repeat(form.prefix, n);
    out += text.substr(begin, end - begin);
    out += repeat(form.suffix, n);
    out += text.substr(end);
    return out;
}

/// The span repeated: long flat chains (`+ 1 + 1 ...`, `.where(x) .where(x) ...`, many lines).
std::string repeat_span(Rng& rng, std::string_view text, size_t max_size) {
    auto [begin, end] = pick_span(rng, text);
    size_t unit = end - begin;
    size_t room = max_size > text.size() ? max_size - text.size() : 0;
    // A few thousand are past every limit on flat chains (1,000 operators in a row, a tree 2,000
    // deep); more only make the input slower to parse.
    size_t n = std::min({repetitions(rng) % 4096, unit == 0 ? 0 : room / unit});
    std::string out(text.substr(0, end));
    out += repeat(text.substr(begin, unit), n);
    out += text.substr(end);
    return out;
}

/// The lines of a span nested under n block headers, one space deeper each.
std::string nest_in_blocks(Rng& rng, std::string_view text, size_t max_size) {
    auto [begin, end] = pick_span(rng, text);
    while (begin > 0 && text[begin - 1] != '\n') --begin;  // whole lines
    const char* header = kBlocks[below(rng, std::size(kBlocks))];
    size_t header_size = std::strlen(header);
    size_t room = max_size > text.size() ? max_size - text.size() : 0;
    // Level k costs k + header + 1 bytes, and the body's lines n more each.
    size_t lines = 1 + static_cast<size_t>(std::count(text.begin() + static_cast<ptrdiff_t>(begin),
                                                      text.begin() + static_cast<ptrdiff_t>(end), '\n'));
    size_t n = 0;
    for (size_t cost = 0, want = repetitions(rng); n < want; ++n) {
        cost += n + header_size + 1 + lines;
        if (cost > room) break;
    }
    std::string out(text.substr(0, begin));
    for (size_t k = 0; k < n; ++k) {
        out.append(k, ' ');
        out += header;
        out += '\n';
    }
    std::string_view body = text.substr(begin, end - begin);
    size_t start = 0;
    while (start <= body.size()) {
        size_t nl = body.find('\n', start);
        out.append(n, ' ');
        out += body.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
        out += '\n';
        if (nl == std::string_view::npos) break;
        start = nl + 1;
    }
    out += text.substr(end);
    return out;
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
    Rng rng(seed);
    // Half of the time libFuzzer's own mutations (with the dictionary): they find the shallow
    // bugs, and keep the corpus varied for the structural ones.
    if (below(rng, 2) == 0 || max_size == 0) return LLVMFuzzerMutate(data, size, max_size);
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string out;
    switch (below(rng, 6)) {
        case 0:
        case 1:
        case 2: out = wrap_in_form(rng, text, max_size); break;
        case 3:
        case 4: out = repeat_span(rng, text, max_size); break;
        default: out = nest_in_blocks(rng, text, max_size); break;
    }
    if (out.size() > max_size) out.resize(max_size);
    std::memcpy(data, out.data(), out.size());
    return out.size();
}
