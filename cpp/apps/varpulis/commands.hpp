// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

namespace varpulis::apps {

/// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitInvalid = 1;  ///< the input (VPL, events) is invalid
inline constexpr int kExitUsage = 2;    ///< bad flags, unreadable files

int cmd_check(const std::vector<std::string>& args);
int cmd_parse(const std::vector<std::string>& args);
int cmd_simulate(const std::vector<std::string>& args);
int cmd_run(const std::vector<std::string>& args);
int cmd_server(const std::vector<std::string>& args);
int cmd_coordinator(const std::vector<std::string>& args);

}  // namespace varpulis::apps
