// payouts::watch<P>: fetch a payout again and again, with backoff, until it settles.
#pragma once

#include <payouts/client.hpp>
#include <payouts/detail/config.hpp>
#include <payouts/detail/provider_ops.hpp>
#include <payouts/diagnostics.hpp>
#include <payouts/fetch.hpp>
#include <payouts/payout.hpp>
#include <payouts/provider.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/deferred.hpp>

#include <chrono>
#include <memory>
#include <type_traits>
#include <utility>

namespace payouts {

/// How `watch` paces itself and when it stops.
struct watch_options {
    /// The wait before the second fetch. Each later wait doubles, up to `max_interval`, with
    /// full jitter: the wait before fetch n + 1 is uniform in
    /// [0, min(max_interval, first_interval × 2^(n-1))]. A change of status starts the
    /// doubling over.
    std::chrono::milliseconds first_interval{2000};
    std::chrono::milliseconds max_interval{300000};
    /// The whole watch, first fetch included.
    std::chrono::milliseconds deadline{86400000};
    /// The statuses that end the watch.
    status_set terminal{payout_status::paid, payout_status::failed, payout_status::cancelled,
                        payout_status::returned};
    /// When the provider says its rate-limit budget is spent (a remaining count of 0), or a
    /// fetch still ends in `errc::rate_limited` without a Retry-After, the next fetch waits at
    /// least this long.
    std::chrono::milliseconds rate_limit_pause{60000};
};

namespace detail {

// Where a watch reports changes: the caller's on_change, whatever its type.
using change_sink = sink<payout const&>;

/// `diag`, when not null, receives the last fetch's diagnostics at completion.
PAYOUTS_DECL void start_watch(std::shared_ptr<client_core> core, provider_ops const& ops,
                              fetch_id id, watch_options const& opt,
                              std::unique_ptr<change_sink> on_change, diagnostics* diag,
                              fetch_handler handler);

template <provider P, class OnChange, class Token>
auto watch_on(std::shared_ptr<client_core> core, typename P::id_type const& id,
              watch_options const& opt, OnChange&& on_change, diagnostics* diag, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, payout)>(
        [](auto handler, std::shared_ptr<client_core> core, fetch_id id, watch_options opt,
           std::unique_ptr<change_sink> on_change, diagnostics* diag) {
            start_watch(std::move(core), ops_of<P>::value, std::move(id), opt, std::move(on_change),
                        diag, fetch_handler(std::move(handler)));
        },
        token, std::move(core), encode_id<P>(id), watch_options(opt),
        make_sink<payout const&>(std::forward<OnChange>(on_change)), diag);
}

} // namespace detail

/// \brief Watches payout `id` of provider `P` until its status is in `opt.terminal`: fetches
/// it (as `fetch<P>` does, with the client's retries inside each fetch), then again after each
/// wait of `opt`'s backoff, and calls `on_change(payout const&)` for the first payout fetched
/// and for every change of `status` or `provider_status` after it (an unchanged answer is not
/// reported again).
///
/// A fetch that fails with a retryable error (`condition::retryable`: timeouts, resets, 5xx,
/// 429 after the fetch's own retries) does not end the watch: the next fetch follows at the
/// next interval, and never before the wait the provider's Retry-After asked for; when the
/// provider says its rate-limit budget is spent, not before `opt.rate_limit_pause`. Each wait
/// is reported to the client's `on_event` hook as a `fetch_event_kind::watch_wait` event.
///
/// `paid` can be provisional: Checkout.com can report `Returned` after `Paid`, and DRUO
/// `REVERSED` or `REFUNDED` after `SUCCESSFUL`. To keep watching a paid payout for a return,
/// leave `paid` out of `opt.terminal` and set a `deadline`: the watch then ends with
/// `errc::timeout` and the last payout seen (still `paid`) unless it is returned before.
///
/// \par Completion signature
/// `void(error_code, payout)`: no error and the payout, once its status is in `opt.terminal`;
/// `errc::timeout` and the last payout seen at the deadline; asio::error::operation_aborted and
/// the last payout seen when cancelled; any other error of a fetch (`not_found`,
/// `unauthorized`, `forbidden`, `invalid_response`, `invalid_config`, `invalid_id`, ...) and
/// the last payout seen at once. "The last payout seen" is empty (`id` empty) when no fetch
/// succeeded. The handler is invoked through its associated executor (by default the
/// client's), never from inside this call.
///
/// \par Object lifetimes
/// `c` may be destroyed while the watch runs. `id`, `opt` and `on_change` are copied or moved
/// in. `on_change` is called on the client's executor and must not throw: an exception from it
/// leaves the client's `run()` and the watch never completes.
///
/// \par Per-operation cancellation
/// Terminal cancellation through the handler's associated cancellation slot (any type is
/// treated as terminal) ends the watch promptly, during a wait or a fetch.
template <provider P, class OnChange, class Token = boost::asio::deferred_t>
requires(!std::is_same_v<std::remove_cvref_t<Token>, diagnostics>) auto watch(
    client& c, typename P::id_type id, watch_options const& opt, OnChange&& on_change,
    Token&& token = {}) {
    return detail::watch_on<P>(detail_client_access::core(c), id, opt,
                               std::forward<OnChange>(on_change), nullptr,
                               std::forward<Token>(token));
}

/// \brief As `watch(c, id, opt, on_change, token)`, and `diag` receives, at completion, the
/// diagnostics of the watch's last fetch (HTTP status, the provider's error, attempts, host),
/// with `message` saying why the watch ended when it did not end at a terminal status ("the
/// deadline passed with the payout still processing (PENDING)", "cancelled", or the failed
/// fetch's message). Never a credential. `diag` must stay valid until the watch completes.
template <provider P, class OnChange, class Token = boost::asio::deferred_t>
auto watch(client& c, typename P::id_type id, watch_options const& opt, OnChange&& on_change,
           diagnostics& diag, Token&& token = {}) {
    return detail::watch_on<P>(detail_client_access::core(c), id, opt,
                               std::forward<OnChange>(on_change), &diag,
                               std::forward<Token>(token));
}

} // namespace payouts

#ifdef PAYOUTS_HEADER_ONLY
#include <payouts/impl/watch.ipp>
#endif
