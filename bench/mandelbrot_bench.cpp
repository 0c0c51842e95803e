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

VplRun run_vpl(const std::string& source) {
    auto loaded = engine::Runtime::from_source(source);
    if (!loaded.runtime) {
        std::fprintf(stderr, "%s", vpl::format_diagnostics(loaded.diagnostics, source).c_str());
        std::exit(2);
    }
    VplRun r;
    const auto iterations = engine::intern("iterations");
    auto start = Clock::now();
    std::vector<engine::EventPtr> out;
    for (int row = 0; row < 4; ++row) {
        for (int col = 0; col < 4; ++col) {
            std::string type = "ComputeTile" + std::to_string(row) + std::to_string(col);
            if (!loaded.runtime->push(type, {}, 0, out).is_ok()) std::exit(3);
            r.pixels += out.size();
            for (const auto& p : out) r.sum += p->get(iterations)->as_int();
            out.clear();
        }
    }
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    int repeat = 3;
    std::string program = std::string(VARPULIS_SOURCE_DIR) + "/examples/mandelbrot/mandelbrot_1ctx.vpl";
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "--repeat") == 0) repeat = std::stoi(argv[++i]);
        if (std::strcmp(argv[i], "--program") == 0) program = argv[++i];
    }
    std::ifstream in(program);
    std::stringstream ss;
    ss << in.rdbuf();
    std::vector<double> native_times, vpl_times;
    int64_t native_sum = 0;
    VplRun last;
    for (int i = 0; i < repeat; ++i) {
        auto [t, sum] = native(1);
        native_times.push_back(t);
        native_sum = sum;
        last = run_vpl(ss.str());
        vpl_times.push_back(last.seconds);
    }
    std::sort(native_times.begin(), native_times.end());
    std::sort(vpl_times.begin(), vpl_times.end());
    double nt = native_times[native_times.size() / 2], vt = vpl_times[vpl_times.size() / 2];
    bool ok = last.pixels == 1'000'000 && last.sum == kExpectedSum && native_sum == kExpectedSum;
    std::printf("mandelbrot 1000x1000x256   VPL %.3f s   native %.3f s   ratio %.1fx (target <= 12x, 1.5 s)   pixels %zu   iterations %lld %s\n",
                vt, nt, vt / nt, last.pixels, static_cast<long long>(last.sum), ok ? "OK" : "WRONG");
    return ok ? 0 : 1;
}
