// SPDX-License-Identifier: Apache-2.0
#pragma once

// A small command-line parser: `--flag value`, `--flag=value`, `-f value`, boolean switches and
// positional arguments, with a generated --help text.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "varpulis/server/http_server.hpp"

namespace varpulis::apps {

struct FlagSpec {
    std::string long_name;   ///< "port" for --port
    char short_name = 0;     ///< 'p' for -p, 0 for none
    std::string value_name;  ///< "PORT"; empty for a boolean switch
    std::string help;
    std::string env;         ///< environment variable read when the flag is absent
    std::string default_value;
};

struct CommandSpec {
    std::string name;  ///< "varpulis check"
    std::string summary;
    std::vector<std::string> positionals;  ///< names of positional arguments, e.g. {"FILE"}
    std::vector<FlagSpec> flags;
};

class ParsedArgs {
  public:
    bool has(const std::string& flag) const { return values_.count(flag) > 0; }
    std::string get(const std::string& flag, const std::string& fallback = {}) const;
    const std::vector<std::string>& positionals() const { return positionals_; }

  private:
    friend std::optional<ParsedArgs> parse_args(const CommandSpec&, const std::vector<std::string>&, std::string&);
    std::map<std::string, std::string> values_;
    std::vector<std::string> positionals_;
};

/// Parse `args` (without the program and subcommand names). Returns nothing and sets `error` on
/// bad input; `--help` yields a ParsedArgs with "help" set.
std::optional<ParsedArgs> parse_args(const CommandSpec& spec, const std::vector<std::string>& args, std::string& error);

/// Parse a subcommand's arguments. On --help, print the help and set `exit_code` to 0; on bad
/// input, print the error and set it to 2; in both cases return nothing.
std::optional<ParsedArgs> parse_command(const CommandSpec& spec, const std::vector<std::string>& args, int& exit_code);

/// The --log-level and --log-format flags every long-running command takes.
std::vector<FlagSpec> log_flags();

/// The --max-connections, --max-connections-per-client and --header-timeout flags of the servers.
std::vector<FlagSpec> connection_flags();

/// Read the connection flags into `limits`. Prints the error and returns false on a bad value.
bool apply_connection_flags(const ParsedArgs& parsed, server::ConnectionLimits& limits);

/// Configure the process log from --log-level and --log-format. Prints the error and returns false
/// on an unknown value.
bool apply_log_flags(const ParsedArgs& parsed);

/// Return the --help text of a command.
std::string help_text(const CommandSpec& spec);

}  // namespace varpulis::apps
