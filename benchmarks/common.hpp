// What both benchmark programs print and reduce their samples with.
#pragma once

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

namespace bench {

// Median of the samples (0 for none).
inline double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    auto const n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The machine's load (/proc/loadavg's 1-minute figure): timings on a busy machine are noisy,
// so every run prints it at its start and end.
inline std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string one;
    if (!(in >> one)) return "unknown";
    return one;
}

} // namespace bench
