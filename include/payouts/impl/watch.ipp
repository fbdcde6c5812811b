// Definitions for watch.hpp: inline when header-only, else compiled once in src.hpp.
#pragma once

#include <payouts/detail/watch_op.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>

namespace payouts::detail {

PAYOUTS_DECL void start_watch(std::shared_ptr<client_core> core, provider_ops const& ops,
                              fetch_id id, watch_options const& opt,
                              std::unique_ptr<change_sink> on_change, diagnostics* diag,
                              fetch_handler handler) {
    auto const io = core->ex;
    auto j = std::make_shared<watch_job>(std::move(core), ops, std::move(id), opt,
                                         std::move(on_change), diag);
    auto slot = net::get_associated_cancellation_slot(handler);
    if (slot.is_connected())
        slot.assign([w = std::weak_ptr<watch_job>(j)](net::cancellation_type t) {
            if (auto const job = w.lock(); job && t != net::cancellation_type::none)
                job->stop(false);
        });
    j->limit.expires_at(j->start + opt.deadline);
    j->limit.async_wait([w = std::weak_ptr<watch_job>(j)](error_code ec) {
        if (auto const job = w.lock(); job && !ec) job->stop(true);
    });
    net::any_completion_executor work = net::prefer(net::get_associated_executor(handler, io),
                                                    net::execution::outstanding_work.tracked);
    net::co_spawn(
        io, run_watch(j),
        [j, slot, h = std::move(handler), work = std::move(work)](std::exception_ptr e) mutable {
            if (slot.is_connected()) slot.clear();
            if (e) std::rethrow_exception(e); // thrown by on_change, as documented
            error_code ec = j->ec;
            payout p = std::move(j->last);
            j.reset();
            net::dispatch(std::move(work), [h = std::move(h), ec, p = std::move(p)]() mutable {
                std::move(h)(ec, std::move(p));
            });
        });
}

} // namespace payouts::detail
