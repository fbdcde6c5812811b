// What a user writes: one coroutine that awaits a fetch from each of the five providers and
// prints something from each payout. Timed by benchmarks/compile; compiled and linked, not run.
#include <payouts/payouts.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>

namespace asio = boost::asio;

static void print(payouts::payout const& p) {
    std::cout << p.provider << ' ' << p.id << ' ' << payouts::to_string(p.status);
    if (p.amount) std::cout << ' ' << p.amount->to_decimal_string() << ' ' << p.amount->currency;
    std::cout << '\n';
}

static asio::awaitable<void> run(payouts::client& c) {
    print(co_await payouts::fetch<payouts::Truust>(c, 1234567, asio::use_awaitable));
    print(co_await payouts::fetch<payouts::Druo>(c, "PAY-123", asio::use_awaitable));
    print(co_await payouts::fetch<payouts::Checkout>(c, "pay_abc", asio::use_awaitable));
    print(co_await payouts::fetch<payouts::Yuno>(c, "7d1b0f8e", asio::use_awaitable));
    print(co_await payouts::fetch<payouts::Introw>(c, "po_42", asio::use_awaitable));
}

int main() {
    asio::io_context ctx;
    payouts::client c(ctx);
    asio::co_spawn(ctx, run(c), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
    ctx.run();
}
