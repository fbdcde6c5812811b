// The state of one fetch_many: workers on the client's executor taking ids in turn, within the
// reorder window and the provider's rate-limit budget, reporting results in input order.
// Reached through fetch_many.hpp (impl/fetch_many.ipp): include that first.
#pragma once

#include <payouts/client.hpp>
#include <payouts/detail/client_core.hpp>
#include <payouts/detail/fetch_op.hpp>
#include <payouts/detail/provider_ops.hpp>
#include <payouts/fetch_many.hpp>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
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
#include <tuple>
#include <utility>
#include <vector>

namespace payouts::detail {

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
// Not a template: ids arrive encoded and results leave through a result_sink.
struct batch {
    // A constructor, not aggregate initialization: clang before 16 cannot make_shared an
    // aggregate.
    batch(std::shared_ptr<client_core> c, provider_ops const& o, std::vector<fetch_id> i,
          batch_options op, std::unique_ptr<result_sink> r, batch_handler h)
        : core(std::move(c))
        , ops(o)
        , ids(std::move(i))
        , opt(op)
        , on_result(std::move(r))
        , handler(std::move(h)) {}

    struct worker {
        explicit worker(net::any_io_executor const& ex)
            : wake(ex) {}
        net::steady_timer wake;        // cancelled by whoever changes what the worker waits for
        net::cancellation_signal stop; // cancels the worker's fetch in flight
    };

    std::shared_ptr<client_core> core; // not the client: the batch may outlive it
    provider_ops const& ops;
    std::vector<fetch_id> ids;
    batch_options opt; // normalised
    std::unique_ptr<result_sink> on_result;
    batch_handler handler;
    // The handler's executor, kept busy until the handler is handed to it (as fetch does).
    net::any_completion_executor handler_work = net::prefer(
        net::get_associated_executor(handler, core->ex), net::execution::outstanding_work.tracked);
    rate_budget budget{opt.rate_limit_pause};
    std::list<worker> workers; // stable addresses: each worker coroutine holds its own
    std::size_t running = 0;   // workers not finished yet
    bool cancelled = false;
    std::size_t next = 0;                         // first id never started
    std::size_t reported = 0;                     // ids reported (all before this index)
    std::deque<std::optional<batch_result>> done; // results of [reported, next), when in

    // On the client's executor.
    static void start(std::shared_ptr<batch> const& self) {
        auto slot = net::get_associated_cancellation_slot(self->handler);
        if (slot.is_connected()) slot.assign([self](net::cancellation_type) { self->cancel(); });
        self->running = std::clamp<std::size_t>(self->ids.size(), 1, self->opt.concurrency);
        for (std::size_t i = 0; i < self->running; ++i)
            net::co_spawn(self->core->ex,
                          self->work(self, self->workers.emplace_back(self->core->ex)),
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
                auto [ec, p] = co_await fetch_inside(core, ops, ids[*i], r.diag, w.stop.slot());
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
            (*on_result)(std::move(*done.front()));
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

} // namespace payouts::detail
