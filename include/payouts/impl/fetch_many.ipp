// Definitions for fetch_many.hpp: inline when header-only, else compiled once in src.hpp.
#pragma once

#include <payouts/detail/batch.hpp>

#include <boost/asio/post.hpp>

namespace payouts::detail {

PAYOUTS_DECL void start_batch(std::shared_ptr<client_core> core, provider_ops const& ops,
                              std::vector<fetch_id> ids, batch_options opt,
                              std::unique_ptr<result_sink> on_result, batch_handler handler) {
    opt.concurrency = std::max<std::size_t>(opt.concurrency, 1);
    if (opt.reorder_window < opt.concurrency) opt.reorder_window = 4 * opt.concurrency;
    auto const ex = core->ex;
    auto b = std::make_shared<batch>(std::move(core), ops, std::move(ids), opt,
                                     std::move(on_result), std::move(handler));
    // The client's state belongs to its executor, so the batch starts there.
    net::post(ex, [b] { b->start(b); });
}

} // namespace payouts::detail
