// fetch_many<P>: many ids, bounded concurrency, every id answered exactly once, in input order.
#pragma once

#include <payouts/client.hpp>
#include <payouts/diagnostics.hpp>
#include <payouts/fetch.hpp>
#include <payouts/payout.hpp>
#include <payouts/provider.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
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

template <class P, class OnResult, class Handler>
struct batch_state : std::enable_shared_from_this<batch_state<P, OnResult, Handler>> {
    using id_type = typename P::id_type;

    static batch_options normalised(batch_options o) {
        if (o.concurrency == 0) o.concurrency = 1;
        if (o.reorder_window < o.concurrency) o.reorder_window = 4 * o.concurrency;
        return o;
    }

    batch_state(client& c, std::vector<id_type> ids, batch_options o, OnResult on_result, Handler h)
        : cl(&c)
        , ids(std::move(ids))
        , opt(normalised(o))
        , on_result(std::move(on_result))
        , handler(std::move(h))
        , pause(c.get_executor())
        , signals(new boost::asio::cancellation_signal[opt.concurrency]) {
        free_slots.reserve(opt.concurrency);
        for (std::size_t i = 0; i < opt.concurrency; ++i)
            free_slots.push_back(i);
    }

    client* cl;
    std::vector<id_type> ids;
    batch_options opt;
    OnResult on_result;
    Handler handler;
    boost::asio::steady_timer pause;
    bool pausing = false;
    bool cancelled = false;
    bool done = false;
    std::unique_ptr<boost::asio::cancellation_signal[]> signals; // one per concurrency slot
    std::vector<std::size_t> free_slots;
    std::size_t next = 0;                            // next id never launched yet
    std::size_t reported = 0;                        // ids reported so far (all before this index)
    std::deque<std::optional<batch_result>> pending; // results for [reported, next)
    // Ids to fetch again after a rate-limit pause, with the result each would otherwise get.
    std::deque<batch_result> refetch;
    std::vector<unsigned char> refetches; // per id, how often it was queued again
    // Requests the provider's budget still allows (its last remaining count less the fetches
    // started since); -1 while the provider has not said.
    long long budget = -1;

    std::size_t in_flight() const noexcept { return opt.concurrency - free_slots.size(); }

    void start() {
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected()) {
            slot.assign([self = this->shared_from_this()](boost::asio::cancellation_type) {
                self->cancel();
            });
        }
        refetches.assign(ids.size(), 0);
        pump();
    }

    void cancel() {
        if (cancelled) return;
        cancelled = true;
        pause.cancel();
        for (std::size_t i = 0; i < opt.concurrency; ++i)
            signals[i].emit(boost::asio::cancellation_type::terminal);
        pump();
    }

    bool may_launch() const {
        if (cancelled || pausing || free_slots.empty() || budget == 0) return false;
        if (!refetch.empty()) return true;
        return next < ids.size() && next - reported < opt.reorder_window;
    }

    void pump() {
        if (cancelled) {
            // Ids never launched are answered, not dropped; ids waiting to be fetched again keep
            // the rate-limit error they had.
            for (auto& r : refetch)
                pending[r.index - reported].emplace(std::move(r));
            refetch.clear();
            while (next < ids.size()) {
                batch_result r;
                r.index = next++;
                r.ec = boost::asio::error::operation_aborted;
                r.diag.message = "the batch was cancelled before this id was fetched";
                pending.emplace_back(std::move(r));
            }
        }
        // Reporting first frees the reorder window for the launches after it.
        flush();
        while (may_launch())
            launch();
        if (reported == ids.size() && !done) finish();
    }

    void pause_for_rate_limit() {
        if (pausing || cancelled) return;
        pausing = true;
        pause.expires_after(opt.rate_limit_pause);
        pause.async_wait([self = this->shared_from_this()](error_code) {
            self->pausing = false;
            self->budget = -1; // a new window: the next answers say what it allows
            self->pump();
        });
    }

    void launch() {
        std::size_t index;
        if (!refetch.empty()) {
            index = refetch.front().index;
            refetch.pop_front();
        } else {
            index = next++;
            pending.emplace_back();
        }
        if (budget > 0) --budget;
        std::size_t const slot = free_slots.back();
        free_slots.pop_back();
        auto diag = std::make_shared<diagnostics>();
        fetch<P>(*cl, ids[index], *diag,
                 boost::asio::bind_cancellation_slot(
                     signals[slot].slot(),
                     [self = this->shared_from_this(), index, slot, diag](error_code ec, payout p) {
                         self->completed(index, slot, ec, std::move(p), std::move(*diag));
                     }));
    }

    void completed(std::size_t index, std::size_t slot, error_code ec, payout p, diagnostics d) {
        free_slots.push_back(slot);
        if (d.rate_limit_remaining >= 0) {
            // The fetches still in flight may not be counted in that answer yet; and answers
            // arrive in any order, so an older, larger count never raises the estimate (only a
            // pause, which waits for a new window, forgets it).
            auto left = d.rate_limit_remaining - static_cast<long long>(in_flight());
            if (left < 0) left = 0;
            budget = budget < 0 ? left : std::min(budget, left);
        }
        batch_result r;
        r.index = index;
        r.ec = ec;
        r.value = std::move(p);
        r.diag = std::move(d);
        bool const throttled = ec == errc::rate_limited;
        if (throttled && !cancelled && refetches[index] < opt.rate_limited_refetches) {
            ++refetches[index];
            refetch.push_back(std::move(r));
        } else {
            pending[index - reported].emplace(std::move(r));
        }
        if (throttled || (budget == 0 && in_flight() == 0)) pause_for_rate_limit();
        pump();
    }

    void flush() {
        while (!pending.empty() && pending.front()) {
            batch_result r = std::move(*pending.front());
            pending.pop_front();
            ++reported;
            on_result(std::move(r));
        }
    }

    void finish() {
        done = true;
        pause.cancel();
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected()) slot.clear();
        error_code const ec =
            cancelled ? error_code(boost::asio::error::operation_aborted) : error_code();
        auto ex = boost::asio::get_associated_executor(handler, cl->get_executor());
        boost::asio::dispatch(ex, [h = std::move(handler), ec]() mutable { std::move(h)(ec); });
    }
};

template <class P>
struct fetch_many_initiation {
    template <class Handler, class OnResult>
    void operator()(Handler&& h, client* c, std::vector<typename P::id_type> ids, batch_options opt,
                    OnResult on_result) const {
        auto st = std::make_shared<batch_state<P, OnResult, std::decay_t<Handler>>>(
            *c, std::move(ids), opt, std::move(on_result), std::forward<Handler>(h));
        // Start from the executor, so the handler never runs inside the initiating call.
        boost::asio::post(c->get_executor(), [st] { st->start(); });
    }
};

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
/// cancellation (ids in flight complete with their fetch's error, ids not started yet are
/// reported with operation_aborted — still exactly once each, still in order).
///
/// \par Object lifetimes
/// `c` must outlive the operation. `on_result` is moved in and called on the client's executor.
///
/// \par Thread safety
/// Call from the client's executor, as for `fetch`.
template <provider P, class OnResult, class Token = boost::asio::deferred_t>
auto fetch_many(client& c, std::vector<typename P::id_type> ids, batch_options opt,
                OnResult on_result, Token&& token = {}) {
    return boost::asio::async_initiate<Token, void(error_code)>(
        detail::fetch_many_initiation<P>{}, token, &c, std::move(ids), opt, std::move(on_result));
}

} // namespace payouts
