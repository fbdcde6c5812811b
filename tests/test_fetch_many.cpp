// fetch_many against a real HTTPS server on 127.0.0.1 (tests/support): input order, exactly
// once, bounded concurrency and reorder window, the rate-limit budget and pauses, refetches,
// cancellation, a client destroyed mid-batch, initiation from another thread, and the budget's
// arithmetic on its own.
// Two GCC 12 diagnostics about Boost.Asio's own code, silenced for this file only (the build
// uses -Werror): with -fsanitize=address a false -Wmaybe-uninitialized inside use_future's
// async_completion, and with -fsanitize=thread -Wtsan for the std::atomic_thread_fence in Asio's
// fenced blocks (TSan does not model fences; Asio's synchronisation is otherwise mutex-based).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#if __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wtsan"
#endif
#endif

#include <payouts/payouts.hpp>

#include <payouts/detail/batch.hpp> // rate_budget

#include "support/fetch_helpers.hpp"
#include "support/https_server.hpp"
#include "support/run_until.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace payouts;
using namespace std::chrono_literals;
namespace net = boost::asio;
using test_support::add_provider;
using test_support::config_for;
using test_support::reply;
using test_support::request_record;
using test_support::server;

namespace {

std::string fixture(std::string const& rel) {
    std::ifstream in(std::string(PAYOUTS_FIXTURES_DIR) + "/" + rel, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), rel);
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
}

std::string yuno_body(std::string const& id) {
    return R"({"id":")" + id +
           R"(","status":"SUCCEEDED","amount":{"value":10.01,"currency":"BRL"}})";
}

void add_yuno(client_config& c, server const& srv) {
    add_provider(c, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
}

std::string last_segment(std::string const& target) {
    return target.substr(target.rfind('/') + 1);
}

std::vector<std::string> numbered_ids(int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i)
        ids.push_back("id-" + std::to_string(i));
    return ids;
}

using test_support::run_until;

// Runs every handler that is ready, and those they make ready, until none is: whatever the
// batch would do now without a timer firing has been done.
void settle(net::io_context& ioc) {
    ioc.restart();
    while (ioc.poll() != 0) {
    }
}

// What a fetch_many batch reported.
struct batch_run {
    std::vector<batch_result> results;
    std::optional<error_code> done;
    bool answered_inline = false; // a result or the completion came inside the initiating call
};

template <class P>
void start_batch(client& c, std::vector<typename P::id_type> ids, batch_options opt, batch_run& b,
                 net::cancellation_slot slot = {}) {
    fetch_many<P>(
        c, std::move(ids), opt, [&b](batch_result&& r) { b.results.push_back(std::move(r)); },
        net::bind_cancellation_slot(slot, [&b](error_code ec) { b.done = ec; }));
    b.answered_inline = !b.results.empty() || b.done.has_value();
}

// Runs a batch to its end; checks it ended without an error, answered nothing inline, and
// answered every id once, in input order.
template <class P>
batch_run run_batch(net::io_context& ioc, client& c, std::vector<typename P::id_type> ids,
                    batch_options opt) {
    batch_run b;
    auto const n = ids.size();
    start_batch<P>(c, std::move(ids), opt, b);
    CHECK(!b.answered_inline);
    REQUIRE(run_until(ioc, [&] { return b.done.has_value(); }));
    CHECK(!*b.done);
    REQUIRE(b.results.size() == n);
    for (std::size_t i = 0; i < n; ++i)
        CHECK(b.results[i].index == i);
    return b;
}

} // namespace

TEST_CASE("fetch_many: input order, exactly once, typed errors, at most `concurrency` at once") {
    net::io_context ioc;
    batch_run b;
    long long furthest_ahead = 0; // largest (id started) - (ids reported), seen by the server
    // Later ids answer sooner, so results arrive out of order; every seventh id is unknown.
    server srv(ioc, [&](request_record const& r) {
        auto const id = last_segment(r.target);
        int const n = std::stoi(id.substr(3));
        furthest_ahead = std::max(furthest_ahead, n - static_cast<long long>(b.results.size()));
        if (n % 7 == 3) return reply::json(404, R"({"code":"NOT_FOUND","messages":["none"]})");
        auto rep = reply::json(200, yuno_body(id));
        rep.delay = std::chrono::milliseconds(40 - n % 5 * 10);
        return rep;
    });
    auto cfg = config_for(srv);
    cfg.deadline = 30s;
    int in_flight = 0, most_in_flight = 0;
    cfg.on_event = [&](fetch_event const& e) {
        if (e.kind == fetch_event_kind::attempt_start)
            most_in_flight = std::max(most_in_flight, ++in_flight);
        if (e.kind == fetch_event_kind::attempt_end) --in_flight;
    };
    add_yuno(cfg, srv);
    client c(ioc, cfg);
    auto const ids = numbered_ids(60);
    start_batch<Yuno>(c, ids, batch_options{.concurrency = 4, .reorder_window = 8}, b);
    CHECK(!b.answered_inline);
    REQUIRE(run_until(ioc, [&] { return b.done.has_value(); }));
    CHECK(!*b.done);
    REQUIRE(b.results.size() == ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        auto const& r = b.results[i];
        CHECK(r.index == i);
        if (i % 7 == 3) {
            CHECK(r.ec == errc::not_found);
            CHECK(r.diag.http_status == 404);
        } else {
            CHECK_MESSAGE(!r.ec, ids[i] << ": " << r.ec.message());
            CHECK(r.value.id == ids[i]);
            CHECK(r.value.amount == money{1001, 2, "BRL"});
        }
    }
    CHECK(srv.requests.size() == ids.size()); // each id asked once (404 is not retried)
    CHECK(most_in_flight == 4);               // the concurrency is used, never exceeded
    CHECK(srv.connections <= 4);              // one connection per fetch in flight, at most 4
    CHECK(furthest_ahead < 8);                // never beyond the reorder window
}

TEST_CASE("fetch_many: a result that frees the reorder window starts the next fetches") {
    net::io_context ioc;
    batch_run b;
    long long furthest_ahead = 0;
    // The first id is slow: while it holds its slot the window fills with finished results.
    server srv(ioc, [&](request_record const& r) {
        auto const id = last_segment(r.target);
        furthest_ahead = std::max(furthest_ahead, std::stoll(id.substr(3)) -
                                                      static_cast<long long>(b.results.size()));
        auto rep = reply::json(200, yuno_body(id));
        if (id == "id-0") rep.delay = 300ms;
        return rep;
    });
    auto cfg = config_for(srv);
    add_yuno(cfg, srv);
    client c(ioc, cfg);
    auto const ids = numbered_ids(12);
    start_batch<Yuno>(c, ids, batch_options{.concurrency = 2, .reorder_window = 2}, b);
    REQUIRE(run_until(ioc, [&] { return b.done.has_value(); }));
    CHECK(!*b.done);
    REQUIRE(b.results.size() == ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        CHECK(b.results[i].index == i);
        CHECK_MESSAGE(!b.results[i].ec, b.results[i].ec.message());
        CHECK(b.results[i].value.id == ids[i]);
    }
    CHECK(furthest_ahead < 2);
    CHECK(srv.requests.size() == ids.size());
}

TEST_CASE("fetch_many: a spent rate-limit budget stops new fetches; cancelling answers the rest") {
    net::io_context ioc;
    int budget = 3; // Introw's remaining-per-minute header counts down to 0
    server srv(ioc, [&](request_record const&) {
        auto rep = reply::json(200, fixture("introw/get-payout-200-pending-review.json"));
        rep.headers.emplace_back("x-ratelimit-limit-minute", "3");
        rep.headers.emplace_back("x-ratelimit-remaining-minute", std::to_string(--budget));
        return rep;
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "introw", srv.url(), {{"API_KEY", "k"}});
    client c(ioc, cfg);
    batch_run b;
    net::cancellation_signal stop;
    start_batch<Introw>(c, std::vector<std::string>(6, "pay_2x7n4q8z0w1a2b3c4d5e6f7g"),
                        batch_options{.concurrency = 1, .rate_limit_pause = 1h}, b, stop.slot());
    // Three answers spend the budget; with a one-hour pause nothing else may be sent.
    REQUIRE(run_until(ioc, [&] { return b.results.size() == 3; }));
    settle(ioc);
    CHECK(!b.done.has_value());
    REQUIRE(b.results.size() == 3);
    CHECK(srv.requests.size() == 3);
    CHECK(b.results[2].diag.rate_limit_remaining == 0);
    for (auto const& r : b.results)
        CHECK(!r.ec);
    // Cancelling during the pause answers the three ids never started, in order, once each.
    stop.emit(net::cancellation_type::terminal);
    REQUIRE(run_until(ioc, [&] { return b.done.has_value(); }));
    CHECK(*b.done == net::error::operation_aborted);
    REQUIRE(b.results.size() == 6);
    for (std::size_t i = 0; i < 6; ++i) {
        CHECK(b.results[i].index == i);
        if (i >= 3) CHECK(b.results[i].ec == net::error::operation_aborted);
    }
    CHECK(srv.requests.size() == 3);
}

TEST_CASE("fetch_many: after the rate-limit pause the batch goes on") {
    net::io_context ioc;
    server srv(ioc, [&](request_record const&) {
        auto rep = reply::json(200, fixture("introw/get-payout-200-pending-review.json"));
        // The second answer says the budget is spent; the window then resets.
        rep.headers.emplace_back("x-ratelimit-remaining-minute",
                                 srv.requests.size() == 2 ? "0" : "5");
        return rep;
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "introw", srv.url(), {{"API_KEY", "k"}});
    client c(ioc, cfg);
    batch_run b;
    start_batch<Introw>(c, std::vector<std::string>(4, "pay_2x7n4q8z0w1a2b3c4d5e6f7g"),
                        batch_options{.concurrency = 1, .rate_limit_pause = 300ms}, b);
    // Stopped after the second answer (until the pause's timer fires)...
    REQUIRE(run_until(ioc, [&] { return b.results.size() == 2; }));
    settle(ioc);
    CHECK(srv.requests.size() == 2);
    CHECK(!b.done.has_value());
    // ...then goes on.
    REQUIRE(run_until(ioc, [&] { return b.done.has_value(); }));
    CHECK(!*b.done);
    REQUIRE(b.results.size() == 4);
    for (auto const& r : b.results)
        CHECK_MESSAGE(!r.ec, r.ec.message());
    CHECK(srv.requests.size() == 4);
}

TEST_CASE("fetch_many: Introw's remaining budget caps the fetches started, with 4 at once") {
    net::io_context ioc;
    // A budget of 5 requests per 300 ms window; beyond it, 429 (Introw sends no Retry-After).
    // The batch's pause is longer than a window, so after it a new window has begun.
    auto const t0 = std::chrono::steady_clock::now();
    std::map<long long, int> per_window;
    int refused = 0;
    server srv(ioc, [&](request_record const&) {
        auto const w = (std::chrono::steady_clock::now() - t0) / 300ms;
        int const used = ++per_window[w];
        if (used > 5) {
            ++refused;
            auto rep = reply::json(429, R"({"error":{"code":"RATE_LIMITED","message":"slow"}})");
            rep.headers.emplace_back("x-ratelimit-remaining-minute", "0");
            return rep;
        }
        auto rep = reply::json(200, fixture("introw/get-payout-200-pending-review.json"));
        rep.headers.emplace_back("x-ratelimit-remaining-minute", std::to_string(5 - used));
        return rep;
    });
    auto cfg = config_for(srv);
    cfg.retry.max_attempts = 1; // a 429 would end the fetch: none may happen
    add_provider(cfg, "introw", srv.url(), {{"API_KEY", "k"}});
    client c(ioc, cfg);
    auto const b =
        run_batch<Introw>(ioc, c, std::vector<std::string>(12, "pay_2x7n4q8z0w1a2b3c4d5e6f7g"),
                          batch_options{.concurrency = 4, .rate_limit_pause = 350ms});
    for (auto const& r : b.results)
        CHECK_MESSAGE(!r.ec, r.ec.message());
    CHECK(refused == 0);
    CHECK(srv.requests.size() == 12);
    for (auto const& [w, n] : per_window)
        CHECK(n <= 5);
}

TEST_CASE("fetch_many: an id still rate-limited after its retries is fetched again later") {
    net::io_context ioc;
    std::map<std::string, int> seen;
    server srv(ioc, [&](request_record const& r) {
        auto const id = last_segment(r.target);
        int const n = ++seen[id];
        // "once" is refused on its first request; "always" on every one.
        if ((id == "once" && n == 1) || id == "always")
            return reply::json(429, R"({"code":"TOO_MANY_REQUESTS","messages":["slow down"]})");
        return reply::json(200, yuno_body(id));
    });
    auto cfg = config_for(srv);
    cfg.retry.max_attempts = 1;
    add_yuno(cfg, srv);
    client c(ioc, cfg);
    auto const b = run_batch<Yuno>(
        ioc, c, std::vector<std::string>{"a", "once", "b", "always", "c"},
        batch_options{.concurrency = 2, .rate_limit_pause = 50ms, .rate_limited_refetches = 2});
    CHECK(!b.results[1].ec);
    CHECK(b.results[1].value.id == "once");
    CHECK(seen["once"] == 2);
    CHECK(b.results[3].ec == errc::rate_limited); // 1 + 2 refetches, then reported
    CHECK(b.results[3].diag.http_status == 429);
    CHECK(seen["always"] == 3);
    CHECK(!b.results[0].ec);
    CHECK(!b.results[2].ec);
    CHECK(!b.results[4].ec);
}

TEST_CASE("fetch_many: cancelled while an id waits to be fetched again, it keeps its 429") {
    net::io_context ioc;
    server srv(ioc, [&](request_record const& r) {
        auto const id = last_segment(r.target);
        if (id == "limited")
            return reply::json(429, R"({"code":"TOO_MANY_REQUESTS","messages":["slow down"]})");
        return reply::json(200, yuno_body(id));
    });
    auto cfg = config_for(srv);
    cfg.retry.max_attempts = 1;
    add_yuno(cfg, srv);
    client c(ioc, cfg);
    batch_run b;
    net::cancellation_signal stop;
    start_batch<Yuno>(c, {"a", "limited", "b"},
                      batch_options{.concurrency = 1, .rate_limit_pause = 1h}, b, stop.slot());
    // "limited" is refused and queued to be fetched again after an hour's pause.
    REQUIRE(run_until(ioc, [&] { return srv.requests.size() == 2 && b.results.size() == 1; }));
    settle(ioc);
    CHECK(srv.requests.size() == 2);
    stop.emit(net::cancellation_type::terminal);
    REQUIRE(run_until(ioc, [&] { return b.done.has_value(); }));
    CHECK(*b.done == net::error::operation_aborted);
    REQUIRE(b.results.size() == 3);
    CHECK(!b.results[0].ec);
    CHECK(b.results[1].index == 1);
    CHECK(b.results[1].ec == errc::rate_limited);
    CHECK(b.results[1].diag.http_status == 429);
    CHECK(b.results[2].index == 2);
    CHECK(b.results[2].ec == net::error::operation_aborted);
    CHECK(srv.requests.size() == 2);
}

TEST_CASE("fetch_many: cancellation mid-batch answers every id exactly once, in order") {
    net::io_context ioc;
    // The first five ids answer; from the sixth on the server never does.
    server srv(ioc, [&](request_record const& r) {
        auto const id = last_segment(r.target);
        auto rep = reply::json(200, yuno_body(id));
        rep.stall = std::stoi(id.substr(3)) >= 5;
        return rep;
    });
    auto cfg = config_for(srv);
    cfg.deadline = 60s; // only the cancellation may end the stalled fetches
    add_yuno(cfg, srv);
    client c(ioc, cfg);
    auto const ids = numbered_ids(20);
    batch_run b;
    net::cancellation_signal stop;
    start_batch<Yuno>(c, ids, batch_options{.concurrency = 3}, b, stop.slot());
    // Five answered, three stalled in flight (id-5..7), twelve never started.
    REQUIRE(run_until(ioc, [&] { return b.results.size() == 5 && srv.requests.size() == 8; }));
    settle(ioc);
    CHECK(b.results.size() == 5);
    CHECK(srv.requests.size() == 8);
    stop.emit(net::cancellation_type::terminal);
    REQUIRE(run_until(ioc, [&] { return b.done.has_value(); }));
    CHECK(*b.done == net::error::operation_aborted);
    settle(ioc);
    REQUIRE(b.results.size() == ids.size()); // nothing more after the completion either
    for (std::size_t i = 0; i < ids.size(); ++i) {
        auto const& r = b.results[i];
        CHECK(r.index == i);
        if (i < 5) {
            CHECK_MESSAGE(!r.ec, r.ec.message());
            CHECK(r.value.id == ids[i]);
        } else {
            CHECK(r.ec == net::error::operation_aborted);
        }
        if (i >= 8) CHECK(r.diag.message.find("cancelled before") != std::string::npos);
    }
    CHECK(srv.requests.size() == 8);
}

TEST_CASE("fetch_many: the client destroyed right after initiating, the batch still completes") {
    net::io_context ioc;
    server srv(ioc, [&](request_record const& r) {
        auto rep = reply::json(200, yuno_body(last_segment(r.target)));
        rep.delay = 10ms;
        return rep;
    });
    auto cfg = config_for(srv);
    add_yuno(cfg, srv);
    auto const ids = numbered_ids(8);
    batch_run b;
    {
        client c(ioc, cfg);
        start_batch<Yuno>(c, ids, batch_options{.concurrency = 3}, b);
    }
    CHECK(!b.answered_inline);
    REQUIRE(run_until(ioc, [&] { return b.done.has_value(); }));
    CHECK(!*b.done);
    REQUIRE(b.results.size() == ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        CHECK(b.results[i].index == i);
        CHECK_MESSAGE(!b.results[i].ec, b.results[i].ec.message());
        CHECK(b.results[i].value.id == ids[i]);
    }
    CHECK(srv.requests.size() == ids.size());
}

TEST_CASE("fetch_many: a handler bound to another io_context keeps its run() until it runs") {
    net::io_context ioc;
    server srv(ioc, [&](request_record const& r) {
        return reply::json(200, yuno_body(last_segment(r.target)));
    });
    auto cfg = config_for(srv);
    add_yuno(cfg, srv);
    client c(ioc, cfg);
    auto const ids = numbered_ids(4);
    net::io_context other; // only the completion runs there: the batch's work keeps it running
    std::atomic<bool> called = false;
    error_code got = net::error::would_block;
    std::thread::id ran_on;
    std::size_t reported = 0;
    fetch_many<Yuno>(
        c, ids, batch_options{.concurrency = 2}, [&](batch_result&& r) { reported += !r.ec; },
        net::bind_executor(other, [&](error_code ec) {
            got = ec;
            ran_on = std::this_thread::get_id();
            called = true;
        }));
    std::thread t([&] { other.run(); });
    auto const other_thread = t.get_id();
    bool const done = run_until(ioc, [&] { return called.load(); });
    if (!done) other.stop(); // let the thread end so that the failure is reported
    t.join();
    REQUIRE(done);
    CHECK_MESSAGE(!got, got.message());
    CHECK(ran_on == other_thread);
    CHECK(reported == ids.size());
}

TEST_CASE("fetch_many: initiated from another thread with use_future") {
    net::io_context ioc;
    server srv(ioc, [&](request_record const& r) {
        return reply::json(200, yuno_body(last_segment(r.target)));
    });
    auto cfg = config_for(srv);
    add_yuno(cfg, srv);
    client c(ioc, cfg);
    auto const ids = numbered_ids(6);
    // Written on the io_context's thread only; the future's readiness publishes them here.
    std::vector<batch_result> results;
    auto guard = net::make_work_guard(ioc);
    std::thread io_thread([&] { ioc.run(); });
    std::future<void> f = fetch_many<Yuno>(
        c, ids, batch_options{.concurrency = 2},
        [&](batch_result&& r) { results.push_back(std::move(r)); }, net::use_future);
    bool const ready = f.wait_for(30s) == std::future_status::ready;
    guard.reset();
    ioc.stop();
    io_thread.join();
    REQUIRE(ready);
    CHECK_NOTHROW(f.get());
    REQUIRE(results.size() == ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        CHECK(results[i].index == i);
        CHECK_MESSAGE(!results[i].ec, results[i].ec.message());
        CHECK(results[i].value.id == ids[i]);
    }
}

TEST_CASE("fetch_many: the handler never runs inside the initiating call") {
    net::io_context ioc;
    // No provider configured: every fetch fails at once (missing_credentials), nothing is sent.
    client_config cfg;
    cfg.use_system_roots = false;
    client c(ioc, cfg);
    std::vector<std::string> const three{"x", "y", "z"};
    auto const check_answers = [&](batch_run const& b, std::size_t n) {
        CHECK(!b.answered_inline);
        REQUIRE(b.done.has_value());
        CHECK(!*b.done);
        REQUIRE(b.results.size() == n);
        for (std::size_t i = 0; i < n; ++i) {
            CHECK(b.results[i].index == i);
            CHECK(b.results[i].ec == errc::missing_credentials);
        }
    };

    SUBCASE("from outside the io_context") {
        batch_run empty, failing;
        start_batch<Yuno>(c, {}, {}, empty);
        start_batch<Yuno>(c, three, {}, failing);
        REQUIRE(run_until(ioc, [&] { return empty.done && failing.done; }));
        check_answers(empty, 0);
        check_answers(failing, 3);
    }
    SUBCASE("from a handler on the client's executor, where the start runs inline") {
        batch_run empty, failing;
        net::post(ioc, [&] {
            start_batch<Yuno>(c, {}, {}, empty);
            start_batch<Yuno>(c, three, {.concurrency = 1}, failing);
        });
        REQUIRE(run_until(ioc, [&] { return empty.done && failing.done; }));
        check_answers(empty, 0);
        check_answers(failing, 3);
    }
}

TEST_CASE("fetch_many: use_awaitable and deferred complete like a callback") {
    net::io_context ioc;
    client_config cfg;
    cfg.use_system_roots = false;
    client c(ioc, cfg);
    std::vector<std::size_t> awaited, deferred;
    // Built out here: GCC 12 rejects a braced list of strings inside a coroutine body.
    std::vector<std::string> const two{"a", "b"}, three{"c", "d", "e"};
    bool finished = false;
    std::exception_ptr failure;
    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
            co_await fetch_many<Yuno>(
                c, two, {}, [&](batch_result&& r) { awaited.push_back(r.index); },
                net::use_awaitable);
            co_await fetch_many<Yuno>(c, three, {},
                                      [&](batch_result&& r) { deferred.push_back(r.index); });
        },
        [&](std::exception_ptr e) {
            failure = e;
            finished = true;
        });
    REQUIRE(run_until(ioc, [&] { return finished; }));
    CHECK(!failure);
    CHECK(awaited == std::vector<std::size_t>{0, 1});
    CHECK(deferred == std::vector<std::size_t>{0, 1, 2});
}

TEST_CASE("rate_budget: in-flight fetches count, older larger answers never raise it, pauses") {
    using payouts::detail::rate_budget;
    SUBCASE("the remaining count less the fetches still in flight") {
        rate_budget b(1h);
        for (int i = 0; i < 4; ++i) {
            CHECK(b.allows()); // nothing said yet
            b.started();
        }
        b.ended(4, false); // 3 still in flight may spend 3 of those 4
        CHECK(b.allows());
        b.started();
        CHECK(!b.allows());
        CHECK(b.retry_at() == rate_budget::clock::time_point::max()); // only an answer can help
    }
    SUBCASE("an older, larger count does not raise the estimate") {
        rate_budget b(1h);
        b.started();
        b.started();
        b.started();
        b.ended(10, false); // 2 in flight: 8 left
        b.ended(50, false); // 1 in flight: still 8
        for (int i = 0; i < 8; ++i) {
            CHECK(b.allows());
            b.started();
        }
        CHECK(!b.allows());
    }
    SUBCASE("spent: the pause starts when the last fetch in flight ends") {
        rate_budget b(1h);
        b.started();
        b.started();
        b.ended(0, false);
        CHECK(!b.allows());
        CHECK(b.retry_at() == rate_budget::clock::time_point::max()); // one still in flight
        b.ended(-1, false);
        CHECK(!b.allows());
        CHECK(b.retry_at() < rate_budget::clock::time_point::max()); // paused
    }
    SUBCASE("a fetch that ended rate-limited pauses at once; answers during it do not end it") {
        rate_budget b(1h);
        b.started();
        b.started();
        b.ended(-1, true);
        CHECK(!b.allows());
        b.ended(50, false);
        CHECK(!b.allows());
    }
    SUBCASE("answers that arrive during a pause do not carry over into the next window") {
        rate_budget b(1ms);
        b.started();
        b.started();
        b.started();
        b.ended(-1, true); // paused, two still in flight
        b.ended(0, false); // "spent", about the window the pause waits out
        // The pause is one millisecond: run through it.
        for (auto const resume = b.retry_at(); rate_budget::clock::now() < resume;) {
        }
        CHECK(b.allows());
    }
    SUBCASE("after the pause the budget is unknown again") {
        rate_budget b(0ms); // a pause that is over as soon as it starts
        b.started();
        b.ended(0, false);
        CHECK(b.allows());
        for (int i = 0; i < 20; ++i)
            b.started(); // no count: nothing limits
        CHECK(b.allows());
    }
}
