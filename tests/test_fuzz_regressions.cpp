// Replays every input the fuzzers once broke, and a few hand-made seeds (tests/fixtures/fuzz/
// <kind>/), through the same invariant checks the fuzz targets use, so a fixed crash stays fixed
// in the normal suite.
#include "../fuzz/invariants.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <memory>
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

TEST_CASE_TEMPLATE("saved webhook inputs keep their invariants", P, payouts::Checkout,
                   payouts::Yuno) {
    auto const all = inputs("webhook");
    REQUIRE(!all.empty());
    for (auto const& [name, text] : all) {
        CAPTURE(name);
        CHECK(payouts_fuzz::check_webhook<P>(text) == "");
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

TEST_CASE("saved HTTP responses keep the reader's and interpret_response's invariants") {
    auto const all = inputs("http_response");
    REQUIRE(all.size() >= 4);
    for (auto const& [name, text] : all) {
        CAPTURE(name);
        CHECK(payouts_fuzz::check_http_response(text) == "");
    }
}

TEST_CASE("saved ids keep the encoder's invariants") {
    auto const all = inputs("id_encode");
    REQUIRE(all.size() >= 3);
    for (auto const& [name, text] : all) {
        CAPTURE(name);
        CHECK(payouts_fuzz::check_id_encode(text) == "");
    }
}

TEST_CASE("saved Retry-After values keep the parser's invariants") {
    auto const all = inputs("retry_after");
    REQUIRE(all.size() >= 4);
    for (auto const& [name, text] : all) {
        CAPTURE(name);
        CHECK(payouts_fuzz::check_retry_after(text) == "");
    }
}

TEST_CASE("a Retry-After date beyond the clock's range saturates instead of overflowing") {
    using namespace std::chrono;
    using payouts::detail::parse_retry_after;
    auto const now = sys_days{year{2025} / 6 / 1} + hours{12} + milliseconds{345};
    auto const cap = seconds(payouts::detail::max_retry_after_seconds);
    CHECK(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now) == cap);
    CHECK(parse_retry_after("Sun, 06 Nov 2039 08:49:37 GMT", now) == cap);
    CHECK(parse_retry_after("Sat, 01 Jan 0000 00:00:00 GMT", now) == milliseconds(0));
    // Within the bound the wait keeps now's fraction of a second.
    CHECK(parse_retry_after("Sun, 01 Jun 2025 12:00:10 GMT", now) == milliseconds(9655));
}

TEST_CASE("the invariant checks refuse what they must") {
    // The decoder the id check trusts: only unreserved characters and upper-case escapes of
    // bytes that need one.
    using payouts_fuzz::id_check::strict_decode;
    CHECK(strict_decode("a-b_c.d~9%2F%25%C3%A9") ==
          std::optional<std::string>("a-b_c.d~9/%\xC3\xA9"));
    CHECK_FALSE(strict_decode("%2f").has_value());
    CHECK_FALSE(strict_decode("%41").has_value());
    CHECK_FALSE(strict_decode("a/b").has_value());
    CHECK_FALSE(strict_decode("%2").has_value());
    // The HTTP-date printed back must match the text it came from.
    using namespace std::chrono;
    auto const t = sys_days{year{1994} / 11 / 6} + hours{8} + minutes{49} + seconds{37};
    using payouts_fuzz::retry_check::date_mismatch;
    CHECK(date_mismatch("Sun, 06 Nov 1994 08:49:37 GMT", t) == "");
    CHECK(date_mismatch("Sun, 06 Nov 1994 08:49:38 GMT", t) != "");
    CHECK(date_mismatch("Sun Nov  6 08:49:37 1994", t) == "");
    CHECK(date_mismatch("Sunday, 06-Nov-94 08:49:37 GMT", t) == "");
    CHECK(payouts_fuzz::retry_check::independent_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT") ==
          t.time_since_epoch().count());
    CHECK_FALSE(
        payouts_fuzz::retry_check::independent_imf_fixdate("Sun, 29 Feb 1900 08:49:37 GMT"));
    // The remaining-budget reading and the status table of the contract.
    using payouts_fuzz::http_check::expected_remaining;
    CHECK(expected_remaining(" 42\t") == 42);
    CHECK(expected_remaining("-3") == -1);
    CHECK(expected_remaining("4x") == -1);
    CHECK(expected_remaining("99999999999999999999") == -1);
    using payouts_fuzz::http_check::status_contract;
    CHECK(status_contract(503) == payouts::errc::provider_unavailable);
    CHECK(status_contract(505) == payouts::errc::unexpected_status);
    CHECK(status_contract(302) == payouts::errc::unexpected_status);
}

TEST_CASE("the reader harness reads the hand-made responses as the exchange would") {
    namespace hc = payouts_fuzz::http_check;
    auto& h = hc::the_harness();
    auto const text = [](char const* name) {
        for (auto const& [n, t] : inputs("http_response"))
            if (n == name) return t;
        FAIL("missing fixture ", name);
        return std::string();
    };
    {
        hc::read_result r;
        hc::read_with_library(h, text("early-hints-then-200.http"), 5, r);
        REQUIRE_FALSE(r.ec);
        CHECK(r.parser->get().result_int() == 200);
        CHECK(r.parser->get().body().starts_with(R"({"id":"pay_1")"));
    }
    {
        hc::read_result r;
        hc::read_with_library(h, text("429-retry-after-chunked-error-body.http"), 1000, r);
        REQUIRE_FALSE(r.ec);
        CHECK(r.parser->get().body() == R"({"code":"RATE","message":"x"})");
    }
    {
        hc::read_result r;
        hc::read_with_library(h, text("gzip-refused.http"), 1000, r);
        CHECK(r.ec == payouts::errc::unsupported_encoding);
    }
    {
        // A Yuno NOT_FOUND code under a 400 is not_found, for Yuno only.
        hc::read_result r;
        hc::read_with_library(h, text("400-not-found-code.http"), 1000, r);
        REQUIRE_FALSE(r.ec);
        auto const& ops = payouts::detail::ops_of<payouts::Yuno>::value;
        payouts::detail::fetch_job j(h.core, ops, nullptr);
        j.prov = h.core->slot_for(ops);
        payouts::detail::interpret_response(j, r.parser->get(), "");
        CHECK(j.at.ec == payouts::errc::not_found);
        CHECK(j.diag.provider_message == "no payout");
        CHECK(hc::check_interpretation<payouts::Yuno>(h, r.parser->get(), false) == "");
    }
}

TEST_CASE("a coding the reader would leave on the body is refused wherever it is declared") {
    namespace hc = payouts_fuzz::http_check;
    auto& h = hc::the_harness();
    auto const read = [&](std::string_view header_lines) {
        std::string const text = "HTTP/1.1 200 OK\r\n" + std::string(header_lines) + "\r\n";
        hc::read_result r;
        hc::read_with_library(h, text, 7, r);
        return r.ec;
    };
    using payouts::errc;
    CHECK(read("Transfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n") ==
          errc::unsupported_encoding);
    CHECK(read("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n") ==
          errc::unsupported_encoding);
    CHECK(read("Content-Encoding: identity\r\nContent-Encoding: gzip\r\nContent-Length: "
               "2\r\n\r\n{}") == errc::unsupported_encoding);
    CHECK(read("Content-Encoding:\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\n{}") ==
          errc::unsupported_encoding);
    // What stays accepted: chunked alone (any case, with whitespace), identity, no coding.
    CHECK_FALSE(read("Transfer-Encoding:  Chunked \r\n\r\n2\r\n{}\r\n0\r\n"));
    CHECK_FALSE(read("Content-Encoding: identity\r\nContent-Length: 2\r\n\r\n{}"));
    CHECK_FALSE(read("Content-Length: 2\r\n\r\n{}"));
}

TEST_CASE("a chunk declared beyond the body limit is refused before its bytes arrive") {
    namespace hc = payouts_fuzz::http_check;
    hc::read_result r;
    hc::read_with_library(hc::the_harness(),
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7200\r\n{}", 9, r);
    CHECK(r.ec == payouts::errc::body_too_large);
}

TEST_CASE("the response reader ends a response only where HTTP ends it") {
    namespace hc = payouts_fuzz::http_check;
    namespace http = boost::beast::http;
    auto& h = hc::the_harness();
    auto const read = [&](std::string_view text, std::size_t chunk) {
        auto r = std::make_unique<hc::read_result>(); // a parser does not move
        hc::read_with_library(h, text, chunk, *r);
        return r;
    };
    std::string const whole = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{\"a\":\"bc\"}";
    for (std::size_t chunk : {std::size_t(1), std::size_t(2), std::size_t(17), whole.size()}) {
        CAPTURE(chunk);
        auto const r = read(whole, chunk);
        REQUIRE_FALSE(r->ec);
        CHECK(r->parser->get().body() == R"({"a":"bc"})");
        // Nothing before the end of the stream: the stale connection's sign.
        CHECK(read("", chunk)->ec == http::error::end_of_stream);
        // Cut inside the header, and inside the body.
        CHECK(read(whole.substr(0, 20), chunk)->ec == http::error::partial_message);
        CHECK(read(whole.substr(0, whole.size() - 3), chunk)->ec == http::error::partial_message);
    }
    // A header past the limit (1 024 bytes in the harness), whether it arrives whole or not.
    std::string const big =
        "HTTP/1.1 200 OK\r\nX-Pad: " + std::string(1100, 'p') + "\r\nContent-Length: 2\r\n\r\n{}";
    CHECK(read(big, big.size())->ec == payouts::errc::body_too_large);
    CHECK(read(big, 64)->ec == payouts::errc::body_too_large);
    // A chunked body ends at its last chunk, before the stream does.
    auto const chunked = read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n",
                              3);
    REQUIRE_FALSE(chunked->ec);
    CHECK(chunked->parser->get().body() == R"({"a":1})");
}
