// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/sink.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <thread>
#include <vector>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include "varpulis/common/file_root.hpp"
#include "varpulis/engine/event_json.hpp"

namespace varpulis::engine {

using common::ErrorCode;
using common::Result;
using common::Status;

std::string ConnectorConfig::param_string(const std::string& key, const std::string& fallback) const {
    auto it = params.find(key);
    if (it == params.end()) return fallback;
    return it->second.to_display();
}

namespace {

/// One JSON line per event on standard output.
class ConsoleSink final : public Sink {
  public:
    void send(const Event& e, const std::string&) override {
        std::string line;
        append_event_json(line, e, true);
        line += '\n';
        std::lock_guard lock(mutex_);
        std::fwrite(line.data(), 1, line.size(), stdout);
    }
    void flush() override { std::fflush(stdout); }

  private:
    std::mutex mutex_;
};

/// Appends one JSON line per event to a file. Lines wait in the FILE buffer (a write per line
/// would cost a system call per output) at most kFileFlushInterval: the flusher writes them out,
/// so an idle pipeline's last outputs are in the file, and a kill -9 loses at most that window.
class FileSink final : public Sink {
  public:
    explicit FileSink(std::FILE* f) : file_(f) {}
    ~FileSink() override {
        if (file_) std::fclose(file_);
    }
    void send(const Event& e, const std::string&) override {
        std::string line;
        append_event_json(line, e, true);
        line += '\n';
        std::lock_guard lock(mutex_);
        std::fwrite(line.data(), 1, line.size(), file_);
        dirty_.store(true, std::memory_order_relaxed);
    }
    void flush() override {
        std::lock_guard lock(mutex_);
        std::fflush(file_);
        dirty_.store(false, std::memory_order_relaxed);
    }
    bool dirty() const { return dirty_.load(std::memory_order_relaxed); }

  private:
    std::mutex mutex_;
    std::FILE* file_;
    std::atomic<bool> dirty_{false};
};

constexpr auto kFileFlushInterval = std::chrono::milliseconds(20);

/// One thread for the process that writes out every file sink's waiting lines each
/// kFileFlushInterval; it sleeps when no file sink is open and stops with the process.
class FileFlusher {
  public:
    static FileFlusher& instance() {
        static FileFlusher flusher;
        return flusher;
    }
    void watch(const std::shared_ptr<FileSink>& sink) {
        std::lock_guard lock(mutex_);
        sinks_.push_back(sink);
        if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
        wake_.notify_one();
    }
    ~FileFlusher() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        if (thread_.joinable()) thread_.join();
    }

  private:
    void run() {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            wake_.wait_for(lock, kFileFlushInterval, [this] { return stopping_; });
            std::vector<std::shared_ptr<FileSink>> open;
            std::erase_if(sinks_, [&](const std::weak_ptr<FileSink>& w) {
                auto s = w.lock();
                if (s && s->dirty()) open.push_back(std::move(s));
                return w.expired();
            });
            lock.unlock();
            for (const auto& s : open) s->flush();
            open.clear();  // a sink's last owner may be this thread: close it without the lock
            lock.lock();
            if (sinks_.empty()) wake_.wait(lock, [this] { return stopping_ || !sinks_.empty(); });
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<std::weak_ptr<FileSink>> sinks_;
    std::thread thread_;
    bool stopping_ = false;
};

/// Open the file of a declaration: where its path says, or inside the host's file root.
Result<std::FILE*> open_for_append(const ConnectorConfig& config, const std::string& path) {
    if (config.file_root.empty()) {
        std::FILE* f = std::fopen(path.c_str(), "a");
        if (!f) return Status(ErrorCode::Io, "file connector '" + config.name + "' cannot open " + path + ": " + std::strerror(errno));
        return f;
    }
    auto fd = common::open_inside(config.file_root, path);
    if (!fd) return Status(fd.status().code(), "file connector '" + config.name + "': " + fd.status().message());
    std::FILE* f = ::fdopen(fd->get(), "a");
    if (!f) return Status(ErrorCode::Io, "file connector '" + config.name + "' cannot open " + path + ": " + std::strerror(errno));
    fd->release();
    return f;
}

/// The file a declaration names, as the key of the open files: inside the root when there is one.
Result<std::string> file_key(const ConnectorConfig& config, const std::string& path) {
    if (config.file_root.empty()) return path;
    auto inside = common::path_inside(config.file_root, path);
    if (!inside) return Status(inside.status().code(), "file connector '" + config.name + "': " + inside.status().message());
    return config.file_root + "/" + *inside;
}

/// The open file sinks of the process by path. Every context and pipeline that writes one path
/// shares one sink (one FILE and one lock), so their lines never interleave; the file closes with
/// its last user.
Result<std::shared_ptr<Sink>> shared_file_sink(const ConnectorConfig& config, const std::string& path) {
    static std::mutex mutex;
    static std::map<std::string, std::weak_ptr<FileSink>> open_files;
    VP_ASSIGN_OR_RETURN(std::string key, file_key(config, path));
    std::lock_guard lock(mutex);
    if (auto existing = open_files[key].lock()) return std::shared_ptr<Sink>(existing);
    VP_ASSIGN_OR_RETURN(std::FILE* f, open_for_append(config, path));
    auto sink = std::make_shared<FileSink>(f);
    open_files[key] = sink;
    FileFlusher::instance().watch(sink);
    return std::shared_ptr<Sink>(sink);
}

}  // namespace

Result<std::shared_ptr<Sink>> open_console_sink(const ConnectorConfig&) {
    return std::shared_ptr<Sink>(std::make_shared<ConsoleSink>());
}

Status check_file_sink(const ConnectorConfig& config) {
    if (config.param_string("path").empty()) return Status(ErrorCode::Invalid, "file connector '" + config.name + "' needs path: \"...\"");
    return Status::ok();
}

Result<std::shared_ptr<Sink>> open_file_sink(const ConnectorConfig& config) {
    VP_RETURN_NOT_OK(check_file_sink(config));
    return shared_file_sink(config, config.param_string("path"));
}

std::optional<std::string> blocked_sink(const std::vector<NamedSink>& sinks) {
    for (const auto& s : sinks) {
        if (s.sink->has_room()) continue;
        auto health = s.sink->health();
        std::string why = health && !health->connected ? "cannot reach its broker" : "has a full spool";
        if (health && !health->last_error.empty()) why += " (" + health->last_error + ")";
        return "sink '" + s.name + "' " + why;
    }
    return std::nullopt;
}

bool wait_delivered(const std::vector<NamedSink>& sinks, std::chrono::steady_clock::time_point deadline) {
    for (const auto& s : sinks) {
        if (!s.sink->wait_delivered(deadline)) return false;
    }
    return true;
}

void wait_for_room(const std::vector<NamedSink>& sinks, const std::function<bool()>& stop, log::Throttle& log,
                   const std::string& prefix) {
    for (auto blocked = blocked_sink(sinks); blocked && !stop(); blocked = blocked_sink(sinks)) {
        log.write(log::Level::Warn, "engine", prefix + *blocked + "; events from sources wait");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace varpulis::engine
