// SPDX-License-Identifier: Apache-2.0
// The `varpulis` executable: one binary, one subcommand per file.
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "varpulis/common/version.hpp"
#include "varpulis/connectors/register.hpp"

namespace {

constexpr const char* kUsage = R"(Varpulis: complex event processing with VPL

Usage: varpulis <COMMAND> [OPTIONS]

Commands:
  check     Check a VPL program for syntax and semantic errors
  parse     Parse a VPL program and print its syntax tree as JSON
  run       Run a VPL program with its own sources (timers, connectors)
  simulate  Replay an .evt file of events through a VPL program
  server       Run a worker: a REST API that deploys pipelines and takes events
  coordinator  Run the cluster control plane

Options:
  -h, --help     Print help
  -V, --version  Print version
)";

}  // namespace

int main(int argc, char** argv) {
    using namespace varpulis::apps;
    std::vector<std::string> args(argv + 1, argv + argc);
    if (auto registered = varpulis::connectors::register_all(); !registered.is_ok()) {
        std::cerr << "error: " << registered.message() << "\n";  // a broken build, not a user error
        return kExitUsage;
    }
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        std::cout << kUsage;
        return args.empty() ? kExitUsage : kExitOk;
    }
    if (args[0] == "--version" || args[0] == "-V") {
        std::cout << varpulis::common::kVersion << "\n";
        return kExitOk;
    }
    std::string command = args[0];
    args.erase(args.begin());
    if (command == "check") return cmd_check(args);
    if (command == "parse") return cmd_parse(args);
    if (command == "simulate") return cmd_simulate(args);
    if (command == "run") return cmd_run(args);
    if (command == "server") return cmd_server(args);
    if (command == "coordinator") return cmd_coordinator(args);
    std::cerr << "error: unknown command '" << command << "'\n\n" << kUsage;
    return kExitUsage;
}
