// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/event.hpp"

namespace varpulis::engine {

void Event::set(Symbol name, Value v) {
    for (auto& [k, existing] : fields) {
        if (k == name) {
            existing = std::move(v);
            return;
        }
    }
    fields.emplace_back(name, std::move(v));
}

EventPtr make_event(std::string_view type, std::vector<std::pair<std::string, Value>> fields, int64_t timestamp) {
    auto e = std::make_shared<Event>();
    e->type = intern(type);
    e->timestamp = timestamp;
    e->fields.reserve(fields.size());
    for (auto& [k, v] : fields) e->fields.emplace_back(intern(k), std::move(v));
    return e;
}

std::string describe(const Event& e) {
    std::string out = e.type_name() + " {";
    for (size_t i = 0; i < e.fields.size(); ++i) {
        if (i) out += ", ";
        out += symbol_name(e.fields[i].first) + ": " + e.fields[i].second.to_source();
    }
    return out + "}";
}

}  // namespace varpulis::engine
