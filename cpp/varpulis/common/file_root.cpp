// SPDX-License-Identifier: Apache-2.0
#include "varpulis/common/file_root.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace varpulis::common {

namespace fs = std::filesystem;

OwnedFd& OwnedFd::operator=(OwnedFd&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = other.release();
    }
    return *this;
}

OwnedFd::~OwnedFd() {
    if (fd_ >= 0) ::close(fd_);
}

int OwnedFd::release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
}

namespace {

Status outside(const std::string& path) {
    return Status(ErrorCode::Invalid, "path '" + path + "' is outside the server's file root (--file-root); give a path relative to it");
}

/// Open directory `name` in `dir` without following a link, creating it when missing.
Result<OwnedFd> open_or_make_dir(int dir, const std::string& name, const std::string& path) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        int fd = ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) return OwnedFd(fd);
        if (errno != ENOENT) break;
        if (::mkdirat(dir, name.c_str(), 0755) != 0 && errno != EEXIST) break;
    }
    if (errno == ELOOP || errno == ENOTDIR) {
        return Status(ErrorCode::Invalid, "path '" + path + "' goes through '" + name + "', which is a symbolic link or not a directory");
    }
    return Status(ErrorCode::Io, "cannot open directory '" + name + "' of '" + path + "': " + std::strerror(errno));
}

}  // namespace

Result<std::string> path_inside(const std::string& root, const std::string& path) {
    if (path.empty()) return Status(ErrorCode::Invalid, "empty path");
    fs::path p(path);
    if (p.is_absolute()) {
        fs::path normal = p.lexically_normal();
        fs::path rel = normal.lexically_relative(fs::path(root));
        if (rel.empty() || *rel.begin() == "..") return outside(path);
        p = rel;
    }
    std::string out;
    for (const auto& part : p) {
        const std::string s = part.string();
        if (s == "..") return outside(path);
        if (s == "." || s.empty()) continue;
        out += (out.empty() ? "" : "/") + s;
    }
    if (out.empty()) return Status(ErrorCode::Invalid, "path '" + path + "' names no file");
    return out;
}

Result<OwnedFd> open_inside(const std::string& root, const std::string& path) {
    VP_ASSIGN_OR_RETURN(std::string relative, path_inside(root, path));
    std::error_code made;
    fs::create_directories(root, made);  // the operator's folder: made on first use
    OwnedFd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() < 0) return Status(ErrorCode::Io, "cannot open the file root " + root + ": " + std::strerror(errno));
    const fs::path parts(relative);  // path_inside leaves no "", "." or ".." in it
    const std::string file = parts.filename().string();
    for (const auto& folder : parts.parent_path()) {
        VP_ASSIGN_OR_RETURN(OwnedFd next, open_or_make_dir(dir.get(), folder.string(), path));
        dir = std::move(next);
    }
    int fd = ::openat(dir.get(), file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == ELOOP) return Status(ErrorCode::Invalid, "path '" + path + "' is a symbolic link; links are not followed");
        return Status(ErrorCode::Io, "cannot open '" + path + "' in the file root: " + std::strerror(errno));
    }
    return OwnedFd(fd);
}

}  // namespace varpulis::common
