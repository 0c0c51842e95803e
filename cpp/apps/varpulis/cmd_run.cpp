// SPDX-License-Identifier: Apache-2.0
// `varpulis run -f FILE`: run a program that has its own sources (timers, connectors) until
// interrupted or for --duration.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "args.hpp"
#include "commands.hpp"
#include "varpulis/common/log.hpp"
#include "varpulis/common/time.hpp"
#include "varpulis/engine/event_json.hpp"
#include "varpulis/engine/runtime.hpp"
#include "varpulis/engine/source.hpp"

namespace varpulis::apps {

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

}  // namespace

int cmd_run(const std::vector<std::string>& args) {
    CommandSpec spec{"varpulis run", "Run a VPL program with its own sources (timers, connectors) until interrupted",
                     {},
                     {{"file", 'f', "FILE", "VPL program", "", ""},
                      {"code", 'c', "SOURCE", "VPL program text (instead of --file)", "", ""},
                      {"duration", 'd', "SECONDS", "Stop after this many seconds (default: until Ctrl-C)", "", ""}}};
    for (auto& flag : log_flags()) spec.flags.push_back(flag);
    int exit_code = kExitOk;
    auto parsed = parse_command(spec, args, exit_code);
    if (!parsed) return exit_code;
    if (!apply_log_flags(*parsed)) return kExitUsage;
    std::string source, origin = "<code>";
    if (parsed->has("file")) {
        origin = parsed->get("file");
        std::ifstream in(origin);
        if (!in) {
            std::cerr << "error: cannot read " << origin << ": " << std::strerror(errno) << "\n";
            return kExitUsage;
        }
        std::stringstream s;
        s << in.rdbuf();
        source = s.str();
    } else if (parsed->has("code")) {
        source = parsed->get("code");
    } else {
        std::cerr << "error: run needs --file FILE or --code SOURCE\n";
        return kExitUsage;
    }
    auto loaded = engine::Runtime::from_source(source);
    if (!loaded.runtime) {
        std::cerr << vpl::format_diagnostics(loaded.diagnostics, source, origin);
        return kExitInvalid;
    }
    auto& rt = *loaded.runtime;
    std::cout << "Program loaded successfully!\n   Streams registered: " << rt.stream_names().size() << "\n";
    if (!rt.contexts().empty()) std::cout << "   Contexts: " << rt.contexts().size() << "\n";
    // Outputs come from the sources' threads and from the timer loop below.
    std::mutex print_mutex;
    std::atomic<uint64_t> outputs{0};
    auto print = [&](const std::vector<engine::EventPtr>& events) {
        std::lock_guard lock(print_mutex);
        for (const auto& e : events) std::cout << engine::event_json(*e, true).dump() << "\n";
        std::cout.flush();
        outputs += events.size();
    };
    log::Throttle waits(std::chrono::seconds(10));
    const auto sinks = rt.sinks();
    auto sources = engine::start_sources(rt, [&](engine::EventPtr e) {
        engine::wait_for_room(sinks, [] { return g_stop != 0; }, waits, "");
        std::vector<engine::EventPtr> out;
        common::Status st = rt.push(e, out);
        if (!st.is_ok()) log::warn("run", st.message());
        print(out);
    });
    if (!sources) {
        std::cerr << "error: " << sources.status().message() << "\n";
        return kExitInvalid;
    }
    if (rt.timers().empty() && sources->empty()) {
        std::cout << "\nThe program has no sources: nothing to run. Use `varpulis simulate -p PROGRAM -e EVENTS`\n"
                     "to replay events, or `varpulis server` to receive them over HTTP.\n";
        return kExitOk;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::cout << "Listening for events... (Ctrl-C to stop)\n" << std::flush;
    auto start = std::chrono::steady_clock::now();
    double duration = parsed->has("duration") ? std::stod(parsed->get("duration")) : -1;
    std::vector<engine::EventPtr> out;
    while (!g_stop) {
        common::Status st = rt.timers().empty() ? common::Status::ok() : rt.advance_time(common::wall_clock_ns(), out);
        print(out);
        out.clear();
        if (!st.is_ok()) log::warn("run", st.message());
        double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (duration >= 0 && elapsed >= duration) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    sources->clear();  // stop receiving before the final flush
    (void)rt.flush(out);
    print(out);
    auto stats = rt.stats();
    std::cout << "\nFinal Statistics:\n   Events processed: " << stats.events_in << "\n   Output events emitted: " << outputs.load()
              << "\n";
    return kExitOk;
}

}  // namespace varpulis::apps
