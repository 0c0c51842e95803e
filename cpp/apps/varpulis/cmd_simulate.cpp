// SPDX-License-Identifier: Apache-2.0
// `varpulis simulate -p PROGRAM -e EVENTS`: replay an .evt file through a program.
#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "args.hpp"
#include "commands.hpp"
#include "varpulis/engine/event_file.hpp"
#include "varpulis/engine/event_json.hpp"
#include "varpulis/engine/runtime.hpp"

namespace varpulis::apps {

namespace {

using Clock = std::chrono::steady_clock;

std::string format_duration(double seconds) {
    char buf[64];
    if (seconds < 1e-3) std::snprintf(buf, sizeof buf, "%.1fus", seconds * 1e6);
    else if (seconds < 1) std::snprintf(buf, sizeof buf, "%.2fms", seconds * 1e3);
    else std::snprintf(buf, sizeof buf, "%.3fs", seconds);
    return buf;
}

/// Writes outputs as they come: JSON lines with --json, `OUTPUT EVENT` lines with --verbose.
struct OutputPrinter {
    bool json = false;
    bool verbose = false;
    std::string buffer;

    void print(const engine::Event& e) {
        if (json) {
            buffer += engine::event_json(e).dump();
            buffer += '\n';
        } else if (verbose) {
            buffer += "OUTPUT EVENT: " + e.type_name() + " - " + engine::event_json(e).dump() + "\n";
        }
        if (buffer.size() > (1 << 16)) flush();
    }
    void flush() {
        std::fwrite(buffer.data(), 1, buffer.size(), stdout);
        buffer.clear();
    }
};

}  // namespace

int cmd_simulate(const std::vector<std::string>& args) {
    CommandSpec spec{"varpulis simulate", "Replay an .evt file through a VPL program", {},
                     {{"program", 'p', "FILE", "VPL program", "", ""},
                      {"events", 'e', "FILE", ".evt file of input events", "", ""},
                      {"timed", 0, "", "Replay events at their @/BATCH offsets in wall time", "", ""},
                      {"immediate", 0, "", "Process events as fast as possible (the default)", "", ""},
                      {"verbose", 'v', "", "Print every input batch and output event", "", ""},
                      {"json", 0, "", "Print only the outputs, one JSON object per line", "", ""},
                      {"quiet", 'q', "", "Print only the summary", "", ""},
                      {"workers", 'w', "N", "Engines to run (only 1 is supported: order matters)", "", "1"}}};
    int exit_code = kExitOk;
    auto parsed = parse_command(spec, args, exit_code);
    if (!parsed) return exit_code;
    if (!parsed->has("program") || !parsed->has("events")) {
        std::cerr << "error: simulate needs --program FILE and --events FILE\n";
        return kExitUsage;
    }
    if (parsed->get("workers") != "1") {
        std::cerr << "error: --workers must be 1: events are processed in file order by one engine\n";
        return kExitUsage;
    }
    std::string program_path = parsed->get("program"), events_path = parsed->get("events");
    std::ifstream program_file(program_path);
    if (!program_file) {
        std::cerr << "error: cannot read " << program_path << ": " << std::strerror(errno) << "\n";
        return kExitUsage;
    }
    std::stringstream source;
    source << program_file.rdbuf();
    std::string text = source.str();
    auto loaded = engine::Runtime::from_source(text);
    if (!loaded.runtime) {
        std::cerr << vpl::format_diagnostics(loaded.diagnostics, text, program_path);
        return kExitInvalid;
    }
    bool json = parsed->has("json"), quiet = parsed->has("quiet"), verbose = parsed->has("verbose");
    bool timed = parsed->has("timed");
    std::ostream& info = json ? std::cerr : std::cout;
    if (!quiet) {
        info << "Varpulis Event Simulation\n============================\nProgram: " << program_path
             << "\nEvents:  " << events_path << "\nMode:    " << (timed ? "timed" : "immediate")
             << "\nWorkers: 1\n\nProgram loaded: " << loaded.runtime->stream_names().size()
             << " streams\n\nStarting simulation...\n";
        info.flush();
    }
    OutputPrinter printer{json, verbose && !json, {}};
    std::vector<engine::EventPtr> outputs;
    std::vector<engine::EventPtr> all_outputs;
    uint64_t events = 0, output_count = 0;
    auto start = Clock::now();
    auto on_outputs = [&]() {
        for (const auto& o : outputs) printer.print(*o);
        output_count += outputs.size();
        if (!quiet && !json && all_outputs.size() < 10'000) {
            all_outputs.insert(all_outputs.end(), outputs.begin(), outputs.end());
        }
        outputs.clear();
    };
    common::Status st = engine::read_event_file(events_path, [&](engine::EventPtr e) -> common::Status {
        if (timed) std::this_thread::sleep_until(start + std::chrono::nanoseconds(e->timestamp));
        if (verbose && !json) {
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
            std::printf("  [%3llu] @ %6lldms %s\n", static_cast<unsigned long long>(events), static_cast<long long>(ms),
                        engine::describe(*e).c_str());
        }
        ++events;
        common::Status pushed = loaded.runtime->push(e, outputs);
        on_outputs();
        return pushed;
    });
    if (st.is_ok()) st = loaded.runtime->flush(outputs);
    on_outputs();
    printer.flush();
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!st.is_ok()) {
        std::cerr << "error: " << (st.code() == common::ErrorCode::Invalid ? events_path + ": " : "") << st.message()
                  << "\n";
        return st.code() == common::ErrorCode::Io ? kExitUsage : kExitInvalid;
    }
    char rate[64];
    std::snprintf(rate, sizeof rate, "%.0f", seconds > 0 ? static_cast<double>(events) / seconds : 0.0);
    info << "\nSimulation Complete\n======================\nDuration:         " << format_duration(seconds)
         << "\nEvents processed: " << events << "\nWorkers used:     1\nOutput events emitted: " << output_count
         << "\nEvent rate:       " << rate << " events/sec\n";
    if (!quiet && !json && !all_outputs.empty()) {
        info << "\nOutput Events Summary:\n";
        for (const auto& o : all_outputs) {
            auto j = engine::event_json(*o);
            j.erase("event_type");
            info << "  - " << o->type_name() << ": " << j.dump() << "\n";
        }
        if (output_count > all_outputs.size()) info << "  ... (" << output_count - all_outputs.size() << " more)\n";
    }
    return kExitOk;
}

}  // namespace varpulis::apps
