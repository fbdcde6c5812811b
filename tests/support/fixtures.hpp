// The fixture files under tests/fixtures, read byte for byte, exact edits of them, and the checks
// the decoding tests make of what they decode to.
#pragma once

#include <payouts/payout.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <optional>

#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

namespace test_support {

/// The bytes of tests/fixtures/<name>; fails the test when the file cannot be read.
inline std::string fixture(std::string_view name) {
    std::string const path = std::string(PAYOUTS_FIXTURES_DIR) + "/" + std::string(name);
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open fixture " << path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// `body` with the one occurrence of `from` replaced by `to` (fails the test if not exactly one).
inline std::string edited(std::string body, std::string_view from, std::string_view to) {
    auto const at = body.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, "not in the body: " << from);
    REQUIRE_MESSAGE(body.find(from, at + 1) == std::string::npos, "twice in the body: " << from);
    body.replace(at, from.size(), to);
    return body;
}

/// Whether `needle` occurs in `haystack`.
inline bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

/// CHECK that `text` contains `part`, showing `text` when it does not.
#define CHECK_CONTAINS(text, part)                                                                 \
    do {                                                                                           \
        std::string const check_text_ = (text);                                                    \
        INFO("message: " << check_text_);                                                          \
        CHECK(::test_support::contains(check_text_, part));                                        \
    } while (false)

/// CHECK that `m` holds exactly units × 10^-scale of `currency`.
inline void check_money(std::optional<payouts::money> const& m, std::int64_t units, int scale,
                        std::string_view currency) {
    REQUIRE(m.has_value());
    CHECK(m->units == units);
    CHECK(int(m->scale) == scale);
    CHECK(m->currency == currency);
}

/// The UTC instant `since_midnight` into `day`.
inline payouts::timestamp utc(std::chrono::sys_days day, std::chrono::nanoseconds since_midnight) {
    return payouts::timestamp(day) + since_midnight;
}

} // namespace test_support
