// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/symbol.hpp"

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace varpulis::engine {

namespace {

// Names live in fixed-size chunks that never move, published with release stores, so that
// symbol_name (called for every field of every serialized event, from every thread) reads
// without a lock: a Symbol only reaches a thread after intern() created its name.
constexpr size_t kChunkBits = 12;
constexpr size_t kChunkSize = size_t{1} << kChunkBits;
constexpr size_t kMaxChunks = 4096;  // 16.7 million names

struct Table {
    std::shared_mutex mutex;  // guards ids and the appending of names
    std::array<std::atomic<std::string*>, kMaxChunks> chunks{};
    size_t size = 0;
    size_t event_names = 0;       // names first interned by intern_event_name
    size_t event_name_bytes = 0;  // and their text
    std::unordered_map<std::string_view, Symbol> ids;

    std::string& append(std::string_view name) {
        size_t chunk = size >> kChunkBits;
        if (chunk >= kMaxChunks) {
            std::fprintf(stderr, "varpulis: more than %zu distinct names\n", kMaxChunks * kChunkSize);
            std::abort();
        }
        std::string* names = chunks[chunk].load(std::memory_order_relaxed);
        if (!names) {
            names = new std::string[kChunkSize];  // lives as long as the process
            chunks[chunk].store(names, std::memory_order_release);
        }
        std::string& slot = names[size & (kChunkSize - 1)];
        slot = name;
        ++size;
        return slot;
    }
};

Table& table() {
    static Table t;
    return t;
}

/// Intern `name`; a new name that came with an event counts against kMaxEventNames and
/// kMaxEventNameBytes, and past them is refused (kNoSymbol).
Symbol intern_counted(std::string_view name, bool from_event) {
    Table& t = table();
    {
        std::shared_lock lock(t.mutex);
        if (auto it = t.ids.find(name); it != t.ids.end()) return it->second;
    }
    std::unique_lock lock(t.mutex);
    if (auto it = t.ids.find(name); it != t.ids.end()) return it->second;
    if (from_event) {
        if (t.event_names >= kMaxEventNames || t.event_name_bytes + name.size() > kMaxEventNameBytes) return kNoSymbol;
        ++t.event_names;
        t.event_name_bytes += name.size();
    }
    auto id = static_cast<Symbol>(t.size);
    t.ids.emplace(t.append(name), id);
    return id;
}

}  // namespace

Symbol intern(std::string_view name) { return intern_counted(name, false); }

Symbol intern_event_name(std::string_view name) { return intern_counted(name, true); }

std::string event_names_full_message() {
    return "a new field name or event type was refused: events brought " + std::to_string(kMaxEventNames) +
           " distinct names (or 64 MiB of them) since the process started, and names are never freed; they must come from a bounded set";
}

Symbol find_symbol(std::string_view name) {
    Table& t = table();
    std::shared_lock lock(t.mutex);
    auto it = t.ids.find(name);
    return it == t.ids.end() ? kNoSymbol : it->second;
}

const std::string& symbol_name(Symbol s) {
    return table().chunks[s >> kChunkBits].load(std::memory_order_acquire)[s & (kChunkSize - 1)];
}

}  // namespace varpulis::engine
