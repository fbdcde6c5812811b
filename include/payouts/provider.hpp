// The building blocks a provider header is made of, the `provider` concept, and the
// compile-time checks every provider must pass.
//
// A provider is a tag type carrying data only (plus, where a table will not do, pure constexpr
// functions). The library's generic path reads these members and nothing else:
//
//   name                      "yuno": the provider's value in payout::provider, and (upper-cased)
//                             its part of environment-variable names (PAYOUTS_YUNO_...)
//   urls                      base_urls: default base URL per environment, path prefix included
//   path                      the Get-Payout path, with exactly one "{id}"
//   id_type, id               the id's C++ type (std::string or an integer) and its id_rule
//   credentials               credential_header[]: which credential goes into which header
//   oauth                     std::optional<oauth_client_credentials>: the alternative token flow
//   extra_headers             header_field[]: fixed headers sent on every request (a header
//                             name used twice among credentials, the OAuth header and these, or
//                             one of Host, User-Agent, Accept, Accept-Encoding, which the library
//                             writes, makes the provider's setup fail with invalid_config)
//   envelope, envelope_optional  JSON pointer of the payout object inside the body
//   fields                    field[]: the field map, JSON pointer → payout member + converter
//   statuses                  status_entry[]: exact, case-sensitive wire status → payout_status
//   reason_statuses           status_set: statuses for which `reason` is reported
//   amount_exponent(cur)      exponent of integer minor-unit amounts (if any field uses them)
//   errors                    error_body: where the provider's error body keeps code and message
//   not_found_codes           provider error codes that mean "not found" whatever the HTTP status
//   request_id_headers        response headers carrying the provider's request id
//   rate_limit_remaining_header  response header with the requests left in the window, or ""
//   webhook                   a nested struct: how the provider signs and shapes its payout
//                             webhooks (see webhook_signature and <payouts/webhook.hpp>), or one
//                             derived from no_webhook, saying why there is none
#pragma once

#include <payouts/convert.hpp>
#include <payouts/payout.hpp>

#include <boost/describe/enum.hpp>
#include <boost/describe/enumerators.hpp>
#include <boost/describe/members.hpp>
#include <boost/mp11/algorithm.hpp>

#include <array>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace payouts {

/// Which of a provider's deployments a client talks to.
enum class environment { sandbox, production };

/// Default base URLs of a provider, one per environment (path prefix included).
struct base_urls {
    std::string_view sandbox;
    std::string_view production;
    constexpr std::string_view operator[](environment e) const noexcept {
        return e == environment::production ? production : sandbox;
    }
};

/// A fixed header name and value.
struct header_field {
    std::string_view name;
    std::string_view value;
};

/// \brief One credential and the header it becomes: `name: prefix + secret`.
/// `credential` names the credential by the suffix of its environment variable
/// (PAYOUTS_<PROVIDER>_<credential>), e.g. "SECRET_KEY".
struct credential_header {
    std::string_view header;
    std::string_view prefix;
    std::string_view credential;
};

/// How an OAuth token request carries its parameters.
enum class token_body { json, form };

/// \brief An OAuth 2.0 client-credentials flow the library runs and caches for the provider.
/// The client id and secret are the credentials "CLIENT_ID" and "CLIENT_SECRET"; the token is sent
/// as `header: prefix + access_token`.
struct oauth_client_credentials {
    base_urls token_urls;
    token_body body = token_body::json;
    std::string_view audience; ///< sent as "audience" when not empty
    std::string_view scope;    ///< sent as "scope" when not empty (space-separated)
    std::string_view header = "Authorization";
    std::string_view prefix = "Bearer ";
};

/// \brief What an id must look like before it is put into a request path. Every id is then
/// percent-encoded as one path segment, so these rules are about plausibility, not safety.
struct id_rule {
    std::size_t min_length = 1;
    std::size_t max_length = 128;
};

/// The payout members a field can feed (names as in `payout`), plus the two helper slots.
enum class member {
    id,
    provider_status,
    amount,          ///< the amount's number; needs amount_currency too
    amount_currency, ///< the amount's ISO 4217 code
    reference,
    reason,
    created_at,
    updated_at,       ///< with several sources, the latest of them
    status_qualifier, ///< not a payout member: text that refines the status (see status_entry)
    event_id,         ///< webhooks only, not a payout member: the event's own id (dedup key)
    event_type,       ///< webhooks only, not a payout member: the event's type, as sent
};
BOOST_DESCRIBE_ENUM(member, id, provider_status, amount, amount_currency, reference, reason,
                    created_at, updated_at, status_qualifier, event_id, event_type)

/// \brief The named converters a field map can use. Each says which JSON types it accepts;
/// JSON null always means "absent".
enum class conv {
    id,            ///< a non-empty string, or an integer (Truust), kept as its decimal text
    text,          ///< a string, kept exactly
    optional_text, ///< a string; "" and "null" (DRUO) mean absent
    minor_units,   ///< an integer or a digit string, in minor units (scale = amount_exponent)
    major_number,  ///< a JSON number in major units, exact from its text (Yuno)
    decimal_text,  ///< a string holding a decimal in major units ("4250.00", Introw)
    currency,      ///< a string of three capital letters
    timestamp,     ///< a string, RFC 3339 per the field's time_format
};

/// \brief One entry of a field map: the value at `pointer` (relative to the envelope; `*`
/// matches every element of an array, and the last element's value counts) feeds `target`
/// through converter `how`. Several fields may feed one member: the first one present wins
/// (timestamps: the latest wins). Amounts pair with currencies in map order (the first amount
/// field with the first currency field, ...): the first pair present gives the amount.
struct field {
    std::string_view pointer;
    member target;
    conv how;
    time_format time = time_format::strict;
};

/// \brief One row of a status table: provider status `wire` means `unified`. With a
/// `qualifier`, the row applies only when the status_qualifier field's text equals it; rows are
/// tried in order, so qualified rows come before the plain row of the same wire value.
struct status_entry {
    std::string_view wire;
    payout_status unified;
    std::string_view qualifier = {};
};

/// A set of payout_status values.
struct status_set {
    std::uint32_t bits = 0;
    constexpr status_set() = default;
    constexpr status_set(std::initializer_list<payout_status> l) {
        for (auto s : l)
            bits |= 1u << unsigned(s);
    }
    static constexpr status_set all() {
        status_set s;
        s.bits = ~0u;
        return s;
    }
    constexpr bool contains(payout_status s) const noexcept { return (bits >> unsigned(s)) & 1u; }
};

/// How a webhook signature header encodes its digest.
enum class signature_encoding {
    hex,    ///< Base16, either case (64 digits for HMAC-SHA256)
    base64, ///< standard Base64 with padding (44 characters for HMAC-SHA256), strictly canonical
};

/// \brief A provider's webhook signature: `header` carries HMAC-SHA256 of the raw body, keyed
/// with the webhook's secret, in `encoding`. The only scheme the built-in providers use.
struct webhook_signature {
    std::string_view header;
    signature_encoding encoding;
};

/// \brief Base of a provider's `webhook` struct when it has no webhook decoding, for instance
/// `struct webhook : no_webhook { static constexpr std::string_view why = "..."; };`.
/// decode_webhook<P> does not compile for such a provider (nor for one without `webhook`).
struct no_webhook {};

/// Where a provider's error body keeps its code and message (JSON pointers, first found wins).
struct error_body {
    std::array<std::string_view, 2> code{};
    std::array<std::string_view, 2> message{};
};

// clang-format off
/// The shape every provider tag must have (see the list at the top of this header).
template <class P>
concept provider = requires(std::string_view cur) {
    { P::name } -> std::convertible_to<std::string_view>;
    { P::urls } -> std::convertible_to<base_urls>;
    { P::path } -> std::convertible_to<std::string_view>;
    typename P::id_type;
    { P::id } -> std::convertible_to<id_rule>;
    { P::envelope } -> std::convertible_to<std::string_view>;
    { P::envelope_optional } -> std::convertible_to<bool>;
    { P::fields[0] } -> std::convertible_to<field>;
    { P::statuses[0] } -> std::convertible_to<status_entry>;
    { P::reason_statuses } -> std::convertible_to<status_set>;
    { P::amount_exponent(cur) } -> std::convertible_to<int>;
    { P::errors } -> std::convertible_to<error_body>;
    { P::request_id_headers[0] } -> std::convertible_to<std::string_view>;
    { P::rate_limit_remaining_header } -> std::convertible_to<std::string_view>;
};
// clang-format on

namespace detail {

/// The environment variable of a provider setting: PAYOUTS_<NAME>_<suffix>.
inline std::string env_name(std::string_view provider_name, std::string_view suffix) {
    std::string s = "PAYOUTS_";
    for (char c : provider_name)
        s += c >= 'a' && c <= 'z' ? char(c - 'a' + 'A') : c;
    s += '_';
    s += suffix;
    return s;
}

// Every `member` but the two helper slots must name a described member of `payout`, so the
// field map cannot drift from the model.
constexpr bool members_name_payout_fields() {
    namespace d = boost::describe;
    bool ok = true;
    boost::mp11::mp_for_each<d::describe_enumerators<member>>([&](auto e) {
        if (e.value == member::amount_currency || e.value == member::status_qualifier ||
            e.value == member::event_id || e.value == member::event_type)
            return;
        bool found = false;
        boost::mp11::mp_for_each<d::describe_members<payout, d::mod_public>>(
            [&](auto m) { found = found || std::string_view(m.name) == e.name; });
        ok = ok && found;
    });
    return ok;
}
static_assert(members_name_payout_fields(), "payouts::member names a field payout does not have");

// The compile-time checks; each is its own function so a failing static_assert names it.

constexpr bool path_has_one_id(std::string_view path) {
    auto const first = path.find("{id}");
    return first != std::string_view::npos &&
           path.find("{id}", first + 1) == std::string_view::npos && path.starts_with('/');
}

template <class Entries>
constexpr bool statuses_unique(Entries const& table) {
    for (std::size_t i = 0; i < table.size(); ++i)
        for (std::size_t j = i + 1; j < table.size(); ++j)
            if (table[i].wire == table[j].wire && table[i].qualifier == table[j].qualifier)
                return false;
    return true;
}

// A qualified row placed after the plain row of the same wire value could never match.
template <class Entries>
constexpr bool qualified_rows_first(Entries const& table) {
    for (std::size_t i = 0; i < table.size(); ++i)
        for (std::size_t j = i + 1; j < table.size(); ++j)
            if (table[i].wire == table[j].wire && table[i].qualifier.empty() &&
                !table[j].qualifier.empty())
                return false;
    return true;
}

template <class Fields>
constexpr bool maps(Fields const& fields, member m) {
    for (auto const& f : fields)
        if (f.target == m) return true;
    return false;
}

template <class Fields>
constexpr bool required_members_mapped(Fields const& fields) {
    return maps(fields, member::id) && maps(fields, member::provider_status) &&
           maps(fields, member::amount) == maps(fields, member::amount_currency);
}

// Pointers are "" or "/seg/seg", segments non-empty, no escapes, at most one "*" segment.
constexpr bool pointer_ok(std::string_view p, bool allow_wildcard) {
    if (p.empty()) return true;
    if (p[0] != '/' || p.back() == '/' || p.find("//") != std::string_view::npos ||
        p.find('~') != std::string_view::npos)
        return false;
    int stars = 0;
    for (std::size_t i = 0; i < p.size(); ++i)
        if (p[i] == '*') {
            if (p[i - 1] != '/' || (i + 1 < p.size() && p[i + 1] != '/')) return false;
            ++stars;
        }
    return stars <= (allow_wildcard ? 1 : 0);
}

template <class Fields>
constexpr bool pointers_ok(Fields const& fields) {
    for (auto const& f : fields)
        if (f.pointer.empty() || !pointer_ok(f.pointer, true)) return false;
    return fields.size() <= 32;
}

// Converters must suit their member.
constexpr bool converter_fits(field const& f) {
    switch (f.target) {
    case member::id:
        return f.how == conv::id;
    case member::amount:
        return f.how == conv::minor_units || f.how == conv::major_number ||
               f.how == conv::decimal_text;
    case member::amount_currency:
        return f.how == conv::currency;
    case member::created_at:
    case member::updated_at:
        return f.how == conv::timestamp;
    case member::provider_status:
    case member::reference:
    case member::reason:
    case member::status_qualifier:
        return f.how == conv::text || f.how == conv::optional_text;
    case member::event_id:
    case member::event_type:
        return f.how == conv::text;
    }
    return false;
}

template <class Fields>
constexpr bool converters_fit(Fields const& fields) {
    for (auto const& f : fields)
        if (!converter_fits(f)) return false;
    return true;
}

template <class Fields>
constexpr bool single_amount(Fields const& fields) {
    int n = 0, c = 0;
    for (auto const& f : fields) {
        n += f.target == member::amount;
        c += f.target == member::amount_currency;
    }
    return n <= 1 && c <= 1;
}

// Amounts and currencies come in pairs (the k-th amount field with the k-th currency field), a
// few alternatives at most: a webhook may carry its amount in one of several places.
template <class Fields>
constexpr bool amounts_paired(Fields const& fields) {
    int n = 0, c = 0;
    for (auto const& f : fields) {
        n += f.target == member::amount;
        c += f.target == member::amount_currency;
    }
    return n == c && n <= 4;
}

template <class P>
constexpr bool check_provider() {
    static_assert(path_has_one_id(P::path),
                  "a provider path must start with '/' and hold exactly one {id}");
    static_assert(statuses_unique(P::statuses),
                  "a provider's status table lists a wire status twice");
    static_assert(
        qualified_rows_first(P::statuses),
        "a qualified status row follows the plain row of the same status and can never match");
    static_assert(required_members_mapped(P::fields),
                  "a provider's field map must feed payout::id and provider_status (and amount "
                  "together with its currency)");
    static_assert(pointers_ok(P::fields) && pointer_ok(P::envelope, false),
                  "field pointers must be JSON pointers without escapes, with at most one '*' (and "
                  "at most 32 fields)");
    static_assert(converters_fit(P::fields), "a field's converter does not suit its member");
    static_assert(amounts_paired(P::fields),
                  "a provider maps amounts and currencies in pairs (at most 4 pairs)");
    static_assert(!P::name.empty() && P::id.min_length >= 1 &&
                  P::id.min_length <= P::id.max_length);
    return true;
}

} // namespace detail
} // namespace payouts
