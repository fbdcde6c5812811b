// libFuzzer target: decode_webhook<P> on arbitrary bytes split into secrets, a signature header
// and a body (layout in invariants.hpp, check_webhook); PAYOUTS_FUZZ_PROVIDER names the provider.
#include "invariants.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    auto const broken = payouts_fuzz::check_webhook<payouts::PAYOUTS_FUZZ_PROVIDER>(
        std::string_view(reinterpret_cast<char const*>(data), size));
    if (!broken.empty()) {
        std::fprintf(stderr, "invariant broken: %s\n", broken.c_str());
        std::abort();
    }
    return 0;
}
