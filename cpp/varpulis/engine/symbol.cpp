// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/symbol.hpp"

#include <deque>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace varpulis::engine {

namespace {

struct Table {
    std::shared_mutex mutex;
    std::deque<std::string> names;  // a deque never moves its elements: views into it stay valid
    std::unordered_map<std::string_view, Symbol> ids;
};

Table& table() {
    static Table t;
    return t;
}

}  // namespace

Symbol intern(std::string_view name) {
    Table& t = table();
    {
        std::shared_lock lock(t.mutex);
        if (auto it = t.ids.find(name); it != t.ids.end()) return it->second;
    }
    std::unique_lock lock(t.mutex);
    if (auto it = t.ids.find(name); it != t.ids.end()) return it->second;
    t.names.emplace_back(name);
    auto id = static_cast<Symbol>(t.names.size() - 1);
    t.ids.emplace(t.names.back(), id);
    return id;
}

Symbol find_symbol(std::string_view name) {
    Table& t = table();
    std::shared_lock lock(t.mutex);
    auto it = t.ids.find(name);
    return it == t.ids.end() ? kNoSymbol : it->second;
}

const std::string& symbol_name(Symbol s) {
    Table& t = table();
    std::shared_lock lock(t.mutex);
    return t.names[s];
}

}  // namespace varpulis::engine
