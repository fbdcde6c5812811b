// What the fetch tests share: a client configuration that trusts the test server, providers
// added by name, and one fetch run to completion.
#pragma once

#include "https_server.hpp"
#include "run_until.hpp"

#include <payouts/payouts.hpp>

#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <utility>

namespace test_support {

using creds = std::map<std::string, std::string, std::less<>>;

/// Trusts `srv`'s CA alone; short backoffs and a 5 s deadline keep failing cases quick.
inline payouts::client_config config_for(server const& srv) {
    using namespace std::chrono_literals;
    payouts::client_config c;
    c.use_system_roots = false;
    c.ca_pem = srv.ca_pem();
    c.retry.backoff_base = 1ms;
    c.retry.backoff_cap = 4ms;
    c.deadline = 5s;
    c.user_agent = "payouts-test/1";
    return c;
}

inline void add_provider(payouts::client_config& c, std::string const& name, std::string base,
                         creds cr, std::string token_url = {}) {
    c.providers[name] =
        payouts::provider_config{std::move(base), std::move(token_url), std::move(cr)};
}

struct outcome {
    payouts::error_code ec;
    payouts::payout p;
    payouts::diagnostics d;
    bool done = false;
};

/// Fetches and runs `ioc` (the server included) until that fetch completes. A fetch still
/// running after `cap`, far beyond any deadline the tests use, is a hang: the test fails. Tests
/// keep their checks out of coroutines: GCC 12 builds big coroutine bodies full of assertions
/// very slowly.
template <class P>
outcome get(boost::asio::io_context& ioc, payouts::client& c, typename P::id_type id,
            std::chrono::seconds cap = std::chrono::seconds(30)) {
    outcome o;
    payouts::fetch<P>(c, std::move(id), o.d, [&o](payouts::error_code ec, payouts::payout p) {
        o.ec = ec;
        o.p = std::move(p);
        o.done = true;
    });
    REQUIRE_MESSAGE(run_until(
                        ioc, [&o] { return o.done; }, cap),
                    "the fetch did not complete within " << cap.count() << " s");
    return o;
}

} // namespace test_support
