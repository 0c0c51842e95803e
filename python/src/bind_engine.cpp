// SPDX-License-Identifier: Apache-2.0
// Bindings of the engine: varpulis.Engine runs a program in-process.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "convert.hpp"
#include "errors.hpp"
#include "varpulis/engine/runtime.hpp"

namespace py = pybind11;

namespace varpulis::python {

namespace {

using engine::EventPtr;
using engine::Runtime;

py::list to_list(const std::vector<EventPtr>& events) {
    py::list out;
    for (const auto& e : events) out.append(event_to_dict(*e));
    return out;
}

/// Holds a runtime; every call releases the GIL while the engine works.
class PyEngine {
  public:
    explicit PyEngine(const std::string& source) {
        engine::LoadResult loaded;
        {
            py::gil_scoped_release release;
            loaded = Runtime::from_source(source);
        }
        if (!loaded.runtime) throw_vpl_error(loaded.diagnostics);
        runtime_ = std::move(loaded.runtime);
    }

    py::list process(const std::string& type, const py::object& fields, const std::optional<int64_t>& timestamp) {
        EventPtr e = to_event(type, fields, timestamp.value_or(runtime_->last_timestamp()));
        return run([&](std::vector<EventPtr>& out) { return runtime_->push(e, out); });
    }

    py::list process_many(const py::iterable& events) {
        std::vector<EventPtr> batch;
        int64_t ts = runtime_->last_timestamp();
        for (auto item : events) {
            auto t = item.cast<py::tuple>();
            if (t.size() < 2 || t.size() > 3) throw py::value_error("events are (event_type, fields[, timestamp]) tuples");
            if (t.size() == 3 && !t[2].is_none()) ts = t[2].cast<int64_t>();
            batch.push_back(to_event(t[0].cast<std::string>(), t[1], ts));
        }
        return run([&](std::vector<EventPtr>& out) { return runtime_->push_many(batch, out); });
    }

    py::list flush() {
        return run([&](std::vector<EventPtr>& out) { return runtime_->flush(out); });
    }

    py::list advance_time(int64_t now_ns) {
        return run([&](std::vector<EventPtr>& out) { return runtime_->advance_time(now_ns, out); });
    }

    py::list run_file(const std::string& path) {
        return run([&](std::vector<EventPtr>& out) { return runtime_->run_file(path, out); });
    }

    py::dict stats() const {
        engine::RuntimeStats s;
        {
            py::gil_scoped_release release;  // with contexts, it waits for each context thread
            s = runtime_->stats();
        }
        py::dict out;
        out["events_in"] = s.events_in;
        out["outputs"] = s.outputs;
        out["errors"] = s.errors;
        out["dropped_by_depth"] = s.dropped_by_depth;
        out["held"] = s.held;
        out["evicted"] = s.evicted;
        out["state_bytes"] = s.state_bytes;
        return out;
    }

    py::list streams() const {
        py::list out;
        for (const auto& name : runtime_->stream_names()) out.append(name);
        return out;
    }

    py::object variable(const std::string& name) const {
        auto v = runtime_->variable(name);
        if (!v) throw py::key_error(name);
        return from_value(*v);
    }

  private:
    template <typename F>
    py::list run(F&& work) {
        std::vector<EventPtr> out;
        common::Status st;
        {
            py::gil_scoped_release release;
            st = work(out);
        }
        throw_if_error(st);
        return to_list(out);
    }

    std::unique_ptr<Runtime> runtime_;
};

}  // namespace

void bind_engine(py::module_& m) {
    py::class_<PyEngine>(m, "Engine")
        .def(py::init<const std::string&>(), py::arg("source"))
        .def("process", &PyEngine::process, py::arg("event_type"), py::arg("fields") = py::none(),
             py::arg("timestamp") = py::none())
        .def("process_many", &PyEngine::process_many, py::arg("events"))
        .def("flush", &PyEngine::flush)
        .def("run_file", &PyEngine::run_file, py::arg("path"))
        .def("advance_time", &PyEngine::advance_time, py::arg("now_ns"))
        .def("stats", &PyEngine::stats)
        .def("streams", &PyEngine::streams)
        .def("variable", &PyEngine::variable, py::arg("name"));
}

}  // namespace varpulis::python
