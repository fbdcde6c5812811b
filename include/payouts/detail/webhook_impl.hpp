// The definitions behind <payouts/webhook.hpp>: signature verification (OpenSSL's HMAC over the
// raw body, digests compared with CRYPTO_memcmp) and the decode of a webhook body through the
// generic decoder, with a field map made from the provider's `webhook` block. Nothing here
// names a provider. In separate mode, a file that decodes webhooks of a provider of its own
// gets this header through <payouts/decode.hpp> (the built-in providers' are compiled in
// <payouts/src.hpp>).
#pragma once

#include <payouts/decode.hpp>
#include <payouts/webhook.hpp>

#include <boost/beast/core/string.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace payouts::detail {

inline constexpr std::size_t hmac_sha256_size = 32;
using hmac_digest = std::array<unsigned char, hmac_sha256_size>;

// Base16, either case, exactly one digest long. Empty on success, else what is wrong.
inline std::string decode_hex_digest(std::string_view s, hmac_digest& out) {
    if (s.size() != 2 * out.size())
        return "expected " + std::to_string(2 * out.size()) + " hex digits (an HMAC-SHA256), got " +
               std::to_string(s.size()) + " characters";
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < out.size(); ++i) {
        int const hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return "a character that is not a hex digit";
        out[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    return {};
}

// Standard Base64 with padding, canonical (the unused bits of the last character zero), exactly
// one digest long. Written here rather than with EVP_DecodeBlock, which pads its output and
// tolerates what a signature must not have.
inline std::string decode_base64_digest(std::string_view s, hmac_digest& out) {
    constexpr std::size_t chars = (hmac_sha256_size + 2) / 3 * 4; // 44
    constexpr std::size_t pad = chars / 4 * 3 - hmac_sha256_size; // 1
    if (s.size() != chars)
        return "expected " + std::to_string(chars) +
               " characters of padded Base64 (an HMAC-SHA256), got " + std::to_string(s.size());
    auto sextet = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    for (std::size_t i = 0; i < chars; ++i) {
        bool const padding = i >= chars - pad;
        if (padding ? s[i] != '=' : sextet(s[i]) < 0)
            return s[i] == '=' || padding ? "bad padding (one '=' at the end)"
                                          : "a character outside the Base64 alphabet";
    }
    std::size_t o = 0;
    for (std::size_t i = 0; i < chars; i += 4) {
        std::uint32_t v = 0;
        int n = 0; // sextets in this quantum
        for (std::size_t k = 0; k < 4; ++k) {
            int const x = s[i + k] == '=' ? 0 : sextet(s[i + k]);
            n += s[i + k] != '=';
            v = v << 6 | std::uint32_t(x);
        }
        unsigned char const bytes[3] = {static_cast<unsigned char>(v >> 16),
                                        static_cast<unsigned char>(v >> 8),
                                        static_cast<unsigned char>(v)};
        int const take = n - 1; // 4 sextets: 3 bytes; 3 sextets: 2 bytes
        for (int k = 0; k < take; ++k)
            out[o++] = bytes[k];
        if (take < 3 && bytes[take] != 0) return "not canonical Base64 (bits set after the digest)";
    }
    return {};
}

// Verifies `body` against the signature header; false with `why` set (never a secret or a
// digest in it). Every non-empty secret is tried, so the time taken does not say which matched.
inline bool verify_webhook_signature(std::string_view body, webhook_signature sig,
                                     std::span<header const> headers,
                                     std::span<std::string_view const> secrets, std::string& why) {
    std::size_t usable = 0;
    for (auto s : secrets)
        usable += !s.empty();
    if (secrets.empty()) {
        why = "no secrets given";
        return false;
    }
    if (usable == 0) {
        why = "no usable secret given (an empty secret never matches)";
        return false;
    }
    std::string_view value;
    int found = 0;
    for (auto const& [name, v] : headers)
        if (boost::beast::iequals(name, sig.header)) {
            value = v;
            ++found;
        }
    std::string const name(sig.header);
    if (found == 0) {
        why = "missing header " + name;
        return false;
    }
    if (found > 1) {
        why = "header " + name + " given " + std::to_string(found) + " times (expected once)";
        return false;
    }
    // Optional whitespace around a field value is not part of it (RFC 9110, 5.5).
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
    hmac_digest given{};
    std::string const bad = sig.encoding == signature_encoding::hex
                                ? decode_hex_digest(value, given)
                                : decode_base64_digest(value, given);
    if (!bad.empty()) {
        why = "malformed " + name + ": " + bad;
        return false;
    }
    bool match = false;
    for (auto secret : secrets) {
        if (secret.empty()) continue;
        hmac_digest expected{};
        unsigned int len = 0;
        bool const computed = HMAC(EVP_sha256(), secret.data(), int(secret.size()),
                                   reinterpret_cast<unsigned char const*>(body.data()), body.size(),
                                   expected.data(), &len) != nullptr &&
                              len == expected.size();
        bool const equal = CRYPTO_memcmp(expected.data(), given.data(), given.size()) == 0;
        match = match | (computed & equal);
        OPENSSL_cleanse(expected.data(), expected.size());
    }
    if (!match) {
        why = name + " matches none of the " + std::to_string(usable) +
              (usable == 1 ? " secret" : " secrets");
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// The decoder's view of a webhook body: a provider-shaped traits type whose field map is the
// webhook's `fields` (root_fields: from the document root), then, with `payout_object`, P's own
// fields and statuses with the payout object as the envelope.

template <class W>
concept has_payout_object = requires {
    { W::payout_object } -> std::convertible_to<std::string_view>;
};

template <class P>
constexpr std::string_view payout_object_of() {
    if constexpr (has_payout_object<typename P::webhook>)
        return P::webhook::payout_object;
    else
        return {};
}

// The webhook's own fields (from the document root), then, with a payout object, P's fields
// (from the payout object, the view's envelope).
template <class P>
constexpr auto webhook_field_map() {
    using W = typename P::webhook;
    constexpr std::size_t own = has_payout_object<W> ? P::fields.size() : 0;
    std::array<field, W::fields.size() + own> out{};
    std::size_t k = 0;
    for (auto const& f : W::fields)
        out[k++] = f;
    if constexpr (own != 0)
        for (auto const& f : P::fields)
            out[k++] = f;
    return out;
}

template <class P>
constexpr auto const& webhook_statuses() {
    if constexpr (has_payout_object<typename P::webhook>)
        return P::statuses;
    else
        return P::webhook::statuses;
}

template <class P>
constexpr status_set webhook_reason_statuses() {
    if constexpr (has_payout_object<typename P::webhook>)
        return P::reason_statuses;
    else
        return P::webhook::reason_statuses;
}

template <class P>
struct webhook_view {
    static constexpr std::string_view name = P::name;
    static constexpr std::string_view path = P::path;
    using id_type = typename P::id_type;
    static constexpr id_rule id = P::id;
    static constexpr std::string_view envelope = payout_object_of<P>();
    static constexpr bool envelope_optional = false;
    static constexpr auto fields = webhook_field_map<P>();
    static constexpr std::size_t root_fields = P::webhook::fields.size();
    static constexpr auto const& statuses = webhook_statuses<P>();
    static constexpr status_set reason_statuses = webhook_reason_statuses<P>();
    static constexpr int amount_exponent(std::string_view c) noexcept {
        return P::amount_exponent(c);
    }
    static constexpr error_body errors{}; // a webhook body is never a provider error body
};

template <class P>
constexpr bool check_webhook() {
    using W = typename P::webhook;
    static_assert(!W::signature.header.empty(), "a webhook's signature header must be named");
    static_assert(maps(webhook_view<P>::fields, member::event_type),
                  "a webhook's field map must feed member::event_type");
    static_assert(pointer_ok(payout_object_of<P>(), false),
                  "a webhook's payout_object must be a JSON pointer without '*' or escapes");
    static_assert(
        has_payout_object<W> ||
            requires {
                W::statuses[0];
                W::reason_statuses;
            },
        "a webhook block without payout_object needs statuses and reason_statuses of its own");
    static_assert(!maps(P::fields, member::event_id) && !maps(P::fields, member::event_type),
                  "event members belong in the webhook's field map, not the Get-Payout one");
    return true;
}

template <class P>
boost::system::result<webhook_event>
decode_webhook_impl(std::string_view body, std::span<header const> headers,
                    std::span<std::string_view const> secrets, std::string& why) {
    static_assert(check_webhook<P>());
    if (!verify_webhook_signature(body, P::webhook::signature, headers, secrets, why))
        return make_error_code(errc::invalid_signature);
    event_texts ev;
    auto r = decode_body<webhook_view<P>>(body, why, nullptr, &ev);
    if (!r) return r.error();
    webhook_event out;
    out.event_type = std::move(ev.type);
    if (maps(webhook_view<P>::fields, member::event_id)) {
        out.event_id = std::move(ev.id);
    } else {
        out.event_id = out.event_type + ":" + r->id + ":" + r->provider_status + ":" +
                       (r->updated_at ? format_rfc3339(*r->updated_at) : std::string());
    }
    out.payout = std::move(*r);
    return out;
}

inline std::vector<header> header_list(boost::beast::http::fields const& fields) {
    std::vector<header> out;
    for (auto const& f : fields) {
        auto const n = f.name_string();
        auto const v = f.value();
        out.emplace_back(std::string_view(n.data(), n.size()),
                         std::string_view(v.data(), v.size()));
    }
    return out;
}

} // namespace payouts::detail

namespace payouts {

template <class P>
requires webhook_provider<P> boost::system::result<webhook_event>
decode_webhook(std::string_view raw_body, std::span<header const> headers,
               std::span<std::string_view const> secrets) {
    std::string why;
    return detail::decode_webhook_impl<P>(raw_body, headers, secrets, why);
}

template <class P>
requires webhook_provider<P> boost::system::result<webhook_event>
decode_webhook(std::string_view raw_body, std::span<header const> headers,
               std::span<std::string_view const> secrets, diagnostics& diag) {
    diag.clear();
    return detail::decode_webhook_impl<P>(raw_body, headers, secrets, diag.message);
}

template <class P>
requires webhook_provider<P> boost::system::result<webhook_event>
decode_webhook(std::string_view raw_body, boost::beast::http::fields const& headers,
               std::span<std::string_view const> secrets) {
    std::string why;
    return detail::decode_webhook_impl<P>(raw_body, detail::header_list(headers), secrets, why);
}

template <class P>
requires webhook_provider<P> boost::system::result<webhook_event>
decode_webhook(std::string_view raw_body, boost::beast::http::fields const& headers,
               std::span<std::string_view const> secrets, diagnostics& diag) {
    diag.clear();
    return detail::decode_webhook_impl<P>(raw_body, detail::header_list(headers), secrets,
                                          diag.message);
}

} // namespace payouts
