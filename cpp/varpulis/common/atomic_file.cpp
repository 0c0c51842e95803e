// SPDX-License-Identifier: Apache-2.0
#include "varpulis/common/atomic_file.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace varpulis::common {

namespace fs = std::filesystem;

namespace {

Status os_error(const std::string& what, const std::string& path) {
    return Status(ErrorCode::Io, what + " " + path + ": " + std::strerror(errno));
}

/// Write all of `content`, however the kernel splits it.
bool write_all(int fd, std::string_view content) {
    while (!content.empty()) {
        ssize_t n = ::write(fd, content.data(), content.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        content.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

/// The name every temporary file of a write of `target` starts with.
std::string temp_prefix(const fs::path& target) {
    return "." + target.filename().string() + ".tmp-";
}

}  // namespace

Status write_file_atomically(const std::string& path, std::string_view content, unsigned mode) {
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status(ErrorCode::Io, "cannot create " + dir.string() + ": " + ec.message());
    // mkstemp gives a name no other writer (thread or process) holds, so concurrent writers never
    // write into each other's temporary file.
    std::string temp = (dir / (temp_prefix(target) + "XXXXXX")).string();
    int fd = ::mkstemp(temp.data());
    if (fd < 0) return os_error("cannot create a temporary file in", dir.string());
    auto fail = [&](const std::string& what) {
        Status st = os_error(what, temp);
        ::close(fd);
        ::unlink(temp.c_str());
        return st;
    };
    if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) return fail("cannot set the mode of");
    if (!write_all(fd, content)) return fail("cannot write");
    if (::fsync(fd) != 0) return fail("cannot flush");
    if (::close(fd) != 0) {
        Status st = os_error("cannot close", temp);
        ::unlink(temp.c_str());
        return st;
    }
    if (::rename(temp.c_str(), target.c_str()) != 0) {
        Status st = os_error("cannot replace", path);
        ::unlink(temp.c_str());
        return st;
    }
    // The rename is an entry in the directory: without this flush, a power loss can undo it.
    int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (dir_fd < 0) return os_error("cannot open", dir.string());
    bool synced = ::fsync(dir_fd) == 0;
    ::close(dir_fd);
    if (!synced) return os_error("cannot flush", dir.string());
    return Status::ok();
}

size_t remove_interrupted_writes(const std::string& path) {
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    const std::string prefix = temp_prefix(target);
    std::error_code ec;
    size_t removed = 0;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (entry.path().filename().string().rfind(prefix, 0) == 0 && fs::remove(entry.path(), ec)) ++removed;
    }
    return removed;
}

Result<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (!fs::exists(path)) return Status(ErrorCode::NotFound, "no file " + path);
        return Status(ErrorCode::Io, "cannot read " + path);
    }
    std::stringstream text;
    text << in.rdbuf();
    if (in.bad()) return Status(ErrorCode::Io, "cannot read " + path);
    return text.str();
}

}  // namespace varpulis::common
