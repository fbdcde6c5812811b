// Definitions for fetch.hpp: inline when header-only, else compiled once in src.hpp.
#pragma once

#include <payouts/detail/fetch_op.hpp>
#include <payouts/detail/provider_ops.hpp>

namespace payouts::detail {

PAYOUTS_DECL void start_fetch(std::shared_ptr<client_core> core, provider_ops const& ops,
                              fetch_id id, diagnostics* diag, fetch_handler handler) {
    auto const io = core->ex;
    auto j = std::make_shared<fetch_job>(std::move(core), ops, diag);
    j->id_segment = std::move(id.segment);
    j->ec = id.ec;
    j->diag.message = std::move(id.why);
    // Any cancellation type ends the fetch, closing the connection it was using (the
    // coroutine's own slot stays empty).
    auto slot = net::get_associated_cancellation_slot(handler);
    if (slot.is_connected())
        slot.assign([w = std::weak_ptr<fetch_job>(j)](net::cancellation_type t) {
            if (auto const job = w.lock(); job && t != net::cancellation_type::none) job->cancel();
        });
    net::any_completion_executor work = net::prefer(net::get_associated_executor(handler, io),
                                                    net::execution::outstanding_work.tracked);
    net::co_spawn(io, run_fetch(j), fetch_completion{std::move(handler), j, slot, std::move(work)});
}

} // namespace payouts::detail
