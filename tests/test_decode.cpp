// decode<P>(body): every documented body decodes to the payout written out below, and every bad
// body is refused with errc::invalid_response and a message that says where and what.
#include <payouts/decode.hpp>
#include <payouts/diagnostics.hpp>
#include <payouts/error.hpp>
#include <payouts/payout.hpp>
#include <payouts/providers/checkout.hpp>
#include <payouts/providers/druo.hpp>
#include <payouts/providers/introw.hpp>
#include <payouts/providers/truust.hpp>
#include <payouts/providers/yuno.hpp>

#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace payouts;
using namespace std::chrono;
using namespace std::literals;

namespace {

using test_support::check_money;
using test_support::contains;
using test_support::edited;
using test_support::fixture;
using test_support::utc;

// Decodes a body that must be a payout; checks what holds for every payout.
template <class P>
payout decoded(std::string_view body) {
    diagnostics diag;
    diag.message = "stale";
    auto const r = decode<P>(body, diag);
    INFO("diagnostics: " << diag.message);
    REQUIRE(r.has_value());
    CHECK(diag.message.empty());
    CHECK(r->provider == P::name);
    CHECK(r->raw == body);
    CHECK(r->raw.size() == body.size());
    CHECK_FALSE(r->request_id.has_value());
    auto const plain = decode<P>(body);
    REQUIRE(plain.has_value());
    CHECK(plain->id == r->id);
    return *r;
}

// Decodes a body that must be refused; returns the diagnostics message.
template <class P>
std::string refused(std::string_view body) {
    diagnostics diag;
    auto const r = decode<P>(body, diag);
    REQUIRE_MESSAGE(!r.has_value(), "decoded as a payout with id \"" << r->id << "\"");
    CHECK(r.error() == errc::invalid_response);
    CHECK_FALSE(diag.message.empty());
    auto const plain = decode<P>(body);
    REQUIRE_FALSE(plain.has_value());
    CHECK(plain.error() == errc::invalid_response);
    return diag.message;
}

// Well-formed UTF-8 (no torn, overlong or surrogate sequences).
bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        auto const c = static_cast<unsigned char>(s[i]);
        std::size_t const n = c < 0x80         ? 1
                              : (c >> 5) == 6  ? 2
                              : (c >> 4) == 14 ? 3
                              : (c >> 3) == 30 ? 4
                                               : 0;
        if (n == 0 || i + n > s.size()) return false;
        std::uint32_t cp = n == 1 ? c : c & (0x7F >> n);
        for (std::size_t k = 1; k < n; ++k) {
            auto const d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = cp << 6 | (d & 0x3F);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n;
    }
    return true;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Documented bodies
// ---------------------------------------------------------------------------------------------

TEST_CASE("Yuno: Get Payout 200 example (SUCCEEDED, USD 100)") {
    auto const body = fixture("yuno/get-payout-200-succeeded-usd.json");
    auto const p = decoded<Yuno>(body);
    CHECK(p.id == "1c58426d-2c1b-4476-b3c0-447a8c683466");
    CHECK(p.status == payout_status::paid);
    CHECK(p.provider_status == "SUCCEEDED");
    check_money(p.amount, 10000, 2, "USD");
    CHECK(p.reference == "MR-Test-123");
    CHECK_FALSE(p.reason.has_value());
    CHECK(p.created_at == utc(2024y / May / 27, 15h + 14min + 19s + 12803us));
    CHECK(p.updated_at == utc(2024y / May / 27, 15h + 14min + 20s + 577061us));
}

TEST_CASE("Yuno: create-payout 201 bodies carry the same payout object") {
    SUBCASE("PENDING, BRL 10.01, 9 fraction digits") {
        auto const p = decoded<Yuno>(fixture("yuno/create-payout-201-pending-brl-10.01.json"));
        CHECK(p.id == "64bc81c3-928f-45bf-af97-f3772238627b");
        CHECK(p.status == payout_status::processing);
        CHECK(p.provider_status == "PENDING");
        check_money(p.amount, 1001, 2, "BRL");
        CHECK(p.reference == "MR-12345");
        CHECK_FALSE(p.reason.has_value());
        CHECK(p.created_at == utc(2024y / May / 27, 14h + 49min + 10s + 215801437ns));
        CHECK(p.updated_at == utc(2024y / May / 27, 14h + 49min + 10s + 215801717ns));
        CHECK(format_rfc3339(*p.created_at) == "2024-05-27T14:49:10.215801437Z");
    }
    SUBCASE("PENDING via PayPal, USD 10, times after the transactions") {
        auto const p = decoded<Yuno>(fixture("yuno/create-payout-201-pending-paypal-usd.json"));
        CHECK(p.id == "6509a7bb-e3ff-4def-b056-c4f4407d73c0");
        CHECK(p.status == payout_status::processing);
        CHECK(p.provider_status == "PENDING");
        check_money(p.amount, 1000, 2, "USD");
        CHECK(p.reference == "MR-Test-12345");
        CHECK_FALSE(p.reason.has_value());
        // The payout's own times, not its transaction's (which come first in the body).
        CHECK(format_rfc3339(*p.created_at) == "2024-11-22T12:29:51.436108161Z");
        CHECK(format_rfc3339(*p.updated_at) == "2024-11-22T12:29:51.436110603Z");
    }
    SUBCASE("SUCCEEDED, BRL 100") {
        auto const p = decoded<Yuno>(fixture("yuno/create-payout-201-succeeded-brl.json"));
        CHECK(p.id == "72ec87c6-8124-4638-9333-6537d057fef5");
        CHECK(p.status == payout_status::paid);
        CHECK(p.provider_status == "SUCCEEDED");
        check_money(p.amount, 10000, 2, "BRL");
        CHECK(p.reference == "MR-12345");
        CHECK_FALSE(p.reason.has_value());
        CHECK(p.created_at == utc(2024y / May / 27, 15h + 3min + 35s + 353595038ns));
        CHECK(p.updated_at == utc(2024y / May / 27, 15h + 3min + 35s + 353596398ns));
    }
    SUBCASE("SUCCEEDED, BRL 100, the 'Result' example") {
        auto const p = decoded<Yuno>(fixture("yuno/create-payout-201-succeeded-brl-result.json"));
        CHECK(p.id == "5223d101-0019-43d3-92cb-5c23391a7410");
        CHECK(p.status == payout_status::paid);
        CHECK(p.provider_status == "SUCCEEDED");
        check_money(p.amount, 10000, 2, "BRL");
        CHECK(p.reference == "MR-Test-123");
        CHECK_FALSE(p.reason.has_value());
        CHECK(p.created_at == utc(2024y / May / 27, 15h + 12min + 22s + 712914616ns));
        CHECK(p.updated_at == utc(2024y / May / 27, 15h + 12min + 22s + 712916116ns));
    }
    SUBCASE("DECLINED, BRL 0, reason from the transaction's status_detail") {
        auto const p = decoded<Yuno>(fixture("yuno/create-payout-201-declined-amount-zero.json"));
        CHECK(p.id == "57b0f7b9-1885-48d4-bb75-6a4fd645a64f");
        CHECK(p.status == payout_status::failed);
        CHECK(p.provider_status == "DECLINED");
        check_money(p.amount, 0, 2, "BRL");
        CHECK(p.reference == "MR-12345");
        CHECK(p.reason == "Errors. amount :: must be greater than 0");
        CHECK(p.created_at == utc(2024y / May / 27, 15h + 5min + 10s + 957146047ns));
        CHECK(p.updated_at == utc(2024y / May / 27, 15h + 5min + 10s + 957147867ns));
    }
}

TEST_CASE("Yuno: PENDING whose latest transaction is AUTHORIZED is on hold (built fixture)") {
    auto const p = decoded<Yuno>(fixture("yuno/built-get-payout-200-pending-authorized.json"));
    CHECK(p.id == "3f6a1c2e-8d4b-4e7a-9c1f-2b5d7e9a0c11");
    CHECK(p.status == payout_status::on_hold);
    CHECK(p.provider_status == "PENDING");
    check_money(p.amount, 25050, 2, "BRL");
    CHECK(p.reference == "MR-HOLD-1");
    CHECK_FALSE(p.reason.has_value()); // reasons are for failed payouts only
    CHECK(p.created_at == utc(2024y / June / 3, 10h + 123456789ns));
    CHECK(p.updated_at == utc(2024y / June / 3, 10h + 5min + 30s + 500ms));
}

TEST_CASE("Yuno: the webhook wraps the payout in \"data\", which Yuno bodies do not have") {
    auto const msg = refused<Yuno>(fixture("webhooks/yuno/webhook-payout-succeeded-v2.json"));
    CHECK_CONTAINS(msg, "missing /id");
}

TEST_CASE("Yuno: the merchant-reference list is an array, not a payout") {
    auto const msg = refused<Yuno>(fixture("yuno/retrieve-by-merchant-reference-200-list.json"));
    CHECK_CONTAINS(msg, "a JSON object at the root");
    CHECK_CONTAINS(msg, "an array");
}

TEST_CASE("DRUO: Get Payout example (SUCCESSFUL, USD 20000 cents)") {
    auto const p = decoded<Druo>(fixture("druo/get-payout-200-successful.json"));
    CHECK(p.id == "trx_1f4dc72b-5b76-432c-8f4f-e0919aaff3f5");
    CHECK(p.status == payout_status::paid);
    CHECK(p.provider_status == "SUCCESSFUL");
    check_money(p.amount, 20000, 2, "USD");
    CHECK_FALSE(p.reference.has_value()); // "primary_reference": "null"
    CHECK_FALSE(p.reason.has_value());    // decline_reason and remarks are JSON null
    CHECK(p.created_at == utc(2023y / October / 9, 16h + 46min + 16s + 766ms));
    CHECK(p.updated_at == utc(2023y / October / 9, 16h + 46min + 25s + 163ms));
}

TEST_CASE("DRUO: failed payout with zone-less dates and a digit-string amount (built fixture)") {
    auto const p = decoded<Druo>(fixture("druo/built-get-payout-200-failed-zoneless.json"));
    CHECK(p.id == "trx_422f0f81-5001-4cce-a229-242d9ab9960a");
    CHECK(p.status == payout_status::failed);
    CHECK(p.provider_status == "FAILED");
    check_money(p.amount, 10000, 2, "USD");
    CHECK(p.reference == "ABC123");
    CHECK(p.reason == "INSUFFICIENT_FUNDS"); // decline_reason "" is absent: remarks counts
    CHECK(p.created_at == utc(2021y / November / 15, 23h + 23min + 38s));
    CHECK(p.updated_at == utc(2021y / November / 16, 8h + 1min + 2s));
}

TEST_CASE("DRUO: bodies that are not a Get-Payout answer") {
    SUBCASE("a transaction without the \"payout\" envelope") {
        auto const msg =
            refused<Druo>(fixture("druo/transaction-validate-pending-empty-decline-reason.json"));
        CHECK_CONTAINS(msg, "missing /payout/uuid");
    }
    SUBCASE("an OAuth token body") {
        auto const msg = refused<Druo>(fixture("druo/oauth-token-200.json"));
        CHECK_CONTAINS(msg, "missing /payout/uuid");
    }
}

TEST_CASE("Checkout: Get payout details example (Returned, GBP 1000 minor units)") {
    auto const p = decoded<Checkout>(fixture("checkout/get-payout-200-returned-gbp.json"));
    CHECK(p.id == "pay_gwlowf7eap7uzm4cyaaqoq62au");
    CHECK(p.status == payout_status::returned);
    CHECK(p.provider_status == "Returned");
    check_money(p.amount, 1000, 2, "GBP");
    CHECK(p.reference == "PO-215-5721");
    CHECK_FALSE(p.reason.has_value());
    CHECK(p.created_at == utc(2020y / June / 12, 13h + 49min + 19s + 85546us));
    CHECK_FALSE(p.updated_at.has_value());
}

TEST_CASE("Checkout: the 202 bank-payout body has no amount") {
    auto const p = decoded<Checkout>(fixture("checkout/create-bank-payout-202-pending.json"));
    CHECK(p.id == "pay_3tbq6nwlgy7epjf6lsafzejlqq");
    CHECK(p.status == payout_status::processing);
    CHECK(p.provider_status == "Pending");
    CHECK_FALSE(p.amount.has_value());
    CHECK(p.reference == "Payouts - GB Testing");
    CHECK_FALSE(p.reason.has_value());
    CHECK_FALSE(p.created_at.has_value());
    CHECK_FALSE(p.updated_at.has_value());
}

TEST_CASE("Checkout: the Java SDK mock is Authorized, which is not a payout status") {
    auto const p = decoded<Checkout>(
        fixture("checkout/sdk-java-mock-get-payment-card-destination-authorized.json"));
    CHECK(p.id == "pay_mbabizu24mvu3mela5njyhpit4");
    CHECK(p.status == payout_status::unknown);
    CHECK(p.provider_status == "Authorized");
    check_money(p.amount, 6540, 2, "USD");
    CHECK(p.reference == "ORD-5023-4E89");
    CHECK_FALSE(p.reason.has_value()); // "Approved" is no reason, and only failures have one
    CHECK_FALSE(p.created_at.has_value());
    CHECK_FALSE(p.updated_at.has_value());
}

TEST_CASE("Checkout: webhook events are not payouts") {
    SUBCASE("payment_returned: the event's id, no status at the root") {
        auto const msg = refused<Checkout>(
            fixture("webhooks/checkout/webhook-payment-returned-bank-payout.json"));
        CHECK_CONTAINS(msg, "missing /status");
    }
    SUBCASE("payout_declined") {
        auto const msg = refused<Checkout>(
            fixture("webhooks/checkout/webhook-payout-declined-compliance-error.json"));
        CHECK_CONTAINS(msg, "missing /status");
    }
}

TEST_CASE("Introw: Get a payout example (PENDING_REVIEW, \"4250.00\" USD)") {
    auto const p = decoded<Introw>(fixture("introw/get-payout-200-pending-review.json"));
    CHECK(p.id == "pay_2x7n4q8z0w1a2b3c4d5e6f7g");
    CHECK(p.status == payout_status::pending);
    CHECK(p.provider_status == "PENDING_REVIEW");
    check_money(p.amount, 425000, 2, "USD");
    CHECK_FALSE(p.reference.has_value()); // poNumber: null
    CHECK_FALSE(p.reason.has_value());
    CHECK(p.created_at == utc(2026y / April / 5, 9h));
    CHECK(p.updated_at == utc(2026y / April / 5, 9h));
}

TEST_CASE("Introw: Update a payout example (APPROVED, with a PO number)") {
    auto const p = decoded<Introw>(fixture("introw/update-payout-200-approved.json"));
    CHECK(p.id == "pay_2x7n4q8z0w1a2b3c4d5e6f7g");
    CHECK(p.status == payout_status::pending);
    CHECK(p.provider_status == "APPROVED");
    check_money(p.amount, 425000, 2, "USD");
    CHECK(p.reference == "PO-ACME-2026-Q1");
    CHECK_FALSE(p.reason.has_value());
    CHECK(p.created_at == utc(2026y / April / 5, 9h));
    CHECK(p.updated_at == utc(2026y / April / 8, 14h + 30min));
}

TEST_CASE("Truust: payout built from the OpenAPI schema, in the data envelope") {
    auto const p = decoded<Truust>(fixture("truust/get-order-payout-200-from-schema.json"));
    CHECK(p.id == "789");
    CHECK(p.status == payout_status::paid);
    CHECK(p.provider_status == "CONFIRMED");
    CHECK_FALSE(p.amount.has_value());
    CHECK(p.reference == "ORDER-2026-0001");
    CHECK_FALSE(p.reason.has_value());
    CHECK(p.created_at == utc(2026y / March / 2, 9h + 15min));
    CHECK(p.updated_at == utc(2026y / March / 3, 16h + 40min + 12s)); // 17:40:12+01:00
}

TEST_CASE("Truust: payin bodies show the envelope and decode with the same field map") {
    SUBCASE("GET payin, CONFIRMED, provider object left alone") {
        auto const p = decoded<Truust>(fixture("truust/get-payin-200-data-envelope.json"));
        CHECK(p.id == "1234567");
        CHECK(p.status == payout_status::paid);
        CHECK(p.provider_status == "CONFIRMED");
        CHECK_FALSE(p.amount.has_value());
        CHECK_FALSE(p.reference.has_value());
        CHECK_FALSE(p.created_at.has_value());
        CHECK_FALSE(p.updated_at.has_value());
    }
    SUBCASE("create payin, CREATED") {
        auto const p = decoded<Truust>(fixture("truust/create-payin-200-data-envelope.json"));
        CHECK(p.id == "20212799");
        CHECK(p.status == payout_status::pending);
        CHECK(p.provider_status == "CREATED");
        CHECK_FALSE(p.amount.has_value());
    }
}

// ---------------------------------------------------------------------------------------------
// Provider error bodies instead of a payout
// ---------------------------------------------------------------------------------------------

TEST_CASE("provider error bodies are refused, naming the provider's code and message") {
    SUBCASE("Yuno 400 INVALID_REQUEST") {
        auto const msg = refused<Yuno>(fixture("yuno/get-payout-400-invalid-request.json"));
        CHECK_CONTAINS(msg, "missing /id");
        CHECK_CONTAINS(msg, "INVALID_REQUEST");
        CHECK_CONTAINS(msg, "Invalid request");
    }
    SUBCASE("Yuno docs error example") {
        auto const msg = refused<Yuno>(fixture("yuno/error-invalid-request-docs-example.json"));
        CHECK_CONTAINS(msg, "INVALID_REQUEST");
        CHECK_CONTAINS(msg, "Invalid request.");
    }
    SUBCASE("Yuno error with a single message") {
        auto const msg = refused<Yuno>(R"({"code":"NOT_FOUND","message":"Payout not found"})");
        CHECK_CONTAINS(msg, "NOT_FOUND");
        CHECK_CONTAINS(msg, "Payout not found");
    }
    SUBCASE("DRUO errors array") {
        auto const msg = refused<Druo>(fixture("druo/error-unexpected-value-createpayment.json"));
        CHECK_CONTAINS(msg, "missing /payout/uuid");
        CHECK_CONTAINS(msg, "UNEXPECTED_VALUE");
        CHECK_CONTAINS(msg, "This field has not been found in our database.");
    }
    SUBCASE("Introw {\"error\": {...}} (built fixture)") {
        auto const msg = refused<Introw>(fixture("introw/built-error-404-not-found.json"));
        CHECK_CONTAINS(msg, "missing /data/id");
        CHECK_CONTAINS(msg, "NOT_FOUND");
        CHECK_CONTAINS(msg, "Payout was not found in the authenticated organisation.");
    }
    SUBCASE("Truust {\"message\": \"Not found\"} (built fixture)") {
        auto const msg = refused<Truust>(fixture("truust/built-error-404-not-found.json"));
        CHECK_CONTAINS(msg, "missing");
        CHECK_CONTAINS(msg, "/id");
        CHECK_CONTAINS(msg, "Not found");
    }
    SUBCASE("Checkout 422 request_invalid (built fixture)") {
        auto const msg =
            refused<Checkout>(fixture("checkout/built-error-422-request-invalid.json"));
        CHECK_CONTAINS(msg, "missing /id");
        CHECK_CONTAINS(msg, "request_invalid");
        CHECK_CONTAINS(msg, "payment_source_required");
    }
    SUBCASE("a provider error text longer than 512 bytes is cut") {
        std::string const long_text(2000, 'x');
        auto const msg =
            refused<Introw>(R"({"error":{"code":"E","message":")" + long_text + R"("}})");
        CHECK_CONTAINS(msg, std::string(512, 'x'));
        CHECK_FALSE(contains(msg, std::string(513, 'x')));
    }
    SUBCASE("the cut never splits a UTF-8 character") {
        std::string long_text = "x"; // so that byte 512 falls inside a two-byte character
        for (int i = 0; i < 600; ++i)
            long_text += "\u00e9";
        auto const msg =
            refused<Introw>(R"({"error":{"code":"E","message":")" + long_text + R"("}})");
        CHECK(valid_utf8(msg));
        std::string e_acute;
        for (int i = 0; i < 255; ++i)
            e_acute += "\xC3\xA9";
        CHECK_CONTAINS(msg, "\"x" + e_acute + "\"");
    }
}

TEST_CASE("diagnostics cut long values on UTF-8 character boundaries") {
    auto const truust = fixture("truust/get-order-payout-200-from-schema.json");
    std::string value = "x"; // byte 40 falls inside a character
    for (int i = 0; i < 100; ++i)
        value += "\xC3\xA9"; // é
    std::string expected = "x";
    for (int i = 0; i < 19; ++i)
        expected += "\xC3\xA9";
    SUBCASE("a mapped string of the wrong form") {
        auto const msg =
            refused<Truust>(edited(truust, "\"2026-03-02T09:15:00+00:00\"", "\"" + value + "\""));
        CHECK(valid_utf8(msg));
        CHECK_CONTAINS(msg, "got the string \"" + expected + "...\"");
    }
    SUBCASE("a string where an object must be") {
        auto const msg = refused<Truust>(R"({"data":")" + value + R"("})");
        CHECK(valid_utf8(msg));
        CHECK_CONTAINS(msg, "/data: expected an object, got the string \"" + expected + "...\"");
    }
    SUBCASE("three- and four-byte characters too") {
        std::string v = "xy"; // 38 bytes of euro signs, then a four-byte character across 40
        for (int i = 0; i < 12; ++i)
            v += "\xE2\x82\xAC";
        v += "\xF0\x9F\x98\x80\xF0\x9F\x98\x80";
        auto const msg =
            refused<Truust>(edited(truust, "\"2026-03-02T09:15:00+00:00\"", "\"" + v + "\""));
        CHECK(valid_utf8(msg));
        CHECK_CONTAINS(msg, v.substr(0, 38) + "...\"");
    }
}

// ---------------------------------------------------------------------------------------------
// Bodies that are not JSON, or not whole
// ---------------------------------------------------------------------------------------------

TEST_CASE("empty, blank and malformed bodies") {
    CHECK_CONTAINS(refused<Yuno>(""), "empty body");
    CHECK_CONTAINS(refused<Yuno>(" \r\n\t "), "no JSON value");
    CHECK_CONTAINS(refused<Druo>("\xEF\xBB\xBF"), "no JSON value");
    CHECK_CONTAINS(refused<Yuno>("{\"id\": \"a\", \"status\": }"), "malformed JSON at byte 22");
    CHECK_CONTAINS(refused<Yuno>("<html><body>502 Bad Gateway</body></html>"),
                   "malformed JSON at byte 0");
    CHECK_CONTAINS(refused<Yuno>("Error: timeout"), "malformed JSON");
    CHECK_CONTAINS(refused<Yuno>("{'id': 'a'}"), "malformed JSON");
    CHECK_CONTAINS(refused<Yuno>("{\"id\": \"a\", \"status\": \"PENDING\",}"), "malformed JSON");
    CHECK_CONTAINS(refused<Yuno>("{\"id\": \"a\" /* c */, \"status\": \"PENDING\"}"),
                   "malformed JSON");
    CHECK_CONTAINS(refused<Yuno>(std::string("{\"id\": \"a\0\", \"status\": \"X\"}", 27)),
                   "malformed JSON");
}

namespace {

// Every prefix of `body` that ends before its closing brace must be refused.
template <class P>
void check_every_prefix_refused(std::string const& body) {
    auto const end = body.rfind('}');
    REQUIRE(end != std::string::npos);
    std::size_t refused_count = 0;
    for (std::size_t n = 0; n <= end; ++n) {
        diagnostics diag;
        auto const r = decode<P>(std::string_view(body.data(), n), diag);
        if (!r && r.error() == errc::invalid_response && !diag.message.empty())
            ++refused_count;
        else
            FAIL_CHECK("a prefix of " << n << " bytes was not refused: " << diag.message);
    }
    CHECK(refused_count == end + 1);
}

} // namespace

TEST_CASE("every truncation of a real body is refused, never a crash or a payout") {
    check_every_prefix_refused<Yuno>(fixture("yuno/get-payout-200-succeeded-usd.json"));
    check_every_prefix_refused<Yuno>(fixture("yuno/create-payout-201-pending-paypal-usd.json"));
    check_every_prefix_refused<Yuno>(fixture("yuno/built-get-payout-200-pending-authorized.json"));
    check_every_prefix_refused<Druo>(fixture("druo/get-payout-200-successful.json"));
    check_every_prefix_refused<Checkout>(fixture("checkout/get-payout-200-returned-gbp.json"));
    check_every_prefix_refused<Introw>(fixture("introw/get-payout-200-pending-review.json"));
    check_every_prefix_refused<Truust>(fixture("truust/get-order-payout-200-from-schema.json"));
    check_every_prefix_refused<Truust>("\xEF\xBB\xBF" +
                                       fixture("truust/get-order-payout-200-from-schema.json"));
    // Cuts inside escapes, surrogate pairs and multi-byte UTF-8 sequences.
    std::string const escaped =
        "{\"id\":\"pay_\\u0031\",\"st\\u0061tus\":\"Paid\",\"reference\":\"Jos\xC3\xA9 "
        "\xE2\x82\xAC \\ud83d\\ude00 \\\"q\\\"\",\"amount\":-1500,\"currency\":\"JPY\"}";
    auto const whole = decoded<Checkout>(escaped);
    CHECK(whole.id == "pay_1");
    CHECK(whole.reference == "Jos\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \"q\"");
    check_money(whole.amount, -1500, 0, "JPY");
    check_every_prefix_refused<Checkout>(escaped);
    // The messages say what happened.
    auto const body = fixture("druo/get-payout-200-successful.json");
    CHECK_CONTAINS(refused<Druo>(body.substr(0, 40)), "malformed JSON at byte 40");
    CHECK_CONTAINS(refused<Druo>(body.substr(0, body.rfind('}'))), "malformed JSON");
}

TEST_CASE("a JSON value that is not an object") {
    CHECK_CONTAINS(refused<Yuno>("[]"), "a JSON object at the root");
    CHECK_CONTAINS(refused<Truust>("[{\"id\": 1, \"status\": \"CREATED\"}]"),
                   "a JSON object at the root");
    CHECK_CONTAINS(refused<Checkout>("\"pay_123\""), "expected an object");
    CHECK_CONTAINS(refused<Checkout>("42"), "expected an object");
    CHECK_CONTAINS(refused<Checkout>("true"), "expected an object");
    CHECK_CONTAINS(refused<Checkout>("null"), "missing /id");
    CHECK_CONTAINS(refused<Checkout>("{}"), "missing /id");
}

TEST_CASE("extra data after the JSON value") {
    auto const body = fixture("introw/get-payout-200-pending-review.json");
    CHECK(decoded<Introw>(body + "  \n\t").id == "pay_2x7n4q8z0w1a2b3c4d5e6f7g");
    CHECK_CONTAINS(refused<Introw>(body + "x"),
                   "extra data after the JSON value at byte " + std::to_string(body.size()));
    CHECK_CONTAINS(refused<Introw>(body + body), "extra data after the JSON value");
    CHECK_CONTAINS(refused<Introw>(body + "\n}"), "extra data");
    CHECK_CONTAINS(refused<Introw>(body + "\0"s), "extra data");
}

TEST_CASE("a UTF-8 BOM is skipped; raw keeps it") {
    for (auto name : {"yuno/get-payout-200-succeeded-usd.json",
                      "truust/get-order-payout-200-from-schema.json"}) {
        CAPTURE(name);
        std::string const body = "\xEF\xBB\xBF" + fixture(name);
        diagnostics diag;
        auto const r =
            contains(name, "yuno/") ? decode<Yuno>(body, diag) : decode<Truust>(body, diag);
        INFO(diag.message);
        REQUIRE(r.has_value());
        CHECK(r->raw == body);
        CHECK(r->raw.starts_with("\xEF\xBB\xBF{"));
    }
    auto const p = decoded<Truust>("\xEF\xBB\xBF {\"id\": 5, \"status\": \"DENIED\"}");
    CHECK(p.id == "5");
    CHECK(p.status == payout_status::failed);
    CHECK_CONTAINS(refused<Truust>("\xEF\xBB\xBFgarbage"), "malformed JSON at byte 3");
    CHECK_CONTAINS(refused<Truust>("\xEF\xBB\xBF\xEF\xBB\xBF{\"id\": 5, \"status\": \"DENIED\"}"),
                   "malformed JSON");
    CHECK_CONTAINS(refused<Truust>("\xEF\xBB{\"id\": 5, \"status\": \"DENIED\"}"),
                   "malformed JSON");
}

TEST_CASE("invalid UTF-8 is refused wherever it is") {
    auto const body = fixture("yuno/get-payout-200-succeeded-usd.json");
    std::string_view const ref = "\"merchant_reference\": \"MR-Test-123\",\n  \"purpose\"";
    SUBCASE("in a mapped string") {
        CHECK_CONTAINS(refused<Yuno>(edited(
                           body, ref, "\"merchant_reference\": \"MR-\xFF-123\",\n  \"purpose\"")),
                       "malformed JSON");
    }
    SUBCASE("in an unmapped string") {
        CHECK_CONTAINS(refused<Yuno>(edited(body, "\"John Doe\"", "\"John \xC3\x28 Doe\"")),
                       "malformed JSON");
    }
    SUBCASE("an overlong encoding") {
        CHECK_CONTAINS(refused<Yuno>(edited(body, "\"New York\"", "\"New \xC0\xAF York\"")),
                       "malformed JSON");
    }
    SUBCASE("a truncated sequence at the end of a string") {
        CHECK_CONTAINS(
            refused<Yuno>(edited(
                body, ref, "\"merchant_reference\": \"MR-Test-123\xE2\x82\",\n  \"purpose\"")),
            "malformed JSON");
    }
    SUBCASE("a lone surrogate escape") {
        CHECK_CONTAINS(refused<Yuno>(edited(
                           body, ref, "\"merchant_reference\": \"MR-\\ud800\",\n  \"purpose\"")),
                       "malformed JSON");
    }
    SUBCASE("valid multi-byte text decodes unchanged") {
        auto const p = decoded<Yuno>(edited(
            body, ref, "\"merchant_reference\": \"MR-Jos\xC3\xA9-\xE2\x82\xAC\",\n  \"purpose\""));
        CHECK(p.reference == "MR-Jos\xC3\xA9-\xE2\x82\xAC");
    }
}

TEST_CASE("absurd nesting is refused without a crash") {
    auto const body = fixture("yuno/get-payout-200-succeeded-usd.json");
    std::string const deep_arrays = std::string(10000, '[') + std::string(10000, ']');
    CHECK_CONTAINS(refused<Yuno>(edited(body, "\"metadata\": []", "\"metadata\": " + deep_arrays)),
                   "nesting deeper than 64 levels");
    std::string deep_objects;
    for (int i = 0; i < 10000; ++i)
        deep_objects += "{\"a\":";
    deep_objects += "1" + std::string(10000, '}');
    CHECK_CONTAINS(refused<Yuno>(edited(body, "\"metadata\": []", "\"metadata\": " + deep_objects)),
                   "nesting deeper than 64 levels");
    // Unclosed nesting at the very start.
    CHECK_CONTAINS(refused<Yuno>(std::string(100000, '[')), "a JSON object at the root");
    CHECK_CONTAINS(refused<Yuno>("{\"x\":" + std::string(100000, '[')),
                   "nesting deeper than 64 levels");
    CHECK_CONTAINS(refused<Yuno>("{\"id\":" + std::string(100000, '[')),
                   "nesting deeper than 64 levels");
    // Nesting within the limit is fine.
    std::string const ok_arrays = std::string(50, '[') + std::string(50, ']');
    CHECK(decoded<Yuno>(edited(body, "\"metadata\": []", "\"metadata\": " + ok_arrays)).id ==
          "1c58426d-2c1b-4476-b3c0-447a8c683466");
}

// ---------------------------------------------------------------------------------------------
// Wrong types, missing fields, duplicates, ranges
// ---------------------------------------------------------------------------------------------

TEST_CASE("wrong JSON types on mapped fields name the pointer and what was expected") {
    auto const yuno = fixture("yuno/get-payout-200-succeeded-usd.json");
    auto const druo = fixture("druo/get-payout-200-successful.json");
    auto const truust = fixture("truust/get-order-payout-200-from-schema.json");
    auto const introw = fixture("introw/get-payout-200-pending-review.json");
    auto const checkout = fixture("checkout/get-payout-200-returned-gbp.json");

    SUBCASE("status as a number") {
        auto const msg = refused<Yuno>(edited(yuno, "\"status\": \"SUCCEEDED\",\n  \"merchant",
                                              "\"status\": 7,\n  \"merchant"));
        CHECK_CONTAINS(msg, "/status: expected a non-empty string, got the number 7");
    }
    SUBCASE("status empty") {
        auto const msg = refused<Checkout>(edited(checkout, "\"Returned\"", "\"\""));
        CHECK_CONTAINS(msg, "/status: expected a non-empty string");
    }
    SUBCASE("Yuno amount as a string (it is a JSON number in major units)") {
        auto const msg = refused<Yuno>(edited(yuno, "\"value\": 100\n  },\n  \"beneficiary\"",
                                              "\"value\": \"100\"\n  },\n  \"beneficiary\""));
        CHECK_CONTAINS(msg, "/amount/value: expected a JSON number, got the string \"100\"");
    }
    SUBCASE("DRUO amount as a boolean") {
        auto const msg = refused<Druo>(edited(druo, "\"amount\": 20000", "\"amount\": true"));
        CHECK_CONTAINS(msg, "/payout/amount: expected an integer or a digit string in minor "
                            "units, got true");
    }
    SUBCASE("DRUO amount as a decimal string") {
        auto const msg = refused<Druo>(edited(druo, "\"amount\": 20000", "\"amount\": \"200.00\""));
        CHECK_CONTAINS(msg, "/payout/amount: expected an integer within 64 bits");
        CHECK_CONTAINS(msg, "\"200.00\"");
    }
    SUBCASE("Introw amount as a number (it is a decimal string)") {
        auto const msg = refused<Introw>(edited(introw, "\"4250.00\"", "4250.00"));
        CHECK_CONTAINS(msg,
                       "/data/amount/value: expected a decimal string, got the number 4250.00");
    }
    SUBCASE("Introw amount not a decimal") {
        auto const msg = refused<Introw>(edited(introw, "\"4250.00\"", "\"4,250.00\""));
        CHECK_CONTAINS(msg, "/data/amount/value: expected a decimal number");
    }
    SUBCASE("currency in lower case") {
        auto const msg = refused<Druo>(edited(druo, "\"code\": \"USD\"", "\"code\": \"usd\""));
        CHECK_CONTAINS(msg, "/payout/currency/code: expected an ISO 4217 currency code");
        CHECK_CONTAINS(msg, "\"usd\"");
    }
    SUBCASE("currency as a number") {
        auto const msg = refused<Checkout>(edited(checkout, "\"GBP\"", "826"));
        CHECK_CONTAINS(msg, "/currency: expected an ISO 4217 currency code");
    }
    SUBCASE("DRUO currency as a string instead of {\"code\"}") {
        auto const msg = refused<Druo>(
            edited(druo, "\"currency\": {\n\"code\": \"USD\"\n}", "\"currency\": \"USD\""));
        CHECK_CONTAINS(msg, "/payout/currency: expected an object, got the string \"USD\"");
    }
    SUBCASE("Yuno amount as a bare number instead of an object") {
        auto const msg = refused<Yuno>(edited(yuno,
                                              "\"amount\": {\n    \"currency\": \"USD\",\n    "
                                              "\"value\": 100\n  },\n  \"beneficiary\"",
                                              "\"amount\": 100,\n  \"beneficiary\""));
        CHECK_CONTAINS(msg, "/amount: expected an object, got the number 100");
    }
    SUBCASE("id as an object") {
        auto const msg = refused<Yuno>(
            edited(yuno, "\"1c58426d-2c1b-4476-b3c0-447a8c683466\"", "{\"uuid\": \"x\"}"));
        CHECK_CONTAINS(msg, "/id: expected a non-empty string or an integer, got an object");
    }
    SUBCASE("id as an array") {
        auto const msg = refused<Checkout>(
            edited(checkout, "\"pay_gwlowf7eap7uzm4cyaaqoq62au\",\n\"requested_on\"",
                   "[\"pay_gwlowf7eap7uzm4cyaaqoq62au\"],\n\"requested_on\""));
        CHECK_CONTAINS(msg, "/id: expected a non-empty string or an integer, got an array");
    }
    SUBCASE("id empty") {
        auto const msg = refused<Introw>(
            edited(introw, "\"id\": \"pay_2x7n4q8z0w1a2b3c4d5e6f7g\"", "\"id\": \"\""));
        CHECK_CONTAINS(msg, "/data/id: expected a non-empty string or an integer");
    }
    SUBCASE("Truust id as a float") {
        auto const msg = refused<Truust>(edited(truust, "\"id\": 789", "\"id\": 1.5"));
        CHECK_CONTAINS(msg,
                       "/data/id: expected a non-empty string or an integer, got the number 1.5");
    }
    SUBCASE("Truust id beyond int64") {
        auto const msg =
            refused<Truust>(edited(truust, "\"id\": 789", "\"id\": 9223372036854775808"));
        CHECK_CONTAINS(msg, "/data/id: expected a non-empty string or an integer");
    }
    SUBCASE("Truust id as a boolean") {
        auto const msg = refused<Truust>(edited(truust, "\"id\": 789", "\"id\": true"));
        CHECK_CONTAINS(msg, "/data/id: expected a non-empty string or an integer, got true");
    }
    SUBCASE("reference as a number") {
        auto const msg = refused<Checkout>(edited(checkout, "\"PO-215-5721\"", "215"));
        CHECK_CONTAINS(msg, "/reference: expected a string, got the number 215");
    }
    SUBCASE("a timestamp that is not RFC 3339") {
        auto const msg =
            refused<Truust>(edited(truust, "\"2026-03-02T09:15:00+00:00\"", "\"string\""));
        CHECK_CONTAINS(msg, "/data/created_at: expected an RFC 3339 date-time, got the string "
                            "\"string\"");
    }
    SUBCASE("a timestamp as a number") {
        auto const msg = refused<Introw>(edited(
            introw, "\"createdAt\": \"2026-04-05T09:00:00.000Z\"", "\"createdAt\": 1775379600"));
        CHECK_CONTAINS(msg, "/data/createdAt: expected an RFC 3339 date-time string");
    }
    SUBCASE("a zone-less time where the provider always sends a zone") {
        auto const msg =
            refused<Yuno>(edited(yuno, "\"created_at\": \"2024-05-27T15:14:19.012803Z\"",
                                 "\"created_at\": \"2024-05-27T15:14:19.012803\""));
        CHECK_CONTAINS(msg, "/created_at: expected an RFC 3339 date-time with a zone");
    }
    SUBCASE("the envelope as an array") {
        auto const msg = refused<Druo>("{\"payout\": [{\"uuid\": \"trx_1\"}]}");
        CHECK_CONTAINS(msg, "/payout: expected an object, got an array");
    }
    SUBCASE("Yuno transactions as an object") {
        auto const msg = refused<Yuno>(R"({"id":"p","status":"PENDING","transactions":{}})");
        CHECK_CONTAINS(msg, "/transactions: expected an array, got an object");
    }
    SUBCASE("a transaction response_code as a number, in the second element") {
        auto const msg = refused<Yuno>(
            R"({"id":"p","status":"PENDING","transactions":[{"response_code":"A"},{"response_code":5}]})");
        CHECK_CONTAINS(msg, "/transactions/1/response_code: expected a string, got the number 5");
    }
}

TEST_CASE("missing id or status") {
    auto const yuno = fixture("yuno/get-payout-200-succeeded-usd.json");
    SUBCASE("no id") {
        auto const msg =
            refused<Yuno>(edited(yuno, "\"id\": \"1c58426d-2c1b-4476-b3c0-447a8c683466\",", ""));
        CHECK_CONTAINS(msg, "missing /id (the payout id)");
    }
    SUBCASE("id null") {
        auto const msg =
            refused<Yuno>(edited(yuno, "\"1c58426d-2c1b-4476-b3c0-447a8c683466\"", "null"));
        CHECK_CONTAINS(msg, "missing /id (the payout id)");
    }
    SUBCASE("no status") {
        auto const msg =
            refused<Yuno>(edited(yuno, "\"status\": \"SUCCEEDED\",\n  \"merchant", "\"merchant"));
        CHECK_CONTAINS(msg, "missing /status (the payout status)");
    }
    SUBCASE("status null") {
        auto const msg = refused<Introw>(edited(
            fixture("introw/get-payout-200-pending-review.json"), "\"PENDING_REVIEW\"", "null"));
        CHECK_CONTAINS(msg, "missing /data/stage (the payout status)");
    }
    SUBCASE("the envelope missing") {
        auto const msg = refused<Introw>(R"({"id":"pay_1","stage":"PAID"})");
        CHECK_CONTAINS(msg, "missing /data/id");
    }
    SUBCASE("the envelope null") {
        auto const msg = refused<Druo>(R"({"payout": null})");
        CHECK_CONTAINS(msg, "missing /payout/uuid");
    }
    SUBCASE("a status in a transaction only is not the payout's") {
        auto const msg = refused<Yuno>(
            R"({"id":"p","transactions":[{"status":"SUCCEEDED","response_code":"SUCCEEDED"}]})");
        CHECK_CONTAINS(msg, "missing /status");
    }
}

TEST_CASE("an amount and its currency come together") {
    SUBCASE("amount without currency") {
        auto const msg = refused<Checkout>(R"({"id":"pay_1","status":"Paid","amount":100})");
        CHECK_CONTAINS(msg, "/amount: an amount without a currency");
    }
    SUBCASE("currency without amount") {
        auto const msg = refused<Checkout>(R"({"id":"pay_1","status":"Paid","currency":"GBP"})");
        CHECK_CONTAINS(msg, "/currency: a currency without an amount");
    }
    SUBCASE("both null: no amount") {
        auto const p = decoded<Yuno>(
            R"({"id":"p","status":"CREATED","amount":{"value":null,"currency":null}})");
        CHECK_FALSE(p.amount.has_value());
        CHECK(p.status == payout_status::pending);
    }
    SUBCASE("amount object null: no amount") {
        auto const p = decoded<Yuno>(R"({"id":"p","status":"CREATED","amount":null})");
        CHECK_FALSE(p.amount.has_value());
    }
}

TEST_CASE("duplicate keys on mapped paths are refused") {
    auto const yuno = fixture("yuno/get-payout-200-succeeded-usd.json");
    SUBCASE("duplicate status") {
        auto const msg = refused<Yuno>(edited(yuno, "\"status\": \"SUCCEEDED\",\n  \"merchant",
                                              "\"status\": \"PENDING\",\n  \"status\": "
                                              "\"SUCCEEDED\",\n  \"merchant"));
        CHECK_CONTAINS(msg, "/status: duplicate key");
    }
    SUBCASE("duplicate status with the same value") {
        auto const msg = refused<Checkout>(R"({"id":"pay_1","status":"Paid","status":"Paid"})");
        CHECK_CONTAINS(msg, "/status: duplicate key");
    }
    SUBCASE("duplicate amount objects") {
        auto const msg = refused<Yuno>(edited(
            yuno, "\"amount\": {\n    \"currency\": \"USD\",\n    \"value\": 100\n  },\n  \"bene",
            "\"amount\": {\"currency\": \"USD\", \"value\": 1},\n  \"amount\": {\n    "
            "\"currency\": \"USD\",\n    \"value\": 100\n  },\n  \"bene"));
        CHECK_CONTAINS(msg, "/amount: duplicate key");
    }
    SUBCASE("duplicate key inside the amount") {
        auto const msg = refused<Introw>(
            R"({"data":{"id":"pay_1","stage":"PAID","amount":{"value":"1.00","value":"2.00","currency":"USD"}}})");
        CHECK_CONTAINS(msg, "/data/amount/value: duplicate key");
    }
    SUBCASE("duplicate envelope") {
        auto const msg = refused<Druo>(
            R"({"payout":{"uuid":"trx_1","status":"PENDING"},"payout":{"uuid":"trx_2","status":"FAILED"}})");
        CHECK_CONTAINS(msg, "/payout: duplicate key");
    }
    SUBCASE("duplicate response_code in the latest transaction") {
        auto const msg = refused<Yuno>(
            R"({"id":"p","status":"PENDING","transactions":[{"response_code":"PENDING_PROVIDER_CONFIRMATION","response_code":"AUTHORIZED"}]})");
        CHECK_CONTAINS(msg, "/transactions/0/response_code: duplicate key");
    }
    SUBCASE("duplicate transactions arrays") {
        auto const msg = refused<Yuno>(
            R"({"id":"p","status":"PENDING","transactions":[],"transactions":[{"response_code":"AUTHORIZED"}]})");
        CHECK_CONTAINS(msg, "/transactions: duplicate key");
    }
    SUBCASE("a duplicate spelled with an escape") {
        auto const msg =
            refused<Checkout>(R"({"id":"pay_1","status":"Paid","st\u0061tus":"Declined"})");
        CHECK_CONTAINS(msg, "/status: duplicate key");
    }
    SUBCASE("Truust id both outside and inside the optional envelope") {
        auto const msg =
            refused<Truust>(R"({"id": 788, "data": {"id": 789, "status": "CONFIRMED"}})");
        CHECK_CONTAINS(msg, "/data/id: duplicate key");
    }
    SUBCASE("Truust id inside and then outside the optional envelope") {
        auto const msg =
            refused<Truust>(R"({"data": {"id": 789, "status": "CONFIRMED"}, "id": 789})");
        CHECK_CONTAINS(msg, "/id: duplicate key");
    }
    SUBCASE("Truust id outside, and an object inside the optional envelope") {
        auto const msg =
            refused<Truust>(R"({"id": 789, "status": "CONFIRMED", "data": {"id": {"n": 1}}})");
        CHECK_CONTAINS(msg, "duplicate key");
    }
    SUBCASE("Truust fields split between the envelope and the root") {
        auto const msg = refused<Truust>(R"({"data": {"id": 789}, "status": "CONFIRMED"})");
        CHECK_CONTAINS(msg, "envelope");
        auto const msg2 = refused<Truust>(
            R"({"id": 789, "status": "CONFIRMED", "data": {"created_at": "2026-03-02T09:15:00Z"}})");
        CHECK_CONTAINS(msg2, "envelope");
    }
    SUBCASE("a duplicate unmapped key at the root") {
        auto const msg = refused<Yuno>(edited(yuno, "\"country\": \"US\",\n  \"description\"",
                                              "\"country\": \"US\",\n  \"country\": \"BR\",\n  "
                                              "\"description\""));
        CHECK_CONTAINS(msg, "/country: duplicate key");
    }
    SUBCASE("each transaction has its own keys") {
        auto const p = decoded<Yuno>(
            R"({"id":"p","status":"PENDING","transactions":[{"response_code":"AUTHORIZED"},{"response_code":"AUTHORIZED"}]})");
        CHECK(p.status == payout_status::on_hold);
    }
}

TEST_CASE("duplicate keys are refused in every object of the body, named by their pointer") {
    auto const druo = fixture("druo/get-payout-200-successful.json");
    auto const yuno = fixture("yuno/get-payout-200-succeeded-usd.json");
    auto const truust = fixture("truust/get-order-payout-200-from-schema.json");
    SUBCASE("inside an unmapped object in the envelope") {
        auto const msg = refused<Druo>(
            edited(druo, "\"metadata\": {}", R"("metadata": {"x": 1, "y": 2, "x": 1})"));
        CHECK_CONTAINS(msg, "/payout/metadata/x: duplicate key");
    }
    SUBCASE("deep inside unmapped objects, with the same value") {
        auto const msg =
            refused<Yuno>(edited(yuno, "\"document_type\": \"SSN\",",
                                 "\"document_type\": \"SSN\", \"document_type\": \"SSN\","));
        CHECK_CONTAINS(msg, "/beneficiary/document/document_type: duplicate key");
    }
    SUBCASE("in an array of unmapped objects") {
        auto const msg = refused<Checkout>(
            R"({"id":"pay_1","status":"Paid","list":[{"a":1},{"a":1,"b":[{"c":1,"d":2,"c":3}]}]})");
        CHECK_CONTAINS(msg, "/list/1/b/0/c: duplicate key");
    }
    SUBCASE("outside the envelope") {
        auto const msg =
            refused<Druo>(R"({"payout":{"uuid":"trx_1","status":"PENDING"},"meta":{"x":1,"x":2}})");
        CHECK_CONTAINS(msg, "/meta/x: duplicate key");
        auto const before =
            refused<Druo>(R"({"meta":{"x":1,"x":2},"payout":{"uuid":"trx_1","status":"PENDING"}})");
        CHECK_CONTAINS(before, "/meta/x: duplicate key");
    }
    SUBCASE("in the envelope itself and at the root, unmapped") {
        CHECK_CONTAINS(refused<Truust>(edited(truust, "\"type\": \"ACCOUNT\",",
                                              "\"type\": \"ACCOUNT\", \"type\": \"WALLET\",")),
                       "/data/type: duplicate key");
        CHECK_CONTAINS(refused<Introw>(R"({"data":{"id":"pay_1","stage":"PAID"},"x":1,"x":1})"),
                       "/x: duplicate key");
    }
    SUBCASE("keys compare decoded: an escape spells the same key") {
        CHECK_CONTAINS(
            refused<Druo>(edited(druo, "\"metadata\": {}", R"("metadata": {"x": 1, "\u0078": 2})")),
            "/payout/metadata/x: duplicate key");
        CHECK_CONTAINS(refused<Druo>(edited(druo, "\"metadata\": {}",
                                            R"("metadata": {"ab\u0063": 1, "abc": 2})")),
                       "/payout/metadata/abc: duplicate key");
        CHECK_CONTAINS(
            refused<Druo>(edited(druo, "\"metadata\": {}", R"("metadata": {"\u00e9": 1, "é": 2})")),
            "/payout/metadata/é: duplicate key");
        // The pointer to it is decoded too.
        CHECK_CONTAINS(refused<Druo>(edited(druo, "\"metadata\": {}",
                                            R"("m\u0065ta": {"k": {"x": 1, "x": 2}})")),
                       "/payout/meta/k/x: duplicate key");
    }
    SUBCASE("escaped keys that differ are different keys") {
        auto const p = decoded<Druo>(
            edited(druo, "\"metadata\": {}",
                   R"("metadata": {"\u0078": 1, "\u0079": 2, "x\"": 3, "\u0078\u0078": 4})"));
        CHECK(p.id == "trx_1f4dc72b-5b76-432c-8f4f-e0919aaff3f5");
    }
    SUBCASE("a long key the parser hands over in parts") {
        // Longer than the parser's 4 KiB buffer for unescaped text: it arrives in several parts.
        std::string const tail(5000, 'b');
        std::string const body =
            edited(druo, "\"metadata\": {}",
                   "\"metadata\": {\"a" + tail + "\": 1, \"\\u0061" + tail + "\": 2}");
        auto const msg = refused<Druo>(body);
        CHECK_CONTAINS(msg, "/payout/metadata/a" + std::string(63, 'b') + "...: duplicate key");
        CHECK(msg.size() < 200);
        decoded<Druo>(edited(druo, "\"metadata\": {}",
                             "\"metadata\": {\"a" + tail + "\": 1, \"\\u0061" + tail + "c\": 2}"));
    }
    SUBCASE("pointer segments escape '~' and '/'") {
        CHECK_CONTAINS(refused<Druo>(edited(druo, "\"metadata\": {}",
                                            R"("metadata": {"a/b~c": {"": 1, "": 2}})")),
                       "/payout/metadata/a~1b~0c/: duplicate key");
        CHECK_CONTAINS(refused<Druo>(edited(druo, "\"metadata\": {}",
                                            R"("metadata": {"a/b": 1, "a~1b": 2, "a/b": 3})")),
                       "/payout/metadata/a~1b: duplicate key");
    }
    SUBCASE("the same key in sibling, nested and array-element objects is fine") {
        auto const p = decoded<Druo>(edited(
            druo, "\"metadata\": {}",
            R"("metadata": {"x": {"x": {"x": 1}}, "y": {"x": 2}, "z": [{"x": 1}, {"x": 2}, {"y": {"x": 3}, "x": 4}]})"));
        CHECK(p.status == payout_status::paid);
    }
    SUBCASE("keys alike in length, first, middle and last bytes are still told apart") {
        auto const p = decoded<Druo>(edited(
            druo, "\"metadata\": {}",
            R"("metadata": {"aXbYc": 1, "aYbXc": 2, "date_created_gmt": 4, "date_updated_gmt": 5})"));
        CHECK(p.status == payout_status::paid);
    }
}

namespace {

// "k0000x", "k0001x", ...: keys alike but for their middle digits.
std::string wide_key(std::size_t i) {
    char key[32];
    std::snprintf(key, sizeof key, "k%04zux", i);
    return key;
}

// An object of `n` keys wide_key(0), wide_key(1), ..., then `extra`.
std::string wide_metadata(std::size_t n, std::string_view extra = {}) {
    std::string out = "{";
    for (std::size_t i = 0; i < n; ++i) {
        if (i) out += ", ";
        // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, a false positive) on
        // "\"" + std::string&&.
        out += '"';
        out += wide_key(i);
        out += "\": ";
        out += std::to_string(i);
    }
    out += extra;
    return out + "}";
}

} // namespace

TEST_CASE("wide objects: every key is checked, also past the inline buffers") {
    auto const druo = fixture("druo/get-payout-200-successful.json");
    auto const with_metadata = [&](std::string const& m) {
        return edited(druo, "\"metadata\": {}", "\"metadata\": " + m);
    };
    for (std::size_t n : {1, 2, 31, 32, 33, 63, 64, 65, 200, 1000}) {
        CAPTURE(n);
        CHECK(decoded<Druo>(with_metadata(wide_metadata(n))).status == payout_status::paid);
        CHECK_CONTAINS(refused<Druo>(with_metadata(wide_metadata(n, R"(, "k0000x": 0)"))),
                       "/payout/metadata/k0000x: duplicate key");
        std::string const last = wide_key(n - 1);
        CHECK_CONTAINS(refused<Druo>(with_metadata(wide_metadata(n, ", \"" + last + "\": 0"))),
                       "/payout/metadata/" + last + ": duplicate key");
    }
    SUBCASE("a wide object inside a wide object, the outer one going on after it") {
        std::string inner = wide_metadata(300);
        std::string outer = wide_metadata(100, ", \"inner\": " + inner);
        outer.pop_back();
        for (std::size_t i = 100; i < 400; ++i)
            outer += ", \"k" + std::to_string(i) + "x\": " + std::to_string(i);
        CHECK(decoded<Druo>(with_metadata(outer + "}")).status == payout_status::paid);
        CHECK_CONTAINS(refused<Druo>(with_metadata(outer + ", \"k0099x\": 1}")),
                       "/payout/metadata/k0099x: duplicate key");
        CHECK_CONTAINS(refused<Druo>(with_metadata(outer + ", \"inner\": 1}")),
                       "/payout/metadata/inner: duplicate key");
        CHECK_CONTAINS(refused<Druo>(with_metadata(outer + ", \"k399x\": 1}")),
                       "/payout/metadata/k399x: duplicate key");
        std::string const inner_dup = wide_metadata(300, R"(, "k0150x": 1)");
        CHECK_CONTAINS(
            refused<Druo>(with_metadata(wide_metadata(100, ", \"inner\": " + inner_dup))),
            "/payout/metadata/inner/k0150x: duplicate key");
    }
    SUBCASE("many open objects, each with keys, deeper than the inline key buffer") {
        std::string m;
        for (int d = 0; d < 40; ++d)
            m += "{\"a\": 1, \"b\": 2, \"c\": ";
        m += "{\"x\": 1, \"x\": 2}";
        for (int d = 0; d < 40; ++d)
            m += "}";
        auto const msg = refused<Druo>(with_metadata(m));
        std::string where = "/payout/metadata";
        for (int d = 0; d < 40; ++d)
            where += "/c";
        CHECK_CONTAINS(msg, where + "/x: duplicate key");
    }
}

TEST_CASE("numbers beyond int64 and beyond the decimal range") {
    auto const druo = fixture("druo/get-payout-200-successful.json");
    auto const yuno = fixture("yuno/get-payout-200-succeeded-usd.json");
    auto const yuno_value = [&](std::string_view v) {
        return edited(yuno, "\"value\": 100\n  },\n  \"beneficiary\"",
                      "\"value\": " + std::string(v) + "\n  },\n  \"beneficiary\"");
    };
    SUBCASE("DRUO amount 2^63 as a number") {
        auto const msg =
            refused<Druo>(edited(druo, "\"amount\": 20000", "\"amount\": 9223372036854775808"));
        CHECK_CONTAINS(msg, "/payout/amount: expected an integer within 64 bits, in minor units, "
                            "got the number 9223372036854775808");
    }
    SUBCASE("DRUO amount 2^63 as a digit string") {
        auto const msg =
            refused<Druo>(edited(druo, "\"amount\": 20000", "\"amount\": \"9223372036854775808\""));
        CHECK_CONTAINS(msg, "/payout/amount: expected an integer within 64 bits, in minor units, "
                            "got the string \"9223372036854775808\"");
    }
    SUBCASE("DRUO amount far beyond uint64") {
        auto const msg = refused<Druo>(
            edited(druo, "\"amount\": 20000", "\"amount\": 123456789012345678901234567890"));
        CHECK_CONTAINS(msg, "/payout/amount: expected an integer within 64 bits");
    }
    SUBCASE("DRUO amount INT64_MAX is kept exactly") {
        auto const p =
            decoded<Druo>(edited(druo, "\"amount\": 20000", "\"amount\": 9223372036854775807"));
        check_money(p.amount, INT64_MAX, 2, "USD");
    }
    SUBCASE("DRUO amount as a float") {
        auto const msg = refused<Druo>(edited(druo, "\"amount\": 20000", "\"amount\": 200.5"));
        CHECK_CONTAINS(msg, "/payout/amount: expected an integer within 64 bits");
    }
    SUBCASE("Yuno 1e400") {
        auto const msg = refused<Yuno>(yuno_value("1e400"));
        CHECK_CONTAINS(msg, "/amount/value");
        CHECK_CONTAINS(msg, "1e400");
    }
    SUBCASE("Yuno -1e400") {
        CHECK_CONTAINS(refused<Yuno>(yuno_value("-1e400")), "/amount/value");
    }
    SUBCASE("Yuno 1e-400") {
        CHECK_CONTAINS(refused<Yuno>(yuno_value("1e-400")), "/amount/value");
    }
    SUBCASE("Yuno amount with 19 fraction digits") {
        auto const msg = refused<Yuno>(yuno_value("0.0000000000000000001"));
        CHECK_CONTAINS(msg, "/amount/value: expected a decimal number within 64 bits and 18 "
                            "fraction digits");
    }
    SUBCASE("Yuno amount that fits in a double but not in int64 at the currency's scale") {
        auto const msg = refused<Yuno>(yuno_value("92233720368547758.08"));
        CHECK_CONTAINS(msg, "/amount/value");
        auto const msg2 = refused<Yuno>(yuno_value("922337203685477581"));
        CHECK_CONTAINS(msg2, "/amount/value: expected an amount within 64 bits at the "
                             "currency's scale");
    }
    SUBCASE("Yuno amounts are exact: 10.015, 1.5e2, 0.1, 18 fraction digits") {
        check_money(decoded<Yuno>(yuno_value("10.015")).amount, 10015, 3, "USD");
        check_money(decoded<Yuno>(yuno_value("1.5e2")).amount, 15000, 2, "USD");
        check_money(decoded<Yuno>(yuno_value("0.1")).amount, 10, 2, "USD");
        check_money(decoded<Yuno>(yuno_value("0.123456789012345678")).amount, 123456789012345678,
                    18, "USD");
        check_money(decoded<Yuno>(yuno_value("-0.5")).amount, -50, 2, "USD");
        check_money(decoded<Yuno>(yuno_value("92233720368547758.07")).amount, INT64_MAX, 2, "USD");
    }
}

// ---------------------------------------------------------------------------------------------
// Provider rules
// ---------------------------------------------------------------------------------------------

namespace {

std::string yuno_with(std::string_view status, std::string_view transactions) {
    return R"({"id":"a8f0a1c2-1111-4222-8333-944455556666","status":")" + std::string(status) +
           R"(","amount":{"currency":"BRL","value":10.01},"transactions":[)" +
           std::string(transactions) + "]}";
}

} // namespace

TEST_CASE("Yuno: the latest transaction refines PENDING and gives the reason") {
    SUBCASE("last AUTHORIZED: on hold") {
        auto const p = decoded<Yuno>(yuno_with(
            "PENDING",
            R"({"response_code":"PENDING_PROVIDER_CONFIRMATION"},{"response_code":"AUTHORIZED"})"));
        CHECK(p.status == payout_status::on_hold);
        CHECK(p.provider_status == "PENDING");
    }
    SUBCASE("earlier AUTHORIZED, last PENDING_PROVIDER_CONFIRMATION: processing") {
        auto const p = decoded<Yuno>(yuno_with(
            "PENDING",
            R"({"response_code":"AUTHORIZED"},{"response_code":"PENDING_PROVIDER_CONFIRMATION"})"));
        CHECK(p.status == payout_status::processing);
    }
    SUBCASE("earlier AUTHORIZED, last without response_code: processing") {
        auto const p = decoded<Yuno>(yuno_with(
            "PENDING", R"({"response_code":"AUTHORIZED"},{"id":"t2","status":"PENDING"})"));
        CHECK(p.status == payout_status::processing);
    }
    SUBCASE("earlier AUTHORIZED, last response_code null: processing") {
        auto const p = decoded<Yuno>(
            yuno_with("PENDING", R"({"response_code":"AUTHORIZED"},{"response_code":null})"));
        CHECK(p.status == payout_status::processing);
    }
    SUBCASE("earlier AUTHORIZED, last transaction null: processing") {
        auto const p =
            decoded<Yuno>(yuno_with("PENDING", R"({"response_code":"AUTHORIZED"},null)"));
        CHECK(p.status == payout_status::processing);
    }
    SUBCASE("no transactions: processing") {
        CHECK(decoded<Yuno>(yuno_with("PENDING", "")).status == payout_status::processing);
    }
    SUBCASE("AUTHORIZED only refines PENDING") {
        auto const p = decoded<Yuno>(yuno_with("SUCCEEDED", R"({"response_code":"AUTHORIZED"})"));
        CHECK(p.status == payout_status::paid);
    }
    SUBCASE("the qualifier is case-sensitive") {
        auto const p = decoded<Yuno>(yuno_with("PENDING", R"({"response_code":"authorized"})"));
        CHECK(p.status == payout_status::processing);
    }
    SUBCASE("reason: the latest transaction's status_detail") {
        auto const p = decoded<Yuno>(yuno_with(
            "REJECTED",
            R"({"response_code":"A","provider_data":{"status_detail":"first"}},{"response_code":"REJECTED","provider_data":{"status_detail":"Insufficient balance"}})"));
        CHECK(p.status == payout_status::failed);
        CHECK(p.reason == "Insufficient balance");
    }
    SUBCASE("reason: the latest response_code when it has no status_detail") {
        auto const p = decoded<Yuno>(yuno_with(
            "DECLINED",
            R"({"response_code":"X","provider_data":{"status_detail":"earlier detail"}},{"response_code":"DECLINED","provider_data":{"status_detail":null}})"));
        CHECK(p.status == payout_status::failed);
        CHECK(p.reason == "DECLINED");
    }
    SUBCASE("reason: an empty status_detail is absent") {
        auto const p = decoded<Yuno>(yuno_with(
            "ERROR", R"({"response_code":"ERROR","provider_data":{"status_detail":""}})"));
        CHECK(p.status == payout_status::failed);
        CHECK(p.reason == "ERROR");
    }
    SUBCASE("reason: nothing in the latest transaction, nothing inherited") {
        auto const p = decoded<Yuno>(yuno_with(
            "ERROR",
            R"({"response_code":"ERROR","provider_data":{"status_detail":"old"}},{"id":"t2"})"));
        CHECK(p.status == payout_status::failed);
        CHECK_FALSE(p.reason.has_value());
    }
    SUBCASE("no reason on a payout that did not fail") {
        auto const p = decoded<Yuno>(yuno_with(
            "SUCCEEDED",
            R"({"response_code":"SUCCEEDED","provider_data":{"status_detail":"APPROVED"}})"));
        CHECK_FALSE(p.reason.has_value());
    }
    SUBCASE("CREATED and an unknown status") {
        CHECK(decoded<Yuno>(yuno_with("CREATED", "")).status == payout_status::pending);
        auto const p = decoded<Yuno>(yuno_with("ON_THE_MOON", R"({"response_code":"AUTHORIZED"})"));
        CHECK(p.status == payout_status::unknown);
        CHECK(p.provider_status == "ON_THE_MOON");
    }
    SUBCASE("merchant_reference \"\" is absent") {
        auto const p = decoded<Yuno>(
            R"({"id":"p","status":"SUCCEEDED","merchant_reference":"","transactions":[]})");
        CHECK_FALSE(p.reference.has_value());
    }
}

namespace {

std::string druo_with(std::string_view fields) {
    return R"({"payout":{"uuid":"trx_0001","status":"FAILED","amount":20000,"currency":{"code":"USD"},)" +
           std::string(fields) + "}}";
}

} // namespace

TEST_CASE("DRUO: \"null\" strings, empty reasons, remarks, zone-less dates, digit strings") {
    auto const druo = fixture("druo/get-payout-200-successful.json");
    SUBCASE("\"null\" references are absent, real ones kept") {
        CHECK_FALSE(decoded<Druo>(druo).reference.has_value());
        auto const p = decoded<Druo>(
            edited(druo, "\"primary_reference\": \"null\"", "\"primary_reference\": \"INV-7\""));
        CHECK(p.reference == "INV-7");
        auto const q = decoded<Druo>(
            edited(druo, "\"primary_reference\": \"null\"", "\"primary_reference\": null"));
        CHECK_FALSE(q.reference.has_value());
    }
    SUBCASE("decline_reason \"\" is absent") {
        auto const p = decoded<Druo>(druo_with(R"("decline_reason":"","remarks":null)"));
        CHECK_FALSE(p.reason.has_value());
        CHECK(p.status == payout_status::failed);
    }
    SUBCASE("remarks used when decline_reason is null") {
        auto const p =
            decoded<Druo>(druo_with(R"("decline_reason":null,"remarks":"ACCOUNT_CLOSED")"));
        CHECK(p.reason == "ACCOUNT_CLOSED");
    }
    SUBCASE("decline_reason wins over remarks, in either order") {
        CHECK(decoded<Druo>(
                  druo_with(R"("remarks":"ACCOUNT_CLOSED","decline_reason":"INSUFFICCIENT_FUNDS")"))
                  .reason == "INSUFFICCIENT_FUNDS");
        CHECK(decoded<Druo>(
                  druo_with(R"("decline_reason":"INSUFFICCIENT_FUNDS","remarks":"ACCOUNT_CLOSED")"))
                  .reason == "INSUFFICCIENT_FUNDS");
    }
    SUBCASE("zone-less dates are UTC; zoned ones still convert") {
        auto const p = decoded<Druo>(druo_with(
            R"("date_created_gmt":"2021-11-15T23:23:38","date_updated_gmt":"2021-11-16T01:00:00.5+02:00")"));
        CHECK(p.created_at == utc(2021y / November / 15, 23h + 23min + 38s));
        CHECK(p.updated_at == utc(2021y / November / 15, 23h + 500ms));
    }
    SUBCASE("amount as a digit string") {
        check_money(
            decoded<Druo>(edited(druo, "\"amount\": 20000", "\"amount\": \"20000\"")).amount, 20000,
            2, "USD");
    }
    SUBCASE("amounts in 0 and 3 digit currencies use ISO 4217 exponents") {
        auto const jpy = decoded<Druo>(edited(druo, "\"code\": \"USD\"", "\"code\": \"JPY\""));
        check_money(jpy.amount, 20000, 0, "JPY");
        auto const kwd = decoded<Druo>(edited(druo, "\"code\": \"USD\"", "\"code\": \"KWD\""));
        check_money(kwd.amount, 20000, 3, "KWD");
        auto const clp = decoded<Druo>(edited(druo, "\"code\": \"USD\"", "\"code\": \"CLP\""));
        check_money(clp.amount, 20000, 0, "CLP");
    }
    SUBCASE("a negative digit string") {
        check_money(decoded<Druo>(edited(druo, "\"amount\": 20000", "\"amount\": \"-5\"")).amount,
                    -5, 2, "USD");
    }
}

TEST_CASE("Truust: numeric ids, the latest of confirmed_at/denied_at, both envelope shapes") {
    SUBCASE("id as a number or as a string") {
        CHECK(decoded<Truust>(R"({"data":{"id":789,"status":"CREATED"}})").id == "789");
        CHECK(decoded<Truust>(R"({"data":{"id":"789","status":"CREATED"}})").id == "789");
        CHECK(decoded<Truust>(R"({"data":{"id":9223372036854775807,"status":"CREATED"}})").id ==
              "9223372036854775807");
    }
    SUBCASE("without the envelope (the OpenAPI shape)") {
        auto const p = decoded<Truust>(
            R"({"id":790,"self":"/2.0/payouts/790","reference":null,"type":"WALLET","status":"DENIED","provider":null,"created_at":"2026-03-02T09:15:00Z","confirmed_at":null,"denied_at":"2026-03-02T10:00:00.25Z"})");
        CHECK(p.id == "790");
        CHECK(p.status == payout_status::failed);
        CHECK(p.provider_status == "DENIED");
        CHECK_FALSE(p.reference.has_value());
        CHECK(p.created_at == utc(2026y / March / 2, 9h + 15min));
        CHECK(p.updated_at == utc(2026y / March / 2, 10h + 250ms));
    }
    SUBCASE("updated_at is the later of confirmed_at and denied_at") {
        auto const denied_later = decoded<Truust>(
            R"({"data":{"id":1,"status":"DENIED","confirmed_at":"2026-03-03T10:00:00Z","denied_at":"2026-03-04T10:00:00Z"}})");
        CHECK(denied_later.updated_at == utc(2026y / March / 4, 10h));
        auto const confirmed_later = decoded<Truust>(
            R"({"data":{"id":1,"status":"CONFIRMED","denied_at":"2026-03-03T10:00:00Z","confirmed_at":"2026-03-05T08:00:00+05:00"}})");
        CHECK(confirmed_later.updated_at == utc(2026y / March / 5, 3h));
        auto const neither = decoded<Truust>(
            R"({"data":{"id":1,"status":"CREATED","confirmed_at":null,"denied_at":null}})");
        CHECK_FALSE(neither.updated_at.has_value());
    }
    SUBCASE("data null falls back to nothing") {
        auto const msg = refused<Truust>(R"({"data":null})");
        CHECK_CONTAINS(msg, "missing");
    }
    SUBCASE("an id the id rule refuses does not decode (requests refuse it too)") {
        for (std::string_view id : {"-5", "-0", "0", "\"-5\"", "\"0\"", "\"abc\"", "\"0789\"",
                                    "\"+5\"", "\" 5\"", "\"5 \"", "\"1e3\"", "\"\\u0035x\""}) {
            CAPTURE(id);
            auto const msg =
                refused<Truust>(R"({"data":{"id":)" + std::string(id) + R"(,"status":"CREATED"}})");
            CHECK_CONTAINS(msg, "/data/id: expected a positive integer id");
            CHECK(msg.find("/data/id") == 0);
        }
        CHECK_CONTAINS(refused<Truust>(R"({"id":-1,"status":"CREATED"})"),
                       "/id: expected a positive integer id");
        CHECK(decoded<Truust>(R"({"data":{"id":1,"status":"CREATED"}})").id == "1");
        CHECK(decoded<Truust>(R"({"data":{"id":"\u0035","status":"CREATED"}})").id == "5");
    }
    SUBCASE("what is missing is named where it was looked for") {
        // No envelope: the payout is the root object.
        auto const root = refused<Truust>(R"({"status":"CREATED","reference":"R-1"})");
        CHECK_CONTAINS(root, "missing /id (the payout id)");
        CHECK_FALSE(contains(root, "/data"));
        CHECK_CONTAINS(refused<Truust>(R"({"id":789})"), "missing /status (the payout status)");
        CHECK_CONTAINS(refused<Truust>(R"({})"), "missing /id (the payout id)");
        CHECK_CONTAINS(refused<Truust>(R"({"data":null,"status":"CREATED"})"), "missing /id (");
        // With the envelope: inside it.
        CHECK_CONTAINS(refused<Truust>(R"({"data":{"id":789}})"),
                       "missing /data/status (the payout status)");
        CHECK_CONTAINS(refused<Truust>(R"({"data":{}})"), "missing /data/id (the payout id)");
        CHECK_CONTAINS(refused<Truust>(R"({"data":{"status":"CREATED"},"x":1})"),
                       "missing /data/id (the payout id)");
        // A required envelope is always where the fields are looked for.
        CHECK_CONTAINS(refused<Introw>(R"({"id":"pay_1","stage":"PAID"})"), "missing /data/id");
    }
    SUBCASE("the envelope as a string") {
        CHECK_CONTAINS(refused<Truust>(R"({"data":"789"})"), "/data: expected an object");
    }
}

TEST_CASE("string ids follow the provider's id rule: length, no dot segments") {
    auto const body = [](std::string const& id) {
        return R"({"id":")" + id + R"(","status":"Paid"})";
    };
    CHECK(decoded<Checkout>(body(std::string(Checkout::id.max_length, 'p'))).id.size() ==
          Checkout::id.max_length);
    CHECK_CONTAINS(refused<Checkout>(body(std::string(Checkout::id.max_length + 1, 'p'))),
                   "/id: expected an id of 1 to 64 bytes, got the string \"ppp");
    CHECK_CONTAINS(refused<Checkout>(body(".")), "/id: expected an id other than \".\" and \"..\"");
    CHECK_CONTAINS(refused<Checkout>(body("..")), "/id: expected an id other than");
    CHECK(decoded<Checkout>(body("...")).id == "...");
    // Decoded before the rule applies: an escaped dot is a dot.
    CHECK_CONTAINS(refused<Checkout>(body("\\u002e")), "/id: expected an id other than");
    // A numeric id is its decimal text, under the same rule.
    CHECK(decoded<Checkout>(R"({"id":12,"status":"Paid"})").id == "12");
}

TEST_CASE("Checkout: reason (response_summary) only for failed payouts; Checkout exponents") {
    SUBCASE("Declined keeps its response_summary") {
        auto const p = decoded<Checkout>(
            R"({"id":"pay_pqs7xe7b5foerik2qa2udaffui","status":"Declined","amount":100,"currency":"GBP","response_code":"50001","response_summary":"Compliance Error"})");
        CHECK(p.status == payout_status::failed);
        CHECK(p.reason == "Compliance Error");
        check_money(p.amount, 100, 2, "GBP");
    }
    SUBCASE("Expired is failed and keeps it too") {
        auto const p =
            decoded<Checkout>(R"({"id":"pay_1","status":"Expired","response_summary":"Timeout"})");
        CHECK(p.status == payout_status::failed);
        CHECK(p.reason == "Timeout");
    }
    SUBCASE("Paid and Returned drop \"Approved\"") {
        auto const paid =
            decoded<Checkout>(R"({"id":"pay_1","status":"Paid","response_summary":"Approved"})");
        CHECK(paid.status == payout_status::paid);
        CHECK_FALSE(paid.reason.has_value());
        auto const returned = decoded<Checkout>(
            R"({"id":"pay_1","status":"Returned","response_summary":"Approved"})");
        CHECK_FALSE(returned.reason.has_value());
    }
    SUBCASE("amounts use Checkout's own exponent table") {
        auto const with = [](std::string_view cur, std::string_view amount) {
            return R"({"id":"pay_1","status":"Paid","amount":)" + std::string(amount) +
                   R"(,"currency":")" + std::string(cur) + R"("})";
        };
        check_money(decoded<Checkout>(with("JPY", "1500")).amount, 1500, 0, "JPY");
        check_money(decoded<Checkout>(with("KWD", "12340")).amount, 12340, 3, "KWD");
        check_money(decoded<Checkout>(with("CLP", "150000")).amount, 150000, 2, "CLP");
        check_money(decoded<Checkout>(with("EUR", "0")).amount, 0, 2, "EUR");
        CHECK(decoded<Checkout>(with("CLP", "150000")).amount->minor_units().value() == 1500);
        CHECK(decoded<Checkout>(with("CLP", "150050")).amount->minor_units().error() ==
              errc::inexact_amount);
    }
    SUBCASE("minor-unit amounts may be digit strings") {
        check_money(
            decoded<Checkout>(R"({"id":"pay_1","status":"Paid","amount":"100","currency":"GBP"})")
                .amount,
            100, 2, "GBP");
    }
}

TEST_CASE("escapes: keys still match, values are unescaped") {
    SUBCASE("an escaped key") {
        auto const p = decoded<Checkout>(R"({"id":"pay_1","st\u0061tus":"Paid"})");
        CHECK(p.status == payout_status::paid);
    }
    SUBCASE("a key that starts with an escape, and escapes on the envelope path") {
        auto const p = decoded<Druo>(
            R"({"p\u0061yout":{"\u0075uid":"trx_1","status":"PENDING","currency":{"c\u006fde":"USD"},"amount":5}})");
        CHECK(p.id == "trx_1");
        CHECK(p.status == payout_status::pending);
        check_money(p.amount, 5, 2, "USD");
    }
    SUBCASE("an escaped key that is not a mapped key") {
        auto const msg = refused<Checkout>(R"({"id":"pay_1","st\u0061tu":"Paid"})");
        CHECK_CONTAINS(msg, "missing /status");
    }
    SUBCASE("escaped values") {
        auto const p = decoded<Checkout>(
            R"({"id":"pay_\u0031","status":"P\u0061id","reference":"A\"B\\C\/D\n\u00e9\ud83d\ude00"})");
        CHECK(p.id == "pay_1");
        CHECK(p.provider_status == "Paid");
        CHECK(p.status == payout_status::paid);
        CHECK(p.reference == "A\"B\\C/D\n\xC3\xA9\xF0\x9F\x98\x80");
    }
    SUBCASE("long escaped values that the parser hands over in pieces") {
        std::string escaped, plain;
        for (int i = 0; i < 5000; ++i) {
            escaped += "ab\\u0041\\\"";
            plain += "abA\"";
        }
        auto const p =
            decoded<Yuno>(R"({"id":"p","status":"DECLINED","merchant_reference":")" + escaped +
                          R"(","transactions":[{"provider_data":{"status_detail":")" + escaped +
                          R"("}},{"provider_data":{"status_detail":")" + escaped + "x\"}}]}");
        CHECK(p.reference == plain);
        CHECK(p.reason == plain + "x");
    }
    SUBCASE("a long unescaped mapped value") {
        std::string const long_ref(100000, 'r');
        auto const p =
            decoded<Checkout>(R"({"id":"pay_1","status":"Paid","reference":")" + long_ref + "\"}");
        CHECK(p.reference == long_ref);
    }
}

TEST_CASE("unknown statuses keep the provider's text; matching is exact") {
    auto const p = decoded<Checkout>(R"({"id":"pay_1","status":"Retry Scheduled"})");
    CHECK(p.status == payout_status::unknown);
    CHECK(p.provider_status == "Retry Scheduled");
    CHECK(decoded<Checkout>(R"({"id":"pay_1","status":"PAID"})").status == payout_status::unknown);
    CHECK(decoded<Checkout>(R"({"id":"pay_1","status":"Paid "})").status == payout_status::unknown);
    CHECK(decoded<Introw>(R"({"data":{"id":"pay_1","stage":"paid"}})").status ==
          payout_status::unknown);
}

TEST_CASE("the same body decodes the same way twice; decode keeps no state") {
    auto const body = fixture("yuno/create-payout-201-declined-amount-zero.json");
    auto const a = decoded<Yuno>(body);
    auto const b = decoded<Yuno>(body);
    CHECK(a.id == b.id);
    CHECK(a.reason == b.reason);
    CHECK(a.amount == b.amount);
    CHECK(a.created_at == b.created_at);
    // A body decoded after a failure is unaffected by it.
    refused<Yuno>("{\"id\": 1,");
    CHECK(decoded<Yuno>(body).reason == "Errors. amount :: must be greater than 0");
}
