// SPDX-License-Identifier: Apache-2.0
// Engine throughput against hand-written native baselines over the same dynamic events.
//
//   engine_bench [--events N] [--repeat R]
//
// Each workload runs R times; the median is reported. A workload whose output count differs
// from its baseline's fails the benchmark (exit 1): a wrong answer is not fast.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "varpulis/engine/event_file.hpp"
#include "varpulis/engine/runtime.hpp"

using namespace varpulis;
using engine::Event;
using engine::EventPtr;
using common::Value;
using Clock = std::chrono::steady_clock;

namespace {

struct Measure {
    double seconds = 0;
    uint64_t outputs = 0;
};

template <typename F>
Measure median_of(int repeat, F&& run) {
    std::vector<Measure> runs;
    for (int i = 0; i < repeat; ++i) runs.push_back(run());
    std::sort(runs.begin(), runs.end(), [](const Measure& a, const Measure& b) { return a.seconds < b.seconds; });
    return runs[runs.size() / 2];
}

std::unique_ptr<engine::Runtime> load(const char* source) {
    auto r = engine::Runtime::from_source(source);
    if (!r.runtime) {
        std::fprintf(stderr, "%s\n", vpl::format_diagnostics(r.diagnostics, source).c_str());
        std::exit(2);
    }
    return std::move(r.runtime);
}

Measure run_engine(engine::Runtime& rt, const std::vector<EventPtr>& events) {
    std::vector<EventPtr> out;
    out.reserve(1024);
    uint64_t count = 0;
    auto start = Clock::now();
    for (const auto& e : events) {
        (void)rt.push(e, out);
        count += out.size();
        out.clear();
    }
    return {std::chrono::duration<double>(Clock::now() - start).count(), count};
}

int failures = 0;

void report(const char* name, size_t n, Measure vpl, Measure native, double target) {
    double rate = static_cast<double>(n) / vpl.seconds;
    double native_rate = static_cast<double>(n) / native.seconds;
    bool ok = vpl.outputs == native.outputs;
    if (!ok) ++failures;
    std::printf("%-34s %10.2f M ev/s   native %8.2f M ev/s   ratio %5.1f%%   target %4.1f M ev/s %s   outputs %llu%s\n",
                name, rate / 1e6, native_rate / 1e6, 100.0 * rate / native_rate, target / 1e6,
                rate >= target ? "met " : "MISS", static_cast<unsigned long long>(vpl.outputs),
                ok ? "" : "  (MISMATCH with native!)");
}

std::vector<EventPtr> readings(size_t n) {
    std::vector<EventPtr> out;
    out.reserve(n);
    const Value sensors[] = {Value("s0"), Value("s1"), Value("s2"), Value("s3"), Value("s4"), Value("s5"), Value("s6"), Value("s7")};
    for (size_t i = 0; i < n; ++i) {
        auto e = std::make_shared<Event>();
        e->type = engine::intern("Reading");
        e->timestamp = static_cast<int64_t>(i) * 1000;
        e->fields = {{engine::intern("sensor_id"), sensors[i % 8]},
                     {engine::intern("temperature"), Value(static_cast<double>(i % 200))},
                     {engine::intern("humidity"), Value(static_cast<int64_t>(i % 100))}};
        out.push_back(std::move(e));
    }
    return out;
}

/// filter + emit: keep 50 % of the events, emit two fields.
void bench_filter(size_t n, int repeat) {
    auto events = readings(n);
    auto rt = load("stream Hot = Reading .where(temperature > 99.5) .emit(sensor: sensor_id, temp: temperature)");
    Measure vpl = median_of(repeat, [&] { return run_engine(*rt, events); });
    const auto sensor = engine::intern("sensor_id"), temp = engine::intern("temperature"), hot = engine::intern("Hot"),
               out_sensor = engine::intern("sensor"), out_temp = engine::intern("temp");
    Measure native = median_of(repeat, [&] {
        std::vector<EventPtr> out;
        uint64_t count = 0;
        auto start = Clock::now();
        for (const auto& e : events) {
            const Value* t = e->get(temp);
            if (t && t->is_number() && t->as_number() > 99.5) {
                auto o = std::make_shared<Event>();
                o->type = hot;
                o->timestamp = e->timestamp;
                o->fields = {{out_sensor, *e->get(sensor)}, {out_temp, *t}};
                out.push_back(std::move(o));
                count += out.size();
                out.clear();
            }
        }
        return Measure{std::chrono::duration<double>(Clock::now() - start).count(), count};
    });
    report("filter + emit", n, vpl, native, 2e6);
}

/// A partitioned count window of 10 per sensor with count and average.
void bench_window(size_t n, int repeat) {
    auto events = readings(n);
    auto rt = load("stream Stats = Reading .partition_by(sensor_id) .window(10) .aggregate(n: count(), avg_t: avg(temperature)) .emit(sensor: _partition, n: n, avg_t: avg_t)");
    Measure vpl = median_of(repeat, [&] { return run_engine(*rt, events); });
    const auto sensor = engine::intern("sensor_id"), temp = engine::intern("temperature");
    Measure native = median_of(repeat, [&] {
        std::unordered_map<std::string, std::vector<EventPtr>> windows;
        uint64_t count = 0;
        auto start = Clock::now();
        for (const auto& e : events) {
            auto& w = windows[e->get(sensor)->as_string()];
            w.push_back(e);
            if (w.size() == 10) {
                double sum = 0;
                for (const auto& x : w) sum += x->get(temp)->as_number();
                auto o = std::make_shared<Event>();
                o->fields = {{engine::intern("n"), Value(10)}, {engine::intern("avg_t"), Value(sum / 10)}};
                ++count;
                w.clear();
            }
        }
        return Measure{std::chrono::duration<double>(Clock::now() - start).count(), count};
    });
    report("partitioned count window + agg", n, vpl, native, 5e6);
}

/// A -> B correlated by id; every A is followed by its B two events later.
void bench_sequence(size_t n, int repeat) {
    std::vector<EventPtr> events;
    events.reserve(n);
    for (size_t i = 0; i + 1 < n; i += 2) {
        events.push_back(engine::make_event("A", {{"id", Value(static_cast<int64_t>(i))}}, static_cast<int64_t>(i)));
        events.push_back(engine::make_event("B", {{"id", Value(static_cast<int64_t>(i))}}, static_cast<int64_t>(i + 1)));
    }
    auto rt = load("stream Pair = A as a -> B where id == a.id as b .partition_by(id) .within(1s) .emit(id: a.id)");
    Measure vpl = median_of(repeat, [&] { return run_engine(*rt, events); });
    const auto id = engine::intern("id"), a = engine::intern("A");
    Measure native = median_of(repeat, [&] {
        std::unordered_map<int64_t, EventPtr> open;
        uint64_t count = 0;
        auto start = Clock::now();
        for (const auto& e : events) {
            int64_t key = e->get(id)->as_int();
            if (e->type == a) {
                open[key] = e;
            } else if (auto it = open.find(key); it != open.end()) {
                ++count;
                open.erase(it);
            }
        }
        return Measure{std::chrono::duration<double>(Clock::now() - start).count(), count};
    });
    report("A -> B sequence by id", events.size(), vpl, native, 3e6);
}

/// simulate from an .evt file: parsing included, 1 % of events pass the filter.
void bench_evt(size_t n, int repeat) {
    std::string path = "/tmp/varpulis_bench_events.evt";
    {
        std::ofstream out(path);
        for (size_t i = 0; i < n; ++i) {
            out << "Reading { sensor_id: \"s" << i % 8 << "\", temperature: " << (i % 100) << ".5, humidity: " << i % 50 << " }\n";
        }
    }
    auto rt = load("stream Hot = Reading .where(temperature > 98.9) .emit(sensor: sensor_id, temp: temperature)");
    Measure vpl = median_of(repeat, [&] {
        std::vector<EventPtr> out;
        uint64_t count = 0;
        auto start = Clock::now();
        (void)engine::read_event_file(path, [&](EventPtr e) {
            auto st = rt->push(e, out);
            count += out.size();
            out.clear();
            return st;
        });
        return Measure{std::chrono::duration<double>(Clock::now() - start).count(), count};
    });
    Measure native = median_of(repeat, [&] {
        // Native whole-file baseline: read lines, build a dynamic event of every line (type and
        // three fields, values parsed with from_chars), filter 1 %.
        std::ifstream in(path);
        std::string line;
        uint64_t count = 0;
        const auto type = engine::intern("Reading"), sensor = engine::intern("sensor_id"),
                   temp = engine::intern("temperature"), hum = engine::intern("humidity");
        auto start = Clock::now();
        while (std::getline(in, line)) {
            auto e = std::make_shared<Event>();
            e->type = type;
            size_t q1 = line.find('"'), q2 = line.find('"', q1 + 1);
            size_t t = line.find("temperature: ") + 13, h = line.find("humidity: ") + 10;
            double tv = 0;
            int64_t hv = 0;
            std::from_chars(line.data() + t, line.data() + line.size(), tv);
            std::from_chars(line.data() + h, line.data() + line.size(), hv);
            e->fields = {{sensor, Value(line.substr(q1 + 1, q2 - q1 - 1))}, {temp, Value(tv)}, {hum, Value(hv)}};
            if (e->get(temp)->as_number() > 98.9) ++count;
        }
        return Measure{std::chrono::duration<double>(Clock::now() - start).count(), count};
    });
    report(".evt file: read + parse + filter", n, vpl, native, 1e6);
}

}  // namespace

int main(int argc, char** argv) {
    size_t n = 1'000'000;
    int repeat = 5;
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "--events") == 0) n = std::stoul(argv[++i]);
        if (std::strcmp(argv[i], "--repeat") == 0) repeat = std::stoi(argv[++i]);
    }
    std::printf("engine_bench: %zu events per workload, median of %d runs\n", n, repeat);
    bench_filter(n, repeat);
    bench_window(n, repeat);
    bench_sequence(n, repeat);
    bench_evt(n, repeat);
    return failures ? 1 : 0;
}
