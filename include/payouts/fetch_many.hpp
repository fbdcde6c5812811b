// fetch_many<P>: many ids, bounded concurrency, every id answered exactly once, in input order.
#pragma once

#include <payouts/client.hpp>
#include <payouts/diagnostics.hpp>
#include <payouts/fetch.hpp>
#include <payouts/payout.hpp>
#include <payouts/provider.hpp>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <list>
#include <memory>
#include <optional>
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

namespace net = boost::asio;

// The provider's rate limit as its answers describe it: may another fetch start now?
class rate_budget {
public:
    using clock = std::chrono::steady_clock;

    explicit rate_budget(std::chrono::milliseconds pause)
        : pause_(pause) {}

    bool allows() const { return !paused() && left_ != 0; }

    // When a wait for the budget ends by itself: at the end of a pause; otherwise only an answer
    // can change it.
    clock::time_point retry_at() const { return paused() ? resume_ : clock::time_point::max(); }

    void started() {
        ++in_flight_;
        if (left_ > 0) --left_;
    }

    // A fetch ended; `remaining` is the count its last response gave (-1: none).
    void ended(long long remaining, bool rate_limited) {
        --in_flight_;
        // A pause waits for a new window, which starts unknown: answers from before its end do
        // not describe it.
        if (paused()) return;
        if (remaining >= 0) {
            // That count may not include the fetches still in flight; and answers arrive in any
            // order, so an older, larger count never raises the estimate.
            long long const left = std::max(0LL, remaining - static_cast<long long>(in_flight_));
            left_ = left_ < 0 ? left : std::min(left_, left);
        }
        if (rate_limited || (left_ == 0 && in_flight_ == 0)) {
            resume_ = clock::now() + pause_;
            left_ = -1;
        }
    }

private:
    bool paused() const { return clock::now() < resume_; }

    std::chrono::milliseconds pause_;
    clock::time_point resume_{}; // no fetch starts before this
    long long left_ = -1;        // fetches the budget still allows; -1: the provider has not said
    std::size_t in_flight_ = 0;
};

// One fetch_many operation. Its workers run on the client's executor and share this state.
template <class P, class OnResult>
struct batch {
    struct worker {
        explicit worker(net::any_io_executor const& ex)
            : wake(ex) {}
        net::steady_timer wake;        // cancelled by whoever changes what the worker waits for
        net::cancellation_signal stop; // cancels the worker's fetch in flight
    };

    std::shared_ptr<client_core> core; // not the client: the batch may outlive it
    std::vector<typename P::id_type> ids;
    batch_options opt; // normalised
    OnResult on_result;
    net::any_completion_handler<void(error_code)> handler;
    // The handler's executor, kept busy until the handler is handed to it (as fetch does).
    net::any_completion_executor handler_work =
        net::prefer(net::get_associated_executor(handler, executor_of(*core)),
                    net::execution::outstanding_work.tracked);
    rate_budget budget{opt.rate_limit_pause};
    std::list<worker> workers; // stable addresses: each worker coroutine holds its own
    std::size_t running = 0;   // workers not finished yet
    bool cancelled = false;
    std::size_t next = 0;                         // first id never started
    std::size_t reported = 0;                     // ids reported (all before this index)
    std::deque<std::optional<batch_result>> done; // results of [reported, next), when in

    net::any_io_executor const& core_ex() const noexcept { return executor_of(*core); }

    // On the client's executor.
    static void start(std::shared_ptr<batch> const& self) {
        auto slot = net::get_associated_cancellation_slot(self->handler);
        if (slot.is_connected()) slot.assign([self](net::cancellation_type) { self->cancel(); });
        self->running = std::clamp<std::size_t>(self->ids.size(), 1, self->opt.concurrency);
        for (std::size_t i = 0; i < self->running; ++i)
            net::co_spawn(self->core_ex(),
                          self->work(self, self->workers.emplace_back(self->core_ex())),
                          [](std::exception_ptr e) {
                              if (e) std::rethrow_exception(e); // thrown by on_result
                          });
    }

    // `self` keeps the batch alive while the worker runs.
    net::awaitable<void> work([[maybe_unused]] std::shared_ptr<batch> self, worker& w) {
        while (auto const i = co_await next_index(w)) {
            batch_result r;
            r.index = *i;
            for (unsigned refetches = 0;; ++refetches) {
                auto [ec, p] = co_await fetch_on<P>(
                    core, ids[*i], &r.diag,
                    net::bind_cancellation_slot(w.stop.slot(), net::as_tuple(net::use_awaitable)));
                r.ec = ec;
                r.value = std::move(p);
                budget.ended(r.diag.rate_limit_remaining, ec == errc::rate_limited);
                if (ec != errc::rate_limited || refetches == opt.rate_limited_refetches) break;
                // A pause has begun: fetch again when it allows, unless the batch is cancelled
                // first (then this answer is reported).
                wake_all();
                while (!cancelled && !budget.allows())
                    co_await wait(w);
                if (cancelled) break;
                budget.started();
            }
            done[*i - reported] = std::move(r);
            report();
            wake_all();
        }
        if (--running == 0) complete();
    }

    // The next id to fetch, once the reorder window and the rate-limit budget allow it; none
    // when every id has started or the batch was cancelled.
    net::awaitable<std::optional<std::size_t>> next_index(worker& w) {
        while (!cancelled && next < ids.size()) {
            if (budget.allows() && next - reported < opt.reorder_window) {
                budget.started();
                done.emplace_back();
                co_return next++;
            }
            co_await wait(w);
        }
        co_return std::nullopt;
    }

    // Until another worker or a cancellation wakes this one, or the pause ends.
    net::awaitable<void> wait(worker& w) {
        w.wake.expires_at(budget.retry_at());
        co_await w.wake.async_wait(net::as_tuple(net::use_awaitable));
    }

    void wake_all() {
        for (auto& w : workers)
            w.wake.cancel();
    }

    // Reports every finished result that no earlier id still waits for.
    void report() {
        for (; !done.empty() && done.front(); done.pop_front()) {
            ++reported;
            on_result(std::move(*done.front()));
        }
    }

    void cancel() {
        if (cancelled) return;
        cancelled = true;
        // Ids never started are answered now; the others end with their fetch's answer.
        for (; next < ids.size(); ++next) {
            auto& r = done.emplace_back(std::in_place);
            r->index = next;
            r->ec = net::error::operation_aborted;
            r->diag.message = "the batch was cancelled before this id was fetched";
        }
        report();
        for (auto& w : workers)
            w.stop.emit(net::cancellation_type::terminal);
        wake_all();
    }

    void complete() {
        auto slot = net::get_associated_cancellation_slot(handler);
        if (slot.is_connected()) slot.clear(); // it holds a reference to this batch
        error_code const ec = cancelled ? net::error::operation_aborted : error_code();
        net::dispatch(std::exchange(handler_work, {}),
                      [h = std::move(handler), ec]() mutable { std::move(h)(ec); });
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
        [](auto handler, std::shared_ptr<detail::client_core> core, auto ids, batch_options opt,
           OnResult on_result) {
            opt.concurrency = std::max<std::size_t>(opt.concurrency, 1);
            if (opt.reorder_window < opt.concurrency) opt.reorder_window = 4 * opt.concurrency;
            auto const ex = detail::executor_of(*core);
            auto b = std::make_shared<detail::batch<P, OnResult>>(
                std::move(core), std::move(ids), opt, std::move(on_result), std::move(handler));
            // The client's state belongs to its executor, so the batch starts there; posted, so
            // that even an empty batch completes only after the initiating call has returned.
            boost::asio::post(ex, [b] { b->start(b); });
        },
        token, detail_client_access::core(c), std::move(ids), opt, std::move(on_result));
}

} // namespace payouts
