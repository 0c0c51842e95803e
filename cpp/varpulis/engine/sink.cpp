// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/sink.hpp"

#include <cstdio>
#include <map>
#include <memory>
#include <mutex>

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

/// Appends one JSON line per event to a file.
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
    }
    void flush() override {
        std::lock_guard lock(mutex_);
        std::fflush(file_);
    }

  private:
    std::mutex mutex_;
    std::FILE* file_;
};

/// The open file sinks of the process by path. Every context and pipeline that writes one path
/// shares one sink (one FILE and one lock), so their lines never interleave; the file closes with
/// its last user.
Result<std::shared_ptr<Sink>> shared_file_sink(const ConnectorConfig& config, const std::string& path) {
    static std::mutex mutex;
    static std::map<std::string, std::weak_ptr<FileSink>> open_files;
    std::lock_guard lock(mutex);
    if (auto existing = open_files[path].lock()) return std::shared_ptr<Sink>(existing);
    std::FILE* f = std::fopen(path.c_str(), "a");
    if (!f) return Status(ErrorCode::Io, "file connector '" + config.name + "' cannot open " + path);
    auto sink = std::make_shared<FileSink>(f);
    open_files[path] = sink;
    return std::shared_ptr<Sink>(sink);
}

std::map<std::string, SinkFactory>& factories() {
    static std::map<std::string, SinkFactory> f;
    return f;
}

std::mutex& factories_mutex() {
    static std::mutex m;
    return m;
}

}  // namespace

void register_sink_factory(const std::string& kind, SinkFactory factory) {
    std::lock_guard lock(factories_mutex());
    factories()[kind] = std::move(factory);
}

Result<std::shared_ptr<Sink>> make_sink(const ConnectorConfig& config) {
    if (config.kind == "console") return std::shared_ptr<Sink>(std::make_shared<ConsoleSink>());
    if (config.kind == "file") {
        std::string path = config.param_string("path");
        if (path.empty()) return Status(ErrorCode::Invalid, "file connector '" + config.name + "' needs path: \"...\"");
        return shared_file_sink(config, path);
    }
    SinkFactory factory;
    {
        std::lock_guard lock(factories_mutex());
        auto it = factories().find(config.kind);
        if (it != factories().end()) factory = it->second;
    }
    if (!factory) {
        return Status(ErrorCode::Invalid, "connector '" + config.name + "': kind '" + config.kind +
                                              "' is not available in this build (console, file" +
                                              (factories().empty() ? "" : ", and registered kinds") + ")");
    }
    return factory(config);
}

}  // namespace varpulis::engine
