// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

#include "varpulis/common/status.hpp"

namespace varpulis::common {

/// Replace the file at `path` with `content` so that a crash at any moment leaves either the old
/// file or the new one, whole: the content goes to a temporary file of a unique name in the same
/// directory (created with `mode`), is flushed to disk, renamed over `path`, and the directory
/// is flushed too, so the rename itself survives a power loss. Creates the directory if needed.
/// On failure the temporary file is removed and the old file is untouched.
Status write_file_atomically(const std::string& path, std::string_view content, unsigned mode = 0644);

/// Delete the temporary files that writes of `path` left when a crash interrupted them (the file
/// itself is whole, old or new, and nothing reads them). Returns how many were deleted; call it
/// before anything writes `path`.
size_t remove_interrupted_writes(const std::string& path);

/// Read a whole file; NotFound when it does not exist.
Result<std::string> read_file(const std::string& path);

}  // namespace varpulis::common
