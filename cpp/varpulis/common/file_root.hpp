// SPDX-License-Identifier: Apache-2.0
#pragma once

// Files a deployed program may write, kept inside one directory the operator names (the
// server's --file-root). A key holder deploys programs; without this, `file(path: ...)` appends
// to any file the server can write, its own state file included.

#include <string>

#include "varpulis/common/status.hpp"

namespace varpulis::common {

/// An open file descriptor, closed with the object.
class OwnedFd {
  public:
    explicit OwnedFd(int fd = -1) : fd_(fd) {}
    OwnedFd(OwnedFd&& other) noexcept : fd_(other.release()) {}
    OwnedFd& operator=(OwnedFd&& other) noexcept;
    OwnedFd(const OwnedFd&) = delete;
    OwnedFd& operator=(const OwnedFd&) = delete;
    ~OwnedFd();
    int get() const { return fd_; }
    int release();

  private:
    int fd_;
};

/// `path` as a path inside `root`: a relative path is taken from the root, an absolute one must
/// lie inside it (`root` itself absolute and canonical). Refused, by looking at the text alone
/// so that no answer tells whether anything outside exists: a path outside the root, and any
/// `..` component. The result has no `.` or `..` and no leading `/`.
Result<std::string> path_inside(const std::string& root, const std::string& path);

/// Open `path` (see path_inside) inside `root` for appending, creating it with mode 0644 and the
/// directories on its way (the root's included). No symbolic link is followed, the root's own components aside, and
/// each directory is opened relative to the one before: a link swapped in between the check and
/// the open cannot lead outside.
Result<OwnedFd> open_inside(const std::string& root, const std::string& path);

}  // namespace varpulis::common
