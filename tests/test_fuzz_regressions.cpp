// Replays every input the fuzzers once broke (tests/fixtures/fuzz/) through the same invariant
// checks the fuzz targets use, so a fixed crash stays fixed in the normal suite.
#include "../fuzz/invariants.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

std::vector<std::pair<std::string, std::string>> inputs(char const* sub) {
    std::vector<std::pair<std::string, std::string>> out;
    auto const dir = std::filesystem::path(PAYOUTS_FIXTURES_DIR) / "fuzz" / sub;
    for (auto const& e : std::filesystem::directory_iterator(dir)) {
        std::ifstream in(e.path(), std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        out.emplace_back(e.path().filename().string(), ss.str());
    }
    return out;
}

} // namespace

TEST_CASE("saved converter crashers keep their invariants") {
    auto const all = inputs("convert");
    REQUIRE(!all.empty());
    for (auto const& [name, text] : all) {
        CAPTURE(name);
        CHECK(payouts_fuzz::check_convert(text) == "");
    }
}

TEST_CASE("a date beyond the nanosecond range is refused, not overflowed") {
    using payouts::parse_rfc3339;
    CHECK_FALSE(
        parse_rfc3339("3021-11-15T23:28", payouts::time_format::seconds_optional).has_value());
    CHECK_FALSE(parse_rfc3339("1600-01-01T00:00:00Z").has_value());
    CHECK(parse_rfc3339("2262-04-10T00:00:00Z").has_value());
    CHECK(parse_rfc3339("1677-09-23T00:00:00Z").has_value());
}

TEST_CASE_TEMPLATE("saved decode crashers keep their invariants for every provider", P,
                   payouts::Truust, payouts::Druo, payouts::Checkout, payouts::Yuno,
                   payouts::Introw) {
    auto const all = inputs("decode");
    REQUIRE(!all.empty());
    for (auto const& [name, text] : all) {
        CAPTURE(name);
        CHECK(payouts_fuzz::check_decode<P>(text) == "");
    }
}

TEST_CASE("a payout whose timestamp is out of range is an error naming the field") {
    payouts::diagnostics diag;
    auto const r = payouts::decode<payouts::Yuno>(
        R"({"id":"x","status":"PENDING","created_at":"1600-01-01T00:00:00Z"})", diag);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == payouts::errc::invalid_response);
    CHECK(diag.message.find("/created_at") != std::string::npos);
    CHECK(diag.message.find("1677") != std::string::npos);
}
