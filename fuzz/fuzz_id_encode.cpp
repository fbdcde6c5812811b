// libFuzzer target: the id encoder: only unreserved characters or %XX, decoding gives the id back,
// one path segment.
#include "invariants.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    auto const broken =
        payouts_fuzz::check_id_encode(std::string_view(reinterpret_cast<char const*>(data), size));
    if (!broken.empty()) {
        std::fprintf(stderr, "invariant broken: %s\n", broken.c_str());
        std::abort();
    }
    return 0;
}
