// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/runtime.hpp"

#include "varpulis/engine/event_file.hpp"
#include "varpulis/vpl/frontend.hpp"

namespace varpulis::engine {

using common::Status;

LoadResult Runtime::from_source(std::string_view source, const RuntimeOptions& options) {
    LoadResult result;
    vpl::ParseResult checked = vpl::check(source);
    result.diagnostics = std::move(checked.diagnostics);
    if (!checked.ok()) return result;
    auto engine = Engine::create(*checked.program, options.engine);
    if (!engine) {
        const Status& st = engine.status();
        result.diagnostics.push_back({vpl::Severity::Error, "E095", st.message(), "", st.span()});
        return result;
    }
    result.runtime.reset(new Runtime(std::move(*engine)));
    return result;
}

Status Runtime::push(const EventPtr& event, std::vector<EventPtr>& outputs) {
    last_timestamp_ = event->timestamp;
    return engine_->process(event, outputs);
}

Status Runtime::push(std::string_view type, std::vector<std::pair<std::string, Value>> fields,
                     std::optional<int64_t> timestamp, std::vector<EventPtr>& outputs) {
    return push(make_event(type, std::move(fields), timestamp.value_or(last_timestamp_)), outputs);
}

Status Runtime::flush(std::vector<EventPtr>& outputs) { return engine_->flush(outputs); }

Status Runtime::run_file(const std::string& path, std::vector<EventPtr>& outputs) {
    VP_RETURN_NOT_OK(read_event_file(path, [&](EventPtr e) { return push(e, outputs); }));
    return flush(outputs);
}

}  // namespace varpulis::engine
