// SPDX-License-Identifier: Apache-2.0
// Native baseline for bench/bench.py: the demo's 1000 x 1000 Mandelbrot (max_iter 256) in plain
// C++ on one thread, with no dependencies so the benchmark can compile it on the spot.
// Prints "<seconds> <iteration sum>".
#include <chrono>
#include <cstdint>
#include <cstdio>

static int iterations(double cx, double cy, int max_iter) {
    double zr = 0, zi = 0;
    for (int i = 0; i < max_iter; ++i) {
        double r2 = zr * zr, i2 = zi * zi;
        if (r2 + i2 > 4.0) return i;
        zi = 2.0 * zr * zi + cy;
        zr = r2 - i2 + cx;
    }
    return max_iter;
}

int main() {
    auto start = std::chrono::steady_clock::now();
    int64_t sum = 0;
    for (int x = 0; x < 1000; ++x)
        for (int y = 0; y < 1000; ++y) sum += iterations(-2.0 + x * 3.0 / 1000.0, -1.5 + y * 3.0 / 1000.0, 256);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%.6f %lld\n", seconds, static_cast<long long>(sum));
    return 0;
}
