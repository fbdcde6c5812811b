// What must hold for any input, checked by the libFuzzer targets and replayed on saved crashers
// by tests/test_fuzz_regressions.cpp. Each returns an empty string when the invariants hold, or
// says which one broke.
#pragma once

#include <payouts/payouts.hpp>

#include <string>
#include <string_view>

namespace payouts_fuzz {

// decode<P>: failure is always invalid_response with a message; success has an id and a
// status, keeps the body as raw, and amounts follow the model's scale rule.
template <class P>
std::string check_decode(std::string_view body) {
    payouts::diagnostics diag;
    auto r = payouts::decode<P>(body, diag);
    if (!r) {
        if (r.error() != payouts::errc::invalid_response) return "unexpected error code";
        if (diag.message.empty()) return "error without a message";
        return {};
    }
    if (r->id.empty() || r->provider_status.empty()) return "payout without id or status";
    if (r->raw != body) return "raw differs from the body";
    if (r->amount) {
        auto const& m = *r->amount;
        if (m.scale < payouts::iso4217_exponent(m.currency) || m.scale > 18 ||
            !payouts::is_currency_code(m.currency))
            return "amount breaks the scale rule";
    }
    return {};
}

// The converters: what parses, printed back, parses to the same value.
inline std::string check_convert(std::string_view s) {
    using payouts::time_format;
    for (auto f :
         {time_format::strict, time_format::zoneless_is_utc | time_format::seconds_optional}) {
        if (auto t = payouts::parse_rfc3339(s, f)) {
            auto const again = payouts::parse_rfc3339(payouts::format_rfc3339(*t));
            if (!again || *again != *t) return "timestamp does not round-trip";
        }
    }
    if (auto d = payouts::parse_decimal(s)) {
        payouts::money const m{d->units, d->scale, "XXX"};
        auto const again = payouts::parse_decimal(m.to_decimal_string());
        if (!again || *again != *d) return "decimal does not round-trip";
    }
    if (auto i = payouts::parse_int64(s)) {
        auto const again = payouts::parse_int64(std::to_string(*i));
        if (!again || *again != *i) return "integer does not round-trip";
    }
    return {};
}

} // namespace payouts_fuzz
