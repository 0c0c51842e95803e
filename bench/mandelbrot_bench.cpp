// SPDX-License-Identifier: Apache-2.0
// The Mandelbrot demo's VPL function (1000 x 1000, max_iter 256) against the same loop in C++.
//
//   mandelbrot_bench [--repeat R] [--program FILE]
//
// Checks that 1,000,000 pixels come out and that their iterations sum to 47,554,279.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "varpulis/engine/runtime.hpp"

using namespace varpulis;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kExpectedSum = 47'554'279;

int native_iterations(double cx, double cy, int max_iter) {
    double zr = 0, zi = 0;
    for (int i = 0; i < max_iter; ++i) {
        double r2 = zr * zr, i2 = zi * zi;
        if (r2 + i2 > 4.0) return i;
        zi = 2.0 * zr * zi + cy;
        zr = r2 - i2 + cx;
    }
    return max_iter;
}

/// The native baseline: the same tiles, one thread, pixels as plain structs.
std::pair<double, int64_t> native(int threads) {
    auto start = Clock::now();
    std::vector<int64_t> sums(static_cast<size_t>(threads), 0);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            for (int px = t; px < 1000; px += threads) {
                for (int py = 0; py < 1000; ++py) {
                    sums[static_cast<size_t>(t)] += native_iterations(-2.0 + px * 3.0 / 1000.0, -1.5 + py * 3.0 / 1000.0, 256);
                }
            }
        });
    }
    for (auto& th : pool) th.join();
    int64_t sum = 0;
    for (auto s : sums) sum += s;
    return {std::chrono::duration<double>(Clock::now() - start).count(), sum};
}

struct VplRun {
    double seconds = 0;
    size_t pixels = 0;
    int64_t sum = 0;
};

/// Run programs (each given its tile events) to completion; all tiles of a program are pushed
/// together, so a program with contexts computes them in parallel.
VplRun run_vpl(const std::vector<std::pair<std::string, std::vector<std::string>>>& programs) {
    std::vector<std::unique_ptr<engine::Runtime>> runtimes;
    for (const auto& [source, tiles] : programs) {
        auto loaded = engine::Runtime::from_source(source);
        if (!loaded.runtime) {
            std::fprintf(stderr, "%s", vpl::format_diagnostics(loaded.diagnostics, source).c_str());
            std::exit(2);
        }
        runtimes.push_back(std::move(loaded.runtime));
    }
    VplRun r;
    const auto iterations = engine::intern("iterations");
    auto start = Clock::now();
    std::vector<std::thread> threads;
    std::vector<std::vector<engine::EventPtr>> outputs(programs.size());
    for (size_t p = 0; p < programs.size(); ++p) {
        threads.emplace_back([&, p] {
            std::vector<engine::EventPtr> events;
            for (const auto& tile : programs[p].second) events.push_back(engine::make_event(tile, {}, 0));
            if (!runtimes[p]->push_many(events, outputs[p]).is_ok()) std::exit(3);
        });
    }
    for (auto& t : threads) t.join();
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (const auto& out : outputs) {
        r.pixels += out.size();
        for (const auto& px : out) r.sum += px->get(iterations)->as_int();
    }
    return r;
}

std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> tiles(int row_from, int row_to) {
    std::vector<std::string> out;
    for (int row = row_from; row < row_to; ++row) {
        for (int col = 0; col < 4; ++col) out.push_back("ComputeTile" + std::to_string(row) + std::to_string(col));
    }
    return out;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    int repeat = 3;
    std::string dir = std::string(VARPULIS_SOURCE_DIR) + "/examples/mandelbrot/";
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "--repeat") == 0) repeat = std::stoi(argv[++i]);
    }
    struct Config {
        const char* name;
        std::vector<std::pair<std::string, std::vector<std::string>>> programs;
    };
    std::vector<Config> configs = {
        {"1 context (one thread)", {{read(dir + "mandelbrot_1ctx.vpl"), tiles(0, 4)}}},
        {"16 contexts, one program", {{read(dir + "mandelbrot_16ctx.vpl"), tiles(0, 4)}}},
        {"4 worker programs x 4 contexts", {}},
    };
    for (int w = 0; w < 4; ++w) {
        configs[2].programs.push_back({read(dir + "distributed/mandelbrot_worker_" + std::to_string(w) + ".vpl"), tiles(w, w + 1)});
    }
    std::vector<double> native_times;
    for (int i = 0; i < repeat; ++i) {
        auto [t, sum] = native(1);
        if (sum != kExpectedSum) return 1;
        native_times.push_back(t);
    }
    double nt = median(native_times);
    std::printf("mandelbrot 1000x1000, max_iter 256; native C++ one thread: %.3f s (median of %d)\n", nt, repeat);
    bool ok = true;
    double one = 0;
    for (const auto& c : configs) {
        std::vector<double> times;
        VplRun last;
        for (int i = 0; i < repeat; ++i) {
            last = run_vpl(c.programs);
            times.push_back(last.seconds);
        }
        double t = median(times);
        if (one == 0) one = t;
        bool right = last.pixels == 1'000'000 && last.sum == kExpectedSum;
        ok = ok && right;
        std::printf("  %-32s %7.3f s   %5.1fx native   speedup vs 1 context %4.2fx   pixels %zu   iterations %lld %s\n", c.name, t,
                    t / nt, one / t, last.pixels, static_cast<long long>(last.sum), right ? "OK" : "WRONG");
    }
    std::printf("targets: 1 context <= 12x native (moonshot 5x); 16 contexts >= 1.6x faster than 1 context on 2 cores\n");
    return ok ? 0 : 1;
}
