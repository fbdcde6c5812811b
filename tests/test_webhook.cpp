// decode_webhook<P>: every published webhook body, signed here with a test key, verifies and
// decodes to the event written out below; anything not signed with a given secret, or signed
// but not a payout event, is refused with its own error and a message that leaks no secret.
#include <payouts/diagnostics.hpp>
#include <payouts/error.hpp>
#include <payouts/payout.hpp>
#include <payouts/providers/checkout.hpp>
#include <payouts/providers/druo.hpp>
#include <payouts/providers/introw.hpp>
#include <payouts/providers/truust.hpp>
#include <payouts/providers/yuno.hpp>
#include <payouts/webhook.hpp>

#include <boost/beast/http/fields.hpp>

#include "../tools/common/hmac.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstdint>
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

// A published webhook body, byte for byte.
std::string fixture(std::string_view name) {
    return test_support::fixture("webhooks/" + std::string(name));
}
using test_support::check_money;
using test_support::contains;
using test_support::edited;
using test_support::utc;

// The test's own HMAC-SHA256, independent of the library's verifier.
using payouts_tools::hmac_base64;
using payouts_tools::hmac_hex;

// Sample keys from the providers' own documentation:
// https://www.checkout.com/docs/developer-resources/webhooks/manage-webhooks and
// https://github.com/yuno-payments/yuno-docs/blob/a6cb7de6/openapi/webhooks/manage-webhooks.json
constexpr std::string_view checkout_key = "8V8x0dLK%AyD*DNS8JJr";
constexpr std::string_view yuno_key = "my-hmac-secret";

template <class P>
std::string sign(std::string_view key, std::string_view body) {
    return P::webhook::signature.encoding == signature_encoding::hex ? hmac_hex(key, body)
                                                                     : hmac_base64(key, body);
}

// Decodes a body that must verify and decode; checks what holds for every event.
template <class P>
webhook_event accepted(std::string_view body, std::vector<header> const& headers,
                       std::vector<std::string_view> const& secrets) {
    diagnostics diag;
    diag.message = "stale";
    auto const r = decode_webhook<P>(body, headers, secrets, diag);
    INFO("diagnostics: " << diag.message);
    REQUIRE(r.has_value());
    CHECK(diag.message.empty());
    CHECK(r->payout.provider == P::name);
    CHECK(r->payout.raw == body);
    CHECK_FALSE(r->payout.request_id.has_value());
    CHECK_FALSE(r->event_id.empty());
    CHECK_FALSE(r->event_type.empty());
    auto const plain = decode_webhook<P>(body, headers, secrets);
    REQUIRE(plain.has_value());
    CHECK(plain->event_id == r->event_id);
    return *r;
}

template <class P>
webhook_event accepted(std::string_view body, std::string_view key) {
    std::string const sig = sign<P>(key, body);
    return accepted<P>(body, {{P::webhook::signature.header, sig}}, {key});
}

// A webhook that must be refused with `code`; returns the diagnostics message, which must not
// contain any of `secrets` nor any secret's digest of the body.
template <class P>
std::string refused(std::string_view body, std::vector<header> const& headers,
                    std::vector<std::string_view> const& secrets, errc code) {
    diagnostics diag;
    auto const r = decode_webhook<P>(body, headers, secrets, diag);
    REQUIRE_MESSAGE(!r.has_value(), "decoded as an event with id \"" << r->event_id << "\"");
    CHECK(r.error() == code);
    CHECK_FALSE(diag.message.empty());
    for (auto s : secrets) {
        if (s.empty()) continue;
        CHECK_FALSE(contains(diag.message, s));
        CHECK_FALSE(contains(diag.message, hmac_hex(s, body)));
        CHECK_FALSE(contains(diag.message, hmac_base64(s, body)));
        CHECK_FALSE(contains(diag.message, hmac_hex(s, body).substr(0, 16)));
    }
    auto const plain = decode_webhook<P>(body, headers, secrets);
    REQUIRE_FALSE(plain.has_value());
    CHECK(plain.error() == code);
    return diag.message;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// The test's HMAC against vectors computed independently (Python's hmac and OpenSSL agree).

TEST_CASE("the test's HMAC helper reproduces the published test vectors") {
    CHECK(hmac_hex(checkout_key, fixture("checkout/webhook-payment-paid-bank-payout.json")) ==
          "6da7309de691df32a0ab507ba0ade3572474109cbbeda4838cebca569ee8d22e");
    CHECK(hmac_hex(checkout_key, fixture("checkout/webhook-payment-returned-bank-payout.json")) ==
          "b0073f788b3f5419245a7567c99a0a428160dda10c938eb4996d47df626ee1ed");
    CHECK(hmac_base64(yuno_key, fixture("yuno/webhook-payout-succeeded-v2.json")) ==
          "voTeYLqfjCmhnGK/N4/dSMtM7Ooce+yP7MNxh6T49L4=");
}

// ---------------------------------------------------------------------------------------------
// Checkout.com: every published body

TEST_CASE("Checkout: payment_paid, bank payout (an independent test vector)") {
    auto const body = fixture("checkout/webhook-payment-paid-bank-payout.json");
    auto const e = accepted<Checkout>(
        body,
        {{"Cko-Signature", "6da7309de691df32a0ab507ba0ade3572474109cbbeda4838cebca569ee8d22e"}},
        {checkout_key});
    CHECK(e.event_id == "evt_hbnxegj3dqyu5fsd4p2b4bxvpa");
    CHECK(e.event_type == "payment_paid");
    auto const& p = e.payout;
    CHECK(p.id == "pay_g2fmfh6hwj4eho5lm7jrxu4pne");
    CHECK(p.status == payout_status::paid);
    CHECK(p.provider_status == "payment_paid");
    check_money(p.amount, 10, 2, "USD"); // 10 minor units: USD 0.10
    CHECK(p.reference == "Payouts - US Testing");
    CHECK_FALSE(p.reason.has_value()); // "Approved" is no reason
    CHECK_FALSE(p.created_at.has_value());
    // The latest of processed_on (.4885594) and created_on (.889).
    CHECK(p.updated_at == utc(2024y / November / 12, 17h + 56min + 40s + 889ms));
}

TEST_CASE("Checkout: payment_paid, card payout (no reference)") {
    auto const e =
        accepted<Checkout>(fixture("checkout/webhook-payment-paid-card-payout.json"), checkout_key);
    CHECK(e.event_id == "evt_hbnxegj3dqyu5fsd4p2b4bxvpa");
    CHECK(e.event_type == "payment_paid");
    CHECK(e.payout.id == "pay_fk234x52k6i4rmjmqnzx474fqi");
    CHECK(e.payout.status == payout_status::paid);
    CHECK(e.payout.provider_status == "payment_paid");
    check_money(e.payout.amount, 115, 2, "DKK");
    CHECK_FALSE(e.payout.reference.has_value());
    CHECK_FALSE(e.payout.reason.has_value());
    CHECK_FALSE(e.payout.created_at.has_value());
    CHECK(e.payout.updated_at == utc(2019y / December / 11, 8h + 59min + 40s));
}

TEST_CASE("Checkout: payment_declined, card payout (reason)") {
    auto const e = accepted<Checkout>(fixture("checkout/webhook-payment-declined-card-payout.json"),
                                      checkout_key);
    CHECK(e.event_id == "evt_pktvel6mu4pe7ccp2fj2eptd5e");
    CHECK(e.event_type == "payment_declined");
    CHECK(e.payout.id == "pay_3tg7yzq34lmmpdn2exmgjm4fvm");
    CHECK(e.payout.status == payout_status::failed);
    CHECK(e.payout.provider_status == "payment_declined");
    check_money(e.payout.amount, 20005, 2, "DKK");
    CHECK(e.payout.reference == "example payout");
    CHECK(e.payout.reason == "Declined - Do Not Honour");
    CHECK_FALSE(e.payout.created_at.has_value());
    CHECK(e.payout.updated_at == utc(2019y / December / 11, 9h + 0min + 10s));
}

TEST_CASE("Checkout: payment_returned (an independent test vector; \"Approved\" is no reason)") {
    auto const body = fixture("checkout/webhook-payment-returned-bank-payout.json");
    auto const e = accepted<Checkout>(
        body,
        {{"Cko-Signature", "b0073f788b3f5419245a7567c99a0a428160dda10c938eb4996d47df626ee1ed"}},
        {checkout_key});
    CHECK(e.event_id == "evt_z5w4pkadoi3u5hu5lmlklwrxla");
    CHECK(e.event_type == "payment_returned");
    CHECK(e.payout.id == "pay_3tg7yzq34lmmpdn2exmgjm4fvm");
    CHECK(e.payout.status == payout_status::returned);
    CHECK(e.payout.provider_status == "payment_returned");
    check_money(e.payout.amount, 8130, 2, "GBP");
    CHECK(e.payout.reference == "Calibra's reference");
    CHECK_FALSE(e.payout.reason.has_value());
    CHECK_FALSE(e.payout.created_at.has_value());
    // As published, processed_on (2020) is later than the event's created_on (2018).
    CHECK(e.payout.updated_at == utc(2020y / April / 22, 9h + 0min + 10s));
}

TEST_CASE("Checkout: payout_paid, Platforms (payout_id, instruction amount)") {
    auto const e =
        accepted<Checkout>(fixture("checkout/webhook-payout-paid-platform.json"), checkout_key);
    CHECK(e.event_id == "evt_3o4xf7u6hdcezk42o6gxkt3ny4");
    CHECK(e.event_type == "payout_paid");
    CHECK(e.payout.id == "pay_mvxjy4gkdk26j5di4r4k4nldwu");
    CHECK(e.payout.status == payout_status::paid);
    CHECK(e.payout.provider_status == "payout_paid");
    check_money(e.payout.amount, 100, 2, "GBP");
    CHECK_FALSE(e.payout.reference.has_value());
    CHECK_FALSE(e.payout.reason.has_value());
    CHECK_FALSE(e.payout.created_at.has_value());
    // created_on .546848Z is later than processed_on 14:43:27.0078318+00:00.
    CHECK(e.payout.updated_at == utc(2022y / June / 27, 14h + 43min + 29s + 546848us));
}

TEST_CASE("Checkout: payout_declined, Platforms (7 fraction digits kept)") {
    auto const e = accepted<Checkout>(
        fixture("checkout/webhook-payout-declined-compliance-error.json"), checkout_key);
    CHECK(e.event_id == "evt_wa4t2e7ygtouhhxsiyesgjc2ta");
    CHECK(e.event_type == "payout_declined");
    CHECK(e.payout.id == "pay_pqs7xe7b5foerik2qa2udaffui");
    CHECK(e.payout.status == payout_status::failed);
    CHECK(e.payout.provider_status == "payout_declined");
    check_money(e.payout.amount, 100, 2, "GBP");
    CHECK_FALSE(e.payout.reference.has_value());
    CHECK(e.payout.reason == "Compliance Error");
    CHECK_FALSE(e.payout.created_at.has_value());
    CHECK(e.payout.updated_at == utc(2022y / June / 27, 14h + 10min + 0s + 196629400ns));
}

TEST_CASE("Checkout: the event-type table; any other type is unknown with its name kept") {
    auto const base = fixture("checkout/webhook-payment-declined-card-payout.json");
    struct row {
        std::string_view type;
        payout_status status;
        bool reason;
    };
    for (auto [type, status, reason] : {
             row{"payment_paid", payout_status::paid, false},
             row{"payment_declined", payout_status::failed, true},
             row{"payment_returned", payout_status::returned, false},
             row{"payout_paid", payout_status::paid, false},
             row{"payout_declined", payout_status::failed, true},
             row{"card_verified", payout_status::unknown, false},
             row{"payment_pending", payout_status::unknown, false},
             row{"Payment_Paid", payout_status::unknown, false}, // exact, case-sensitive
         }) {
        CAPTURE(type);
        auto const body = edited(base, "\"payment_declined\"", "\"" + std::string(type) + "\"");
        auto const e = accepted<Checkout>(body, checkout_key);
        CHECK(e.event_type == type);
        CHECK(e.payout.provider_status == type);
        CHECK(e.payout.status == status);
        CHECK(e.payout.reason.has_value() == reason);
        CHECK(e.payout.id == "pay_3tg7yzq34lmmpdn2exmgjm4fvm");
    }
}

TEST_CASE("Checkout: envelope variants (timestamp for created_on)") {
    auto const body = edited(fixture("checkout/webhook-payout-paid-platform.json"),
                             "\"created_on\":\"2022-06-27T14:43:29.546848Z\"",
                             "\"timestamp\":\"2022-06-27T14:43:29.5468489Z\"");
    auto const e = accepted<Checkout>(body, checkout_key);
    CHECK(e.payout.updated_at == utc(2022y / June / 27, 14h + 43min + 29s + 546848900ns));
}

TEST_CASE("Checkout: an event of another type need not name a payout; a payout event must") {
    // Built by us: an event about no payment at all, in Checkout's envelope.
    std::string const other =
        R"({"id":"evt_az5sblvku4ge3dwpztvyizgcau","type":"account_updated",)"
        R"("created_on":"2024-02-01T10:00:00Z","data":{"entity_id":"ent_x"}})";
    auto const e = accepted<Checkout>(other, checkout_key);
    CHECK(e.event_id == "evt_az5sblvku4ge3dwpztvyizgcau");
    CHECK(e.payout.status == payout_status::unknown);
    CHECK(e.payout.provider_status == "account_updated");
    CHECK(e.payout.id.empty());
    CHECK(e.payout.raw == other);

    // The same envelope with a payout event's type: the payout id is required.
    auto const paid = edited(other, "account_updated", "payment_paid");
    CHECK_CONTAINS(refused<Checkout>(paid, {{"Cko-Signature", sign<Checkout>(checkout_key, paid)}},
                                     {checkout_key}, errc::invalid_response),
                   "missing /data/id or /data/payout_id (the payout id)");
}

// ---------------------------------------------------------------------------------------------
// Yuno

TEST_CASE("Yuno: payout.payout SUCCEEDED (an independent test vector; derived event id)") {
    auto const body = fixture("yuno/webhook-payout-succeeded-v2.json");
    auto const e = accepted<Yuno>(
        body, {{"x-hmac-signature", "voTeYLqfjCmhnGK/N4/dSMtM7Ooce+yP7MNxh6T49L4="}}, {yuno_key});
    CHECK(e.event_type == "payout.payout");
    CHECK(e.event_id == "payout.payout:0cbc7bd4-04f3-4897-b3c6-4d5f36a6b9a7:SUCCEEDED:"
                        "2024-05-27T19:10:33.757143Z");
    auto const& p = e.payout;
    CHECK(p.id == "0cbc7bd4-04f3-4897-b3c6-4d5f36a6b9a7");
    CHECK(p.status == payout_status::paid);
    CHECK(p.provider_status == "SUCCEEDED");
    check_money(p.amount, 10000, 2, "BRL");
    CHECK(p.reference == "MR-12345");
    CHECK_FALSE(p.reason.has_value());
    CHECK(p.created_at == utc(2024y / May / 27, 19h + 10min + 32s + 494514us));
    CHECK(p.updated_at == utc(2024y / May / 27, 19h + 10min + 33s + 757143us));
}

TEST_CASE("Yuno: PENDING + AUTHORIZED is on_hold (a body variant built by us)") {
    // Built by us from the published body: status PENDING, latest transaction AUTHORIZED.
    auto body = edited(fixture("yuno/webhook-payout-succeeded-v2.json"),
                       "\"status\": \"SUCCEEDED\",\n    \"merchant_reference\"",
                       "\"status\": \"PENDING\",\n    \"merchant_reference\"");
    body = edited(body, "\"response_code\": \"SUCCEEDED\"", "\"response_code\": \"AUTHORIZED\"");
    body = edited(body, "\"updated_at\": \"2024-05-27T19:10:33.757143Z\"",
                  "\"updated_at\": \"2024-05-27T19:10:33.757143001Z\"");
    auto const e = accepted<Yuno>(body, yuno_key);
    CHECK(e.payout.status == payout_status::on_hold);
    CHECK(e.payout.provider_status == "PENDING");
    CHECK(e.event_id == "payout.payout:0cbc7bd4-04f3-4897-b3c6-4d5f36a6b9a7:PENDING:"
                        "2024-05-27T19:10:33.757143001Z");
    CHECK(e.payout.updated_at == utc(2024y / May / 27, 19h + 10min + 33s + 757143001ns));

    // The same PENDING with another latest response code is processing.
    auto const other = edited(body, "\"AUTHORIZED\"", "\"PENDING_PROVIDER_CONFIRMATION\"");
    CHECK(accepted<Yuno>(other, yuno_key).payout.status == payout_status::processing);
    // And a failure keeps its reason (Yuno's own reason rule).
    auto const rejected =
        edited(edited(body, "\"status\": \"PENDING\"", "\"status\": \"REJECTED\""),
               "\"status_detail\": \"APPROVED\"", "\"status_detail\": \"INSUFFICIENT_FUNDS\"");
    auto const r = accepted<Yuno>(rejected, yuno_key);
    CHECK(r.payout.status == payout_status::failed);
    CHECK(r.payout.reason == "INSUFFICIENT_FUNDS");
}

TEST_CASE("Yuno: a payout field of the wrong type names its full pointer") {
    auto const body = edited(fixture("yuno/webhook-payout-succeeded-v2.json"),
                             "\"value\": 100\n    },\n    \"beneficiary\"",
                             "\"value\": \"100\"\n    },\n    \"beneficiary\"");
    auto const msg = refused<Yuno>(body, {{"x-hmac-signature", hmac_base64(yuno_key, body)}},
                                   {yuno_key}, errc::invalid_response);
    CHECK_CONTAINS(msg, "/data/amount/value: expected a JSON number");
}

// ---------------------------------------------------------------------------------------------
// Signatures

TEST_CASE("signature: one byte changed, a wrong key, a re-spaced body") {
    auto const body = fixture("checkout/webhook-payment-paid-bank-payout.json");
    std::string const sig = hmac_hex(checkout_key, body);
    std::vector<header> const headers{{"Cko-Signature", sig}};

    auto changed = body;
    changed[body.find("10,")] = '9'; // amount 10 -> 90
    CHECK_CONTAINS(refused<Checkout>(changed, headers, {checkout_key}, errc::invalid_signature),
                   "Cko-Signature matches none of the 1 secret");

    CHECK_CONTAINS(
        refused<Checkout>(body, headers, {"8V8x0dLK%AyD*DNS8JJR"}, errc::invalid_signature),
        "matches none");

    // The same JSON value in other bytes does not verify: the signature covers the raw bytes.
    auto const respaced = edited(body, "\"amount\": 10,", "\"amount\":10,");
    refused<Checkout>(respaced, headers, {checkout_key}, errc::invalid_signature);
    auto const trailing = body + "\n";
    refused<Checkout>(trailing, headers, {checkout_key}, errc::invalid_signature);
    auto const bom = "\xEF\xBB\xBF" + body;
    refused<Checkout>(bom, headers, {checkout_key}, errc::invalid_signature);
}

TEST_CASE("signature: missing header, and a header given twice") {
    auto const body = fixture("checkout/webhook-payment-paid-bank-payout.json");
    std::string const sig = hmac_hex(checkout_key, body);
    CHECK(refused<Checkout>(body, {}, {checkout_key}, errc::invalid_signature) ==
          "missing header Cko-Signature");
    CHECK(refused<Checkout>(body, {{"Content-Type", "application/json"}, {"Authorization", sig}},
                            {checkout_key},
                            errc::invalid_signature) == "missing header Cko-Signature");
    // Yuno's header name on a Checkout request is not Checkout's.
    refused<Checkout>(body, {{"x-hmac-signature", sig}}, {checkout_key}, errc::invalid_signature);
    CHECK_CONTAINS(refused<Checkout>(body, {{"Cko-Signature", sig}, {"cko-signature", sig}},
                                     {checkout_key}, errc::invalid_signature),
                   "given 2 times");
}

TEST_CASE("signature: header names are case-blind, hex is case-blind, OWS is trimmed") {
    auto const body = fixture("checkout/webhook-payment-paid-card-payout.json");
    std::string const sig = hmac_hex(checkout_key, body);
    std::string upper = sig;
    for (char& c : upper)
        if (c >= 'a' && c <= 'f') c = char(c - 'a' + 'A');
    REQUIRE(upper != sig);
    for (std::string_view name : {"cko-signature"sv, "CKO-SIGNATURE"sv, "cKo-SiGnAtUrE"sv})
        accepted<Checkout>(body, {{name, sig}}, {checkout_key});
    accepted<Checkout>(body, {{"Cko-Signature", upper}}, {checkout_key});
    accepted<Checkout>(body, {{"Cko-Signature", " \t" + sig + " "}}, {checkout_key});

    auto const ybody = fixture("yuno/webhook-payout-succeeded-v2.json");
    accepted<Yuno>(ybody, {{"X-HMAC-Signature", hmac_base64(yuno_key, ybody)}}, {yuno_key});
}

TEST_CASE("signature: malformed hex") {
    auto const body = fixture("checkout/webhook-payment-paid-card-payout.json");
    std::string const sig = hmac_hex(checkout_key, body);
    auto check = [&](std::string const& value, std::string_view why) {
        CAPTURE(value);
        auto const msg = refused<Checkout>(body, {{"Cko-Signature", value}}, {checkout_key},
                                           errc::invalid_signature);
        CHECK_CONTAINS(msg, "malformed Cko-Signature: ");
        CHECK_CONTAINS(msg, why);
    };
    check(sig.substr(1), "got 63 characters");                   // odd length
    check(sig.substr(0, 62), "got 62 characters");               // a digest too short
    check(sig + "00", "got 66 characters");                      // too long
    check(sig.substr(0, 63) + "g", "not a hex digit");           // non-hex
    check("sha256=" + sig.substr(7), "not a hex digit");         // a prefix we do not strip
    check("", "got 0 characters");                               // empty
    check(hmac_base64(checkout_key, body), "got 44 characters"); // the other encoding
    check(payouts_tools::hex_lower(payouts_tools::hmac_sha256(checkout_key, body).substr(0, 20)),
          "got 40 characters"); // SHA-1 size
}

TEST_CASE("signature: malformed Base64") {
    auto const body = fixture("yuno/webhook-payout-succeeded-v2.json");
    std::string const sig = hmac_base64(yuno_key, body);
    REQUIRE(sig.size() == 44);
    REQUIRE(sig.back() == '=');
    auto check = [&](std::string const& value, std::string_view why) {
        CAPTURE(value);
        auto const msg =
            refused<Yuno>(body, {{"x-hmac-signature", value}}, {yuno_key}, errc::invalid_signature);
        CHECK_CONTAINS(msg, "malformed x-hmac-signature: ");
        CHECK_CONTAINS(msg, why);
    };
    check(sig.substr(0, 43), "got 43");             // padding dropped
    check(sig + "=", "got 45");                     // extra padding
    check(sig.substr(0, 43) + "A", "bad padding");  // no '=' where it belongs
    check(sig.substr(0, 42) + "==", "bad padding"); // '=' inside the digest
    check(sig.substr(0, 10) + "*" + sig.substr(11), "outside the Base64 alphabet");
    check(sig.substr(0, 10) + "-" + sig.substr(11), "outside the Base64 alphabet"); // base64url
    check(hmac_hex(yuno_key, body), "got 64"); // the other encoding
    check(payouts_tools::base64(payouts_tools::hmac_sha256(yuno_key, body).substr(0, 31)),
          "bad padding"); // 31 bytes: "...=="
    // Non-canonical: the last character's unused bits set (decodes to the same digest elsewhere).
    std::string noncanon = sig;
    static constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    noncanon[42] = alphabet[alphabet.find(sig[42]) ^ 1];
    check(noncanon, "not canonical");
}

TEST_CASE("signature: rotation, several secrets, empty secrets") {
    auto const body = fixture("checkout/webhook-payout-paid-platform.json");
    std::string const sig = hmac_hex("new-key", body);
    std::vector<header> const headers{{"Cko-Signature", sig}};
    // Only the second matches: accepted.
    accepted<Checkout>(body, headers, {"old-key", "new-key"});
    accepted<Checkout>(body, headers, {"new-key", "old-key"});
    accepted<Checkout>(body, headers, {"", "new-key"});
    CHECK_CONTAINS(
        refused<Checkout>(body, headers, {"old-key", "older-key"}, errc::invalid_signature),
        "matches none of the 2 secrets");
    CHECK(refused<Checkout>(body, headers, {}, errc::invalid_signature) == "no secrets given");
    CHECK_CONTAINS(refused<Checkout>(body, headers, {""}, errc::invalid_signature),
                   "an empty secret never matches");
    // An HMAC under the empty key never verifies either.
    CHECK_CONTAINS(refused<Checkout>(body, {{"Cko-Signature", hmac_hex("", body)}}, {""},
                                     errc::invalid_signature),
                   "no usable secret");
    // No secrets given is checked before the header.
    CHECK(refused<Checkout>(body, {}, {}, errc::invalid_signature) == "no secrets given");
}

TEST_CASE("signature: invalid_signature is its own code, under no condition") {
    error_code const ec = errc::invalid_signature;
    CHECK(ec.message() == "webhook signature did not verify");
    CHECK(ec != condition::retryable);
    CHECK(ec != condition::invalid_input);
    CHECK(ec != condition::auth);
    CHECK(ec != condition::not_found);
}

// ---------------------------------------------------------------------------------------------
// Verified, but not a payout event

TEST_CASE("a validly signed body that is not a payout event is invalid_response") {
    auto signed_refused = [](std::string const& body) {
        return refused<Checkout>(body, {{"Cko-Signature", hmac_hex(checkout_key, body)}},
                                 {checkout_key}, errc::invalid_response);
    };
    CHECK(signed_refused("") == "empty body");
    CHECK_CONTAINS(signed_refused("not json"), "malformed JSON at byte 0");
    CHECK_CONTAINS(signed_refused("{\"id\":\"evt_1\",\"type\":\"payment_paid\"}"),
                   "missing /data/id or /data/payout_id (the payout id)");
    CHECK_CONTAINS(signed_refused("{\"id\":\"evt_1\",\"data\":{\"id\":\"pay_1\"}}"),
                   "missing /type (the event type)");
    CHECK_CONTAINS(signed_refused("{\"type\":\"payment_paid\",\"data\":{\"id\":\"pay_1\"}}"),
                   "missing /id (the event id)");
    CHECK_CONTAINS(
        signed_refused("{\"id\":\"evt_1\",\"type\":\"payment_paid\",\"data\":{\"id\":\"pay_1\","
                       "\"amount\":true,\"currency\":\"USD\"}}"),
        "/data/amount: expected an integer or a digit string in minor units, got true");
    CHECK_CONTAINS(
        signed_refused("{\"id\":\"evt_1\",\"type\":\"payment_paid\",\"data\":{\"id\":\"pay_1\","
                       "\"amount\":10}}"),
        "/data/amount: an amount without a currency");
    // Amount alternatives pair up: a currency of one pair does not serve the other's amount.
    CHECK_CONTAINS(
        signed_refused("{\"id\":\"evt_1\",\"type\":\"payout_paid\",\"data\":{\"payout_id\":"
                       "\"pay_1\",\"currency\":\"GBP\",\"instruction\":{\"destination_amount\":"
                       "100,\"destination_currency\":\"GBP\"}}}"),
        "/data/currency: a currency without an amount");
    CHECK_CONTAINS(
        signed_refused("{\"id\":\"evt_1\",\"type\":\"payout_paid\",\"data\":{\"payout_id\":"
                       "\"pay_1\",\"instruction\":{\"destination_amount\":100}}}"),
        "/data/instruction/destination_amount: an amount without a currency");
    CHECK_CONTAINS(signed_refused("{\"id\":\"evt_1\",\"type\":7,\"data\":{\"id\":\"pay_1\"}}"),
                   "/type: expected a non-empty string, got the number 7");
    CHECK_CONTAINS(signed_refused("{\"id\":\"evt_1\",\"id\":\"evt_2\",\"type\":\"payment_paid\","
                                  "\"data\":{\"id\":\"pay_1\"}}"),
                   "/id: duplicate key");

    auto const ybody =
        std::string("{\"type_event\":\"payout.payout\",\"data\":{\"status\":\"X\"}}");
    auto const msg = refused<Yuno>(ybody, {{"x-hmac-signature", hmac_base64(yuno_key, ybody)}},
                                   {yuno_key}, errc::invalid_response);
    CHECK_CONTAINS(msg, "missing /data/id (the payout id)");
}

TEST_CASE("a minimal payout event decodes: amounts optional, other fields kept") {
    std::string const body = "{\"id\":\"evt_1\",\"type\":\"card_verified\",\"data\":{\"id\":"
                             "\"pay_1\",\"status\":\"Card Verified\"}}";
    auto const e = accepted<Checkout>(body, checkout_key);
    CHECK(e.event_id == "evt_1");
    CHECK(e.payout.status == payout_status::unknown);
    CHECK(e.payout.provider_status == "card_verified");
    CHECK_FALSE(e.payout.amount.has_value());
    CHECK_FALSE(e.payout.updated_at.has_value());

    // Both amount places given: the first pair in the map (data.amount) wins, exactly.
    std::string const both =
        "{\"id\":\"evt_2\",\"type\":\"payment_paid\",\"data\":{\"id\":\"pay_2\",\"amount\":"
        "9223372036854775807,\"currency\":\"KWD\",\"instruction\":{\"destination_amount\":1,"
        "\"destination_currency\":\"JPY\"}}}";
    check_money(accepted<Checkout>(both, checkout_key).payout.amount, 9223372036854775807, 3,
                "KWD");
}

// ---------------------------------------------------------------------------------------------
// Beast's fields

TEST_CASE("the boost::beast::http::fields overloads") {
    auto const body = fixture("yuno/webhook-payout-succeeded-v2.json");
    boost::beast::http::fields f;
    f.set(boost::beast::http::field::content_type, "application/json");
    f.set("X-Hmac-Signature", hmac_base64(yuno_key, body));
    std::array<std::string_view, 2> const secrets{"old", yuno_key};
    auto const r = decode_webhook<Yuno>(body, f, secrets);
    REQUIRE(r.has_value());
    CHECK(r->payout.id == "0cbc7bd4-04f3-4897-b3c6-4d5f36a6b9a7");
    diagnostics diag;
    auto const again = decode_webhook<Yuno>(body, f, secrets, diag);
    REQUIRE(again.has_value());
    CHECK(again->event_id == r->event_id);

    f.erase("x-hmac-signature");
    auto const missing = decode_webhook<Yuno>(body, f, secrets, diag);
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error() == errc::invalid_signature);
    CHECK(diag.message == "missing header x-hmac-signature");
}

// ---------------------------------------------------------------------------------------------
// Providers without webhooks

template <class P>
constexpr bool webhook_callable = requires(std::string_view b, std::span<header const> h,
                                           std::span<std::string_view const> s) {
    { decode_webhook<P>(b, h, s) } -> std::same_as<boost::system::result<webhook_event>>;
};

static_assert(webhook_provider<Checkout> && webhook_provider<Yuno>);
static_assert(!webhook_provider<Druo> && !webhook_provider<Truust> && !webhook_provider<Introw>);
static_assert(webhook_callable<Checkout> && webhook_callable<Yuno>);
// decode_webhook<Druo>(...) resolves to the overload whose static_assert says:
// "decode_webhook<P>: provider P has no webhook decoding. Its header's `webhook` derives from
// no_webhook (or is absent) because the provider documents no signing scheme or no payout event
// body, so a notification could not be verified; P::webhook::why says which. Poll with fetch<P>
// or watch<P> instead."
static_assert(!webhook_callable<Druo> && !webhook_callable<Truust> && !webhook_callable<Introw>);

TEST_CASE("providers without webhook decoding say why") {
    CHECK_FALSE(Druo::webhook::why.empty());
    CHECK_FALSE(Truust::webhook::why.empty());
    CHECK_FALSE(Introw::webhook::why.empty());
}
