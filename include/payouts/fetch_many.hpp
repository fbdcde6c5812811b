// fetch_many<P>: many ids, bounded concurrency, every id answered exactly once, in input order.
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

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace payouts {

/// How `fetch_many` paces itself.
struct batch_options {
    /// Fetches in flight at once (at least 1).
    std::size_t concurrency = 8;
    /// How far ahead of the oldest unreported id fetches may run; results that finished early
    /// wait in memory until every earlier id is reported. Below `concurrency` (0 included):
    /// 4 × concurrency.
    std::size_t reorder_window = 0;
    /// When a provider says its rate-limit budget is spent (a remaining count of 0), or a fetch
    /// still ends in `errc::rate_limited` after its own retries, no new fetch starts for this
    /// long.
    std::chrono::milliseconds rate_limit_pause{60000};
    /// How many times an id whose fetch ended in `errc::rate_limited` is fetched again after a
    /// pause before that error is reported for it.
    unsigned rate_limited_refetches = 2;
};

/// The outcome for one id of a batch.
struct batch_result {
    std::size_t index = 0; ///< position of the id in the input
    error_code ec;         ///< as `fetch` would report it; operation_aborted if never fetched
    payout value;          ///< valid when `!ec`
    diagnostics diag;      ///< as `fetch` would fill it
};

namespace detail {

// Where a batch's results go: the caller's on_result, whatever its type.
using result_sink = sink<batch_result&&>;

using batch_handler = boost::asio::any_completion_handler<void(error_code)>;

/// Starts a batch on the client's executor (posted: even an empty batch completes only after
/// the initiating call has returned): the non-template core of every `fetch_many<P>`.
PAYOUTS_DECL void start_batch(std::shared_ptr<client_core> core, provider_ops const& ops,
                              std::vector<fetch_id> ids, batch_options opt,
                              std::unique_ptr<result_sink> on_result, batch_handler handler);

} // namespace detail

/// \brief Fetches every id in `ids` from provider `P`, at most `opt.concurrency` at a time
/// over the client's pooled connections, and calls `on_result(batch_result&&)` exactly once per
/// id, in input order — success or typed error; no id is dropped or repeated.
///
/// Each id goes through `fetch<P>` with the client's retry policy (so 429 with Retry-After and
/// transient 5xx are retried inside each fetch's deadline). Where the provider tells its
/// remaining rate-limit budget (Introw), no more fetches are started than it allows; when it is
/// spent, or a fetch still ends in `errc::rate_limited`, new fetches wait `opt.rate_limit_pause`
/// and a rate-limited id is fetched again (up to `opt.rate_limited_refetches` times) before its
/// error is reported.
///
/// \par Completion signature
/// `void(error_code)`: empty when every id was reported; asio::error::operation_aborted after a
/// cancellation. The handler is never invoked from inside this call; it is invoked through its
/// associated executor (by default the client's), after the last `on_result`. That executor
/// counts the operation as outstanding work until then, so an execution context that only runs
/// the handler does not return from `run()` early.
///
/// \par Object lifetimes
/// `c` may be destroyed while the operation runs (it keeps what it needs); the execution
/// context must outlive the operation. `ids` and `on_result` are moved in. `on_result` must not
/// throw: an exception from it leaves the client's `run()` and the batch never completes.
///
/// \par Thread safety
/// May be initiated from any thread: the operation starts on the client's executor, so
/// `asio::use_future` works from a foreign thread. `on_result` is called on the client's
/// executor; a cancellation must be emitted there too.
///
/// \par Per-operation cancellation
/// Terminal cancellation through the handler's associated cancellation slot (any type is
/// treated as terminal): every fetch in flight is cancelled and reported with its own outcome
/// (usually operation_aborted), an id waiting to be fetched again with its rate-limit error,
/// and every id not started yet with asio::error::operation_aborted — still exactly once each,
/// still in order.
template <provider P, class OnResult, class Token = boost::asio::deferred_t>
auto fetch_many(client& c, std::vector<typename P::id_type> ids, batch_options opt,
                OnResult on_result, Token&& token = {}) {
    return boost::asio::async_initiate<Token, void(error_code)>(
        [](auto handler, std::shared_ptr<detail::client_core> core, auto ids, OnResult on_result,
           batch_options opt) {
            std::vector<detail::fetch_id> encoded;
            encoded.reserve(ids.size());
            for (auto const& id : ids)
                encoded.push_back(detail::encode_id<P>(id));
            detail::start_batch(std::move(core), detail::ops_of<P>::value, std::move(encoded), opt,
                                detail::make_sink<batch_result&&>(std::move(on_result)),
                                detail::batch_handler(std::move(handler)));
        },
        token, detail_client_access::core(c), std::move(ids), std::move(on_result), opt);
}

} // namespace payouts

#ifdef PAYOUTS_HEADER_ONLY
#include <payouts/impl/fetch_many.ipp>
#endif
