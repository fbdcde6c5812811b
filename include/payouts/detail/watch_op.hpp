// One watch as one coroutine: fetch, report a change, stop at a terminal status, else wait with
// backoff and fetch again. Not a template: the provider arrives as data, as for fetch.
#pragma once

#include <payouts/client.hpp>
#include <payouts/detail/client_core.hpp>
#include <payouts/detail/fetch_op.hpp>
#include <payouts/detail/provider_ops.hpp>
#include <payouts/detail/retry.hpp>
#include <payouts/watch.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <tuple>

namespace payouts::detail {

struct watch_job : std::enable_shared_from_this<watch_job> {
    watch_job(std::shared_ptr<client_core> c, provider_ops const& o, fetch_id i, watch_options w,
              std::unique_ptr<change_sink> s, diagnostics* d)
        : out_diag(d)
        , core(std::move(c))
        , ops(o)
        , id(std::move(i))
        , opt(w)
        , on_change(std::move(s))
        , timer(core->ex)
        , limit(core->ex) {}

    diagnostics* out_diag; // written at completion when not null
    diagnostics diag;      // the last fetch's
    std::shared_ptr<client_core> core;
    provider_ops const& ops;
    fetch_id id;
    watch_options opt;
    std::unique_ptr<change_sink> on_change;
    net::steady_timer timer;             // the wait between fetches
    net::steady_timer limit;             // the watch's deadline
    net::cancellation_signal fetch_stop; // cancels the fetch in flight
    steady::time_point start = steady::now();
    payout last; // the last payout seen (empty until a fetch succeeds)
    bool seen = false;
    error_code ec;
    bool cancelled = false;
    bool timed_out = false;

    // Cancellation and the deadline end whatever is pending: a wait or a fetch.
    void stop(bool by_deadline) {
        if (cancelled || timed_out) return;
        (by_deadline ? timed_out : cancelled) = true;
        timer.cancel();
        fetch_stop.emit(net::cancellation_type::terminal);
    }

    void emit_wait(unsigned fetches, std::chrono::milliseconds delay) const {
        fetch_event e;
        e.kind = fetch_event_kind::watch_wait;
        e.provider = ops.transport.name;
        e.id = id.segment;
        e.attempt = fetches;
        e.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
        e.delay = delay;
        notify(core->cfg, e);
    }
};

inline net::awaitable<void> run_watch(std::shared_ptr<watch_job> jp) {
    watch_job& j = *jp;
    unsigned backoff = 1; // the doubling's step, from 1; a change starts it over
    for (unsigned fetches = 1;; ++fetches) {
        diagnostics& d = j.diag;
        d.clear();
        auto [ec, p] = co_await fetch_inside(j.core, j.ops, j.id, d, j.fetch_stop.slot());
        if (j.cancelled || j.timed_out) break;
        std::chrono::milliseconds at_least{0};
        if (!ec) {
            bool const changed =
                !j.seen || p.status != j.last.status || p.provider_status != j.last.provider_status;
            j.last = std::move(p);
            j.seen = true;
            if (changed) {
                backoff = 1;
                (*j.on_change)(j.last);
            }
            if (j.opt.terminal.contains(j.last.status)) break;
        } else if (ec == condition::retryable) {
            if (d.retry_after.count() >= 0)
                at_least = d.retry_after;
            else if (ec == errc::rate_limited)
                at_least = j.opt.rate_limit_pause;
        } else {
            j.ec = ec;
            break;
        }
        if (d.rate_limit_remaining == 0) at_least = std::max(at_least, j.opt.rate_limit_pause);
        auto const wait = std::max(at_least, full_jitter(j.opt.first_interval, j.opt.max_interval,
                                                         backoff++, j.core->rng));
        j.emit_wait(fetches, wait);
        // A wait that reaches past the deadline is ended by the deadline's timer (timed_out).
        j.timer.expires_after(wait);
        error_code ignored;
        co_await j.timer.async_wait(on_error(ignored));
        if (j.cancelled || j.timed_out) break;
    }
    if (j.cancelled) {
        j.ec = net::error::operation_aborted;
        j.diag.message = "cancelled";
    } else if (j.timed_out) {
        j.ec = errc::timeout;
        j.diag.message = !j.seen ? "the deadline passed before a fetch succeeded"
                                 : "the deadline passed with the payout still " +
                                       std::string(to_string(j.last.status)) + " (" +
                                       j.last.provider_status + ")";
    }
    j.limit.cancel();
    if (j.out_diag) *j.out_diag = std::move(j.diag);
}

} // namespace payouts::detail
