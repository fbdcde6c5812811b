// decode_webhook<P>(body, headers, secrets): a provider's payout webhook → verified event and
// unified payout. Pure: no I/O, no globals. The definitions are in detail/webhook_impl.hpp
// (header-only mode: included below; separate mode: compiled in <payouts/src.hpp> for the
// built-in providers).
#pragma once

#include <payouts/detail/config.hpp>
#include <payouts/diagnostics.hpp>
#include <payouts/error.hpp>
#include <payouts/payout.hpp>
#include <payouts/provider.hpp>

#include <boost/beast/http/fields.hpp>
#include <boost/system/result.hpp>

#include <concepts>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace payouts {

/// \brief One verified webhook notification.
///
/// A plain value that owns everything it holds.
struct webhook_event {
    /// For deduplication (providers deliver at least once, in any order). The provider's event
    /// id where it sends one (Checkout.com's `evt_...`); otherwise a key derived from the event:
    /// `<event_type>:<payout id>:<provider_status>:<updated_at>`, with `updated_at` in
    /// format_rfc3339's form and empty when absent (Yuno, which sends no event id for payouts).
    std::string event_id;
    /// The event's type as sent: `payment_paid`, `payout_declined`, `payout.payout`, ...
    std::string event_type;
    /// The payout, unified as decode<P> makes it: `raw` is the body exactly as received and
    /// `request_id` is empty. A type of event the provider's table does not list decodes as
    /// `payout_status::unknown` (Checkout.com keeps the event type in `provider_status`); such
    /// an event need not name a payout, and `payout.id` is then empty.
    payouts::payout payout;
};

/// A request header as received: name and value (names compare case-blind).
using header = std::pair<std::string_view, std::string_view>;

/// \brief A provider whose header declares how its payout webhooks are signed and shaped: a
/// nested `webhook` struct with `signature` (a webhook_signature) and `fields` (a field map
/// from JSON pointers in the whole body, which must feed member::event_type), and either
/// `statuses` (+ `reason_statuses`) of its own or `payout_object`, the pointer where the
/// provider's Get-Payout object sits (then P's own `fields` and `statuses` decode it). Without
/// a field for member::event_id the event id is derived (see webhook_event::event_id).
template <class P>
concept webhook_provider = provider<P> && requires {
    typename P::webhook;
    { P::webhook::signature } -> std::convertible_to<webhook_signature>;
    { P::webhook::fields[0] } -> std::convertible_to<field>;
} && !std::derived_from<typename P::webhook, no_webhook>;

/// \brief Verifies and decodes provider `P`'s payout webhook.
///
/// First the signature: the header `P::webhook::signature.header` (found case-blind; given
/// once) must hold the HMAC-SHA256 of `raw_body`, exactly as received, under one of `secrets`
/// (several during a key rotation: every secret is tried, each digest compared in constant
/// time). An empty secret never matches: an empty key would let anyone sign. Only then is the
/// body parsed, as decode<P> parses a Get-Payout body (exact amounts, duplicate keys refused,
/// unknown statuses kept as `unknown`).
///
/// \returns the event, or
///   - `errc::invalid_signature`: no secrets (or only empty ones) given, the header missing,
///     repeated or malformed (wrong length, a character outside the encoding, bad padding), or
///     no secret's HMAC matches. Not retryable and under no `condition`.
///   - `errc::invalid_response`: the verified body is not the provider's payout event
///     (malformed JSON, a missing id, type or status, a value of the wrong type), as decode<P>.
///
/// \par Object lifetimes
/// The arguments are only read during the call; the result owns copies.
///
/// \par Thread safety
/// Pure: distinct calls may run concurrently on any threads.
template <class P>
requires webhook_provider<P> boost::system::result<webhook_event>
decode_webhook(std::string_view raw_body, std::span<header const> headers,
               std::span<std::string_view const> secrets);

/// \brief As above, and on failure `diag.message` says why: for a signature, which case
/// ("missing header Cko-Signature", "malformed x-hmac-signature: ...", "no secrets given",
/// "Cko-Signature matches none of the 2 secrets"), never a secret or a digest; for a body, the
/// JSON pointer and what was expected there. `diag` is cleared first.
template <class P>
requires webhook_provider<P> boost::system::result<webhook_event>
decode_webhook(std::string_view raw_body, std::span<header const> headers,
               std::span<std::string_view const> secrets, diagnostics& diag);

/// \brief As above, with the headers of a Beast request (`req.base()`).
template <class P>
requires webhook_provider<P> boost::system::result<webhook_event>
decode_webhook(std::string_view raw_body, boost::beast::http::fields const& headers,
               std::span<std::string_view const> secrets);

/// \brief As above, with the headers of a Beast request and diagnostics.
template <class P>
requires webhook_provider<P> boost::system::result<webhook_event>
decode_webhook(std::string_view raw_body, boost::beast::http::fields const& headers,
               std::span<std::string_view const> secrets, diagnostics& diag);

namespace detail {
template <class>
inline constexpr bool no_webhook_for = false;
} // namespace detail

/// \brief For a provider without webhook decoding (DRUO, Truust, Introw) decode_webhook<P> does
/// not compile: this overload's static_assert says why. It returns void, so
/// `requires { {decode_webhook<P>(...)} -> std::same_as<result<webhook_event>>; }` is false.
template <class P, class... Args>
requires(!webhook_provider<P>) void decode_webhook(Args&&...) {
    static_assert(detail::no_webhook_for<P>,
                  "decode_webhook<P>: provider P has no webhook decoding. Its header's `webhook` "
                  "derives from no_webhook (or is absent) because the provider documents no "
                  "signing scheme or no payout event body, so a notification could not be "
                  "verified; P::webhook::why says which. Poll with fetch<P> or watch<P> instead.");
}

} // namespace payouts

#ifdef PAYOUTS_HEADER_ONLY
#include <payouts/detail/webhook_impl.hpp>
#endif
