// The transport half of fetch, against a real HTTPS server on 127.0.0.1 (tests/support): exact
// requests, every completion-token style, status handling, retries and deadlines, broken
// responses, TLS verification, cancellation, OAuth, and many fetches at once.
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

#include <payouts/detail/tls.hpp> // prepare_tls_connection
#include <payouts/payouts.hpp>

#include "support/fetch_helpers.hpp"
#include "support/https_server.hpp"
#include "support/run_until.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

using namespace payouts;
using namespace std::chrono_literals;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using test_support::add_provider;
using test_support::config_for;
using test_support::creds;
using test_support::get;
using test_support::outcome;
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

std::string yuno_body(std::string const& id, std::string const& status = "SUCCEEDED") {
    return R"({"id":")" + id + R"(","status":")" + status +
           R"(","amount":{"value":10.01,"currency":"BRL"}})";
}

// Runs `body` on `ioc` until it finishes; rethrows what it throws.
template <class F>
void run(net::io_context& ioc, F&& body) {
    std::exception_ptr err;
    bool done = false;
    net::co_spawn(ioc, std::forward<F>(body), [&](std::exception_ptr e) {
        err = e;
        done = true;
        ioc.stop();
    });
    ioc.restart();
    ioc.run();
    REQUIRE(done);
    if (err) std::rethrow_exception(err);
}

using test_support::run_until;

// A fetch_event kept past its hook call (the event's views are valid only during the call).
struct kept_event {
    fetch_event_kind kind = fetch_event_kind::attempt_start;
    unsigned attempt = 0;
    error_code error;
    std::chrono::milliseconds delay{0};
    std::string message;
};

// Keeps every event of a client made from `cfg` in `out`, in order.
void keep_events(client_config& cfg, std::vector<kept_event>& out) {
    cfg.on_event = [&out](fetch_event const& e) {
        out.push_back({e.kind, e.attempt, e.error, e.delay, std::string(e.message)});
    };
}

std::vector<kept_event> of_kind(std::vector<kept_event> const& events, fetch_event_kind k) {
    std::vector<kept_event> out;
    for (auto const& e : events)
        if (e.kind == k) out.push_back(e);
    return out;
}

std::vector<std::string> header_names(request_record const& r) {
    std::vector<std::string> n;
    for (auto const& [k, v] : r.headers)
        n.push_back(k);
    return n;
}

} // namespace

TEST_CASE("each provider: the exact request on the wire, and the decoded payout") {
    net::io_context ioc;
    server srv(ioc, [](request_record const& r) {
        if (r.target == "/yuno/payouts/1c58426d-2c1b-4476-b3c0-447a8c683466")
            return reply::json(200, fixture("yuno/get-payout-200-succeeded-usd.json"));
        if (r.target == "/payouts/trx_1f4dc72b-5b76-432c-8f4f-e0919aaff3f5")
            return reply::json(200, fixture("druo/get-payout-200-successful.json"));
        if (r.target == "/ck/payments/pay_gwlowf7eap7uzm4cyaaqoq62au") {
            auto rep = reply::json(200, fixture("checkout/get-payout-200-returned-gbp.json"));
            rep.headers.emplace_back("Cko-Request-Id", "req-123");
            return rep;
        }
        if (r.target == "/api/v1/payouts/pay_2x7n4q8z0w1a2b3c4d5e6f7g") {
            auto rep = reply::json(200, fixture("introw/get-payout-200-pending-review.json"));
            rep.headers.emplace_back("x-ratelimit-remaining-minute", "59");
            return rep;
        }
        if (r.target == "/2.0/orders/789/payout")
            return reply::json(200, fixture("truust/get-order-payout-200-from-schema.json"));
        return reply::json(404, "{}");
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "yuno", srv.url("/yuno"),
                 {{"PUBLIC_API_KEY", "pk_y"}, {"PRIVATE_SECRET_KEY", "sk_y"}});
    add_provider(cfg, "druo", srv.url(), {{"ACCESS_TOKEN", "tok_d"}});
    add_provider(cfg, "checkout", srv.url("/ck/"), {{"SECRET_KEY", "sk_sbox_c"}});
    add_provider(cfg, "introw", srv.url("", "localhost"), {{"API_KEY", "ik"}});
    add_provider(cfg, "truust", srv.url("/2.0"), {{"SECRET_KEY", "sk_stage_t"}});
    std::vector<std::string> rate_limit;
    cfg.on_event = [&](fetch_event const& e) {
        if (e.kind == fetch_event_kind::attempt_end && !e.rate_limit_remaining.empty())
            rate_limit.emplace_back(e.rate_limit_remaining);
    };
    client c(ioc, cfg);
    std::string const host = "127.0.0.1:" + std::to_string(srv.port());
    auto const common = [&](request_record const& r, std::string const& h = {}) {
        CHECK(r.method == "GET");
        CHECK(r.header("Host") == (h.empty() ? host : h));
        CHECK(r.header("User-Agent") == "payouts-test/1");
        CHECK(r.header("Accept") == "application/json");
        CHECK(r.header("Accept-Encoding") == "identity");
        CHECK(r.body.empty());
    };

    {
        auto y = get<Yuno>(ioc, c, "1c58426d-2c1b-4476-b3c0-447a8c683466");
        REQUIRE_MESSAGE(!y.ec, y.ec.message(), " ", y.d.message);
        CHECK(y.p.provider == "yuno");
        CHECK(y.p.status == payout_status::paid);
        CHECK(y.p.amount == money{100, 0, "USD"});
        CHECK(y.d.http_status == 200);
        CHECK(y.d.attempts == 1);
        CHECK(y.d.host == host);
        CHECK(y.d.rate_limit_remaining == -1);
        auto const& ry = srv.requests.back();
        common(ry);
        CHECK(ry.header("public-api-key") == "pk_y");
        CHECK(ry.header("private-secret-key") == "sk_y");
        CHECK(header_names(ry) == std::vector<std::string>{"Host", "User-Agent", "Accept",
                                                           "Accept-Encoding", "public-api-key",
                                                           "private-secret-key"});

        auto d = get<Druo>(ioc, c, "trx_1f4dc72b-5b76-432c-8f4f-e0919aaff3f5");
        REQUIRE_MESSAGE(!d.ec, d.d.message);
        CHECK(d.p.provider == "druo");
        auto const& rd = srv.requests.back();
        common(rd);
        CHECK(rd.header("Authorization") == "Bearer tok_d");
        CHECK(rd.header("DRUO-Version") == "2021-11-22");
        CHECK(rd.headers.size() == 6);

        auto k = get<Checkout>(ioc, c, "pay_gwlowf7eap7uzm4cyaaqoq62au");
        REQUIRE_MESSAGE(!k.ec, k.d.message);
        CHECK(k.p.status == payout_status::returned);
        CHECK(k.p.request_id == "req-123");
        CHECK(k.d.request_id == "req-123");
        auto const& rk = srv.requests.back();
        common(rk);
        CHECK(rk.header("Authorization") == "Bearer sk_sbox_c");
        CHECK(rk.headers.size() == 5);

        auto i = get<Introw>(ioc, c, "pay_2x7n4q8z0w1a2b3c4d5e6f7g");
        REQUIRE_MESSAGE(!i.ec, i.d.message);
        CHECK(i.p.status == payout_status::pending);
        CHECK_FALSE(i.p.request_id.has_value());
        CHECK(i.d.rate_limit_remaining == 59);
        auto const& ri = srv.requests.back();
        common(ri, "localhost:" + std::to_string(srv.port()));
        CHECK(ri.header("x-api-key") == "ik");
        CHECK(ri.headers.size() == 5);

        auto t = get<Truust>(ioc, c, 789);
        REQUIRE_MESSAGE(!t.ec, t.d.message);
        CHECK(t.p.id == "789");
        CHECK(t.p.status == payout_status::paid);
        CHECK(t.p.raw == fixture("truust/get-order-payout-200-from-schema.json"));
        auto const& rt = srv.requests.back();
        common(rt);
        CHECK(rt.header("Authorization") == "Bearer sk_stage_t");
    }
    CHECK(srv.requests.size() == 5);
    // One connection for 127.0.0.1 (reused by four fetches) and one for "localhost".
    CHECK(srv.connections == 2);
    CHECK(rate_limit == std::vector<std::string>{"59"});
}

// One test body, run through every completion-token style.
TEST_CASE("every completion token style") {
    net::io_context ioc;
    server srv(ioc, [](request_record const& r) {
        if (r.target == "/payouts/missing") return reply::json(404, R"({"code":"NOT_FOUND"})");
        return reply::json(200, yuno_body(r.target.substr(std::string("/payouts/").size())));
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    client c(ioc, cfg);
    auto const check_ok = [](error_code ec, payout const& p, std::string const& id) {
        CHECK_MESSAGE(!ec, ec.message());
        CHECK(p.id == id);
        CHECK(p.status == payout_status::paid);
    };

    SUBCASE("a handler bound to another io_context keeps that context's run() until it runs") {
        net::io_context other; // nothing but the handler: without the fetch's outstanding work
                               // on it, other.run() would return at once
        std::atomic<bool> called = false;
        error_code got;
        std::string id;
        std::thread::id ran_on;
        fetch<Yuno>(c, "cb3", net::bind_executor(other, [&](error_code ec, payout p) {
                        got = ec;
                        id = p.id;
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
        CHECK(id == "cb3");
        CHECK(ran_on == other_thread);
    }
    SUBCASE("plain callback, never inside the initiating call") {
        int calls = 0;
        bool returned = false;
        fetch<Yuno>(c, "cb1", [&](error_code ec, payout p) {
            CHECK(returned);
            check_ok(ec, p, "cb1");
            ++calls;
        });
        // An immediate failure (the id is refused before any I/O) still completes later.
        diagnostics d;
        fetch<Yuno>(c, "", d, [&](error_code ec, payout) {
            CHECK(returned);
            CHECK(ec == errc::invalid_id);
            CHECK(ec == condition::invalid_input);
            ++calls;
        });
        returned = true;
        while (calls < 2 && ioc.run_one()) {
        }
        CHECK(calls == 2);
        CHECK_FALSE(d.message.empty());
        CHECK(d.attempts == 0);
    }
    SUBCASE("use_awaitable: success returns, failure throws system_error") {
        run(ioc, [&]() -> net::awaitable<void> {
            auto p = co_await fetch<Yuno>(c, "aw1", net::use_awaitable);
            check_ok({}, p, "aw1");
            try {
                co_await fetch<Yuno>(c, "missing", net::use_awaitable);
                FAIL("no exception");
            } catch (boost::system::system_error const& e) {
                CHECK(e.code() == errc::not_found);
                CHECK(e.code() == condition::not_found);
            }
        });
    }
    SUBCASE("deferred, the default token") {
        // One connection at most: had the first fetch started when it was made, it would hold
        // that connection, and its request would reach the server before the second one's.
        cfg.max_connections_per_host = 1;
        client one(ioc, cfg);
        std::size_t requests_before_await = 0;
        run(ioc, [&]() -> net::awaitable<void> {
            auto op = fetch<Yuno>(one, "df1"); // nothing happens until it is awaited
            auto p0 = co_await fetch<Yuno>(one, "df0", net::use_awaitable);
            check_ok({}, p0, "df0");
            requests_before_await = srv.requests.size();
            auto p = co_await std::move(op);
            check_ok({}, p, "df1");
            auto p2 = co_await fetch<Yuno>(one, "df2", net::deferred);
            check_ok({}, p2, "df2");
        });
        CHECK(requests_before_await == 1);
        REQUIRE(srv.requests.size() == 3);
        CHECK(srv.requests[0].target == "/payouts/df0");
        CHECK(srv.requests[1].target == "/payouts/df1");
    }
    SUBCASE("as_tuple(use_awaitable)") {
        run(ioc, [&]() -> net::awaitable<void> {
            auto [ec, p] = co_await fetch<Yuno>(c, "tp1", net::as_tuple(net::use_awaitable));
            check_ok(ec, p, "tp1");
            auto [ec2, p2] = co_await fetch<Yuno>(c, "missing", net::as_tuple(net::use_awaitable));
            CHECK(ec2 == errc::not_found);
            CHECK(p2.id.empty());
        });
    }
    SUBCASE("use_future, the io_context running on another thread") {
        auto work = net::make_work_guard(ioc);
        std::thread t([&] { ioc.run(); });
        auto f = fetch<Yuno>(c, "fu1", net::use_future);
        auto p = f.get();
        auto f2 = fetch<Yuno>(c, "missing", net::use_future);
        f2.wait();
        // Destroy the client on its executor: it is not thread-safe.
        net::post(ioc, [&] { ioc.stop(); });
        t.join();
        check_ok({}, p, "fu1");
        // Rethrown only after the join: libstdc++ counts references to an exception in code
        // ThreadSanitizer cannot see, so freeing it on the I/O thread reads as a race.
        try {
            f2.get();
            FAIL("no exception");
        } catch (boost::system::system_error const& e) {
            CHECK(e.code() == errc::not_found);
        }
    }
    SUBCASE("the card form: co_await fetch<Yuno>(id) with the environment's default client") {
        auto const ca = std::filesystem::temp_directory_path() /
                        ("payouts-test-ca-" + std::to_string(srv.port()) + ".pem");
        std::ofstream(ca) << srv.ca_pem();
        ::setenv("PAYOUTS_YUNO_BASE_URL", srv.url().c_str(), 1);
        ::setenv("PAYOUTS_YUNO_PUBLIC_API_KEY", "p", 1);
        ::setenv("PAYOUTS_YUNO_PRIVATE_SECRET_KEY", "s", 1);
        ::setenv("PAYOUTS_CA_FILE", ca.c_str(), 1);
        ::setenv("PAYOUTS_TIMEOUT_MS", "5000", 1);
        ::unsetenv("PAYOUTS_INTROW_API_KEY");
        run(ioc, [&]() -> net::awaitable<void> {
            auto p = co_await fetch<Yuno>("card1");
            check_ok({}, p, "card1");
            auto p2 = co_await fetch<Yuno>("card2"); // the same default client, same connection
            check_ok({}, p2, "card2");
            try {
                co_await fetch<Introw>("x");
                FAIL("no exception");
            } catch (boost::system::system_error const& e) {
                CHECK(e.code() == errc::missing_credentials);
                CHECK(std::string(e.what()).find("PAYOUTS_INTROW_API_KEY") != std::string::npos);
            }
        });
        CHECK(srv.connections == 1);
        for (auto v : {"PAYOUTS_YUNO_BASE_URL", "PAYOUTS_YUNO_PUBLIC_API_KEY",
                       "PAYOUTS_YUNO_PRIVATE_SECRET_KEY", "PAYOUTS_CA_FILE", "PAYOUTS_TIMEOUT_MS"})
            ::unsetenv(v);
        std::filesystem::remove(ca);
    }
}

TEST_CASE("statuses: 401, 403, 404, provider not-found codes, redirects, 501") {
    net::io_context ioc;
    server srv(ioc, [](request_record const& r) {
        auto const id = r.target.substr(r.target.rfind('/') + 1);
        if (id == "s401") return reply::json(401, R"({"message":"Unauthenticated."})");
        if (id == "s403") return reply::json(403, "");
        if (id == "s404") return reply::json(404, "<html>not here</html>");
        if (id == "y400") return reply::json(400, R"({"code":"NOT_FOUND","messages":["gone"]})");
        if (id == "y400b")
            return reply::json(400, R"({"code":"INVALID_REQUEST","messages":["bad"]})");
        if (id == "s302") {
            auto rep = reply::json(302, "");
            rep.headers.emplace_back("Location", "https://elsewhere.example/");
            return rep;
        }
        if (id == "s501") return reply::json(501, "");
        if (id == "bad") return reply::json(200, R"({"id": true, "status": "SUCCEEDED"})");
        return reply::json(200, yuno_body(id));
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    std::vector<fetch_event> events;
    std::vector<std::string> messages;
    cfg.on_event = [&](fetch_event const& e) {
        events.push_back(e);
        messages.emplace_back(e.message);
    };
    client c(ioc, cfg);
    {
        auto o = get<Yuno>(ioc, c, "s401");
        CHECK(o.ec == errc::unauthorized);
        CHECK(o.ec == condition::auth);
        CHECK(o.d.http_status == 401);
        CHECK(o.d.attempts == 1);

        o = get<Yuno>(ioc, c, "s403");
        CHECK(o.ec == errc::forbidden);
        CHECK(o.d.provider_code.empty());
        o = get<Yuno>(ioc, c, "s404");
        CHECK(o.ec == errc::not_found);
        CHECK(o.d.http_status == 404);
        o = get<Yuno>(ioc, c, "y400");
        CHECK(o.ec == errc::not_found);
        CHECK(o.d.provider_code == "NOT_FOUND");
        CHECK(o.d.provider_message == "gone");
        o = get<Yuno>(ioc, c, "y400b");
        CHECK(o.ec == errc::unexpected_status);
        CHECK(o.d.provider_code == "INVALID_REQUEST");
        auto const before = srv.requests.size();
        o = get<Yuno>(ioc, c, "s302");
        CHECK(o.ec == errc::unexpected_status);
        CHECK(srv.requests.size() == before + 1); // never followed
        CHECK(o.d.message.find("redirect") != std::string::npos);
        o = get<Yuno>(ioc, c, "s501");
        CHECK(o.ec == errc::unexpected_status);
        CHECK(o.d.attempts == 1);
        o = get<Yuno>(ioc, c, "bad");
        CHECK(o.ec == errc::invalid_response);
        CHECK(o.d.attempts == 1);
        CHECK(o.d.message.find("/id") != std::string::npos);
    }
    bool saw_decode_error = false;
    for (auto const& e : events)
        saw_decode_error = saw_decode_error || e.kind == fetch_event_kind::decode_error;
    CHECK(saw_decode_error);
    for (auto const& m : messages) {
        CHECK(m.find("Bearer") == std::string::npos);
        CHECK(m.find("t\n") == std::string::npos);
    }
}

TEST_CASE("retries: 429 with Retry-After, 500 and 503, inside the deadline") {
    net::io_context ioc;
    std::map<std::string, int> seen;
    std::map<std::string, std::vector<reply>> plans;
    server srv(ioc, [&](request_record const& r) {
        auto const id = r.target.substr(r.target.rfind('/') + 1);
        auto& plan = plans[id];
        int const n = seen[id]++;
        if (n < int(plan.size())) return plan[std::size_t(n)];
        return reply::json(200, yuno_body(id));
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    std::vector<kept_event> events;
    keep_events(cfg, events);
    client c(ioc, cfg);
    // The waits the fetch chose before its retries, as it reported them.
    auto const delays_of = [&](auto&& fetch_it) {
        auto const from = events.size();
        auto o = fetch_it();
        std::vector<std::chrono::milliseconds> d;
        for (auto i = from; i < events.size(); ++i)
            if (events[i].kind == fetch_event_kind::retry_scheduled) d.push_back(events[i].delay);
        return std::pair(o, d);
    };
    auto r429 = [](std::string after) {
        auto r = reply::json(429, R"({"code":"TOO_MANY"})");
        if (!after.empty()) r.headers.emplace_back("Retry-After", after);
        return r;
    };

    {
        // 500, 503, then 200: three attempts in all, a success.
        plans["a"] = {reply::json(500, ""), reply::json(503, "")};
        auto o = get<Yuno>(ioc, c, "a");
        CHECK_MESSAGE(!o.ec, o.d.message);
        CHECK(o.d.attempts == 3);
        CHECK(seen["a"] == 3);

        // Three 503s: the policy's three attempts, then the last error.
        plans["b"] = {reply::json(503, ""), reply::json(503, ""), reply::json(503, "")};
        o = get<Yuno>(ioc, c, "b");
        CHECK(o.ec == errc::provider_unavailable);
        CHECK(o.ec == condition::retryable);
        CHECK(o.d.attempts == 3);
        CHECK(seen["b"] == 3);

        // 429 with Retry-After: 1 is waited for (a second, not the backoff's jitter), then
        // success.
        plans["c"] = {r429("1")};
        auto [oc, waits_c] = delays_of([&] { return get<Yuno>(ioc, c, "c"); });
        CHECK_MESSAGE(!oc.ec, oc.d.message);
        CHECK(oc.d.attempts == 2);
        CHECK(waits_c == std::vector<std::chrono::milliseconds>{1000ms});

        // A Retry-After as an HTTP-date in the past: no wait. (A client whose backoff would
        // almost never pick 0 ms, so that a date taken for garbage shows.)
        plans["d"] = {r429("Sun, 06 Nov 1994 08:49:37 GMT")};
        auto wide_cfg = cfg;
        wide_cfg.retry.backoff_base = wide_cfg.retry.backoff_cap = 1000ms;
        client wide(ioc, wide_cfg);
        auto [od, waits_d] = delays_of([&] { return get<Yuno>(ioc, wide, "d"); });
        CHECK_MESSAGE(!od.ec, od.d.message);
        CHECK(od.d.attempts == 2);
        CHECK(waits_d == std::vector<std::chrono::milliseconds>{0ms});

        // 404 and 400 are final: one attempt.
        plans["e"] = {reply::json(404, "")};
        o = get<Yuno>(ioc, c, "e");
        CHECK(o.ec == errc::not_found);
        CHECK(seen["e"] == 1);
        plans["f"] = {reply::json(400, "")};
        o = get<Yuno>(ioc, c, "f");
        CHECK(o.ec == errc::unexpected_status);
        CHECK(seen["f"] == 1);
    }
    int scheduled = 0;
    for (auto const& e : events)
        scheduled += e.kind == fetch_event_kind::retry_scheduled;
    CHECK(scheduled == 2 + 2 + 1 + 1);
    // Retries reuse the keep-alive connection: one per client.
    CHECK(srv.connections == 2);
}

TEST_CASE("a wait that does not fit in the deadline fails at once with the last error") {
    net::io_context ioc;
    int hits = 0;
    server srv(ioc, [&](request_record const&) {
        ++hits;
        auto r = reply::json(429, "");
        r.headers.emplace_back("Retry-After", "10");
        return r;
    });
    auto cfg = config_for(srv);
    cfg.deadline = 2s;
    add_provider(cfg, "introw", srv.url(), {{"API_KEY", "k"}});
    std::vector<kept_event> events;
    keep_events(cfg, events);
    client c(ioc, cfg);
    std::string const host = "127.0.0.1:" + std::to_string(srv.port());
    {
        // At once: no wait was scheduled, and the reason says why.
        auto o = get<Introw>(ioc, c, "x");
        CHECK(o.ec == errc::rate_limited);
        CHECK(o.d.attempts == 1);
        CHECK(o.d.http_status == 429);
        CHECK(o.d.message == "HTTP 429 from " + host + "; no time left for another attempt");
        CHECK(of_kind(events, fetch_event_kind::retry_scheduled).empty());
    }
    CHECK(hits == 1);

    // Clamped by max_retry_after, the same wait fits.
    cfg.retry.max_retry_after = 50ms;
    events.clear();
    client c2(ioc, cfg);
    hits = 0;
    {
        auto o = get<Introw>(ioc, c2, "x");
        CHECK(o.ec == errc::rate_limited);
        CHECK(o.d.attempts == 3);
        CHECK(o.d.message == "HTTP 429 from " + host);
        auto const waits = of_kind(events, fetch_event_kind::retry_scheduled);
        REQUIRE(waits.size() == 2);
        CHECK(waits[0].delay == 50ms);
        CHECK(waits[1].delay == 50ms);
    }
    CHECK(hits == 3);
}

TEST_CASE("stale keep-alive connection: one silent retry on a fresh connection") {
    net::io_context ioc;
    server srv(ioc, [&](request_record const& r) {
        auto rep = reply::json(200, yuno_body(r.target.substr(r.target.rfind('/') + 1)));
        rep.close = true; // keep-alive on the wire, yet the server closes right after
        return rep;
    });
    auto cfg = config_for(srv);
    cfg.retry.max_attempts = 1; // the stale retry is not an attempt
    add_provider(cfg, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    client c(ioc, cfg);
    {
        auto o = get<Yuno>(ioc, c, "k1");
        CHECK_MESSAGE(!o.ec, o.d.message);
        CHECK(c.idle_connections() == 1);
        // The server closes each connection as it finishes writing its answer: whether that
        // close has reached the client yet or not, the kept connection cannot answer again.
        for (int i = 2; i <= 4; ++i) {
            o = get<Yuno>(ioc, c, "k" + std::to_string(i));
            CHECK_MESSAGE(!o.ec, o.d.message);
            CHECK(o.d.attempts == 1);
            CHECK(o.p.id == "k" + std::to_string(i));
            // Answered on a connection of its own, after the kept one failed unseen.
            CHECK(srv.connections == std::size_t(i));
            CHECK(srv.requests.back().connection == std::size_t(i));
            CHECK(c.idle_connections() == 1);
        }
    }
    CHECK(srv.requests.size() == 4);
    CHECK(srv.connections == 4);
}

TEST_CASE("broken responses: truncated, oversized, EOF-delimited, compressed") {
    net::io_context ioc;
    std::string const big(5000, 'x');
    server srv(ioc, [&](request_record const& r) {
        auto const id = r.target.substr(r.target.rfind('/') + 1);
        reply rep;
        if (id == "truncated") {
            rep.raw = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"id\":\"trunc";
            rep.close = true;
        } else if (id == "big") {
            rep = reply::json(200, R"({"id":"big","status":"SUCCEEDED","pad":")" + big + "\"}");
        } else if (id == "bigchunked") {
            rep = reply::json(200, R"({"id":"big","status":"SUCCEEDED","pad":")" + big + "\"}");
            rep.chunked = true;
        } else if (id == "bigheaders") {
            rep = reply::json(200, yuno_body(id));
            rep.headers.emplace_back("X-Pad", std::string(9000, 'h'));
        } else if (id == "eof") {
            rep.raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + yuno_body(id);
            rep.close = true;
        } else if (id == "gzip") {
            rep = reply::json(200, yuno_body(id));
            rep.headers.emplace_back("Content-Encoding", "gzip");
        } else if (id == "identity") {
            rep = reply::json(200, yuno_body(id));
            rep.headers.emplace_back("Content-Encoding", "Identity");
        } else if (id == "chunked") {
            rep = reply::json(200, yuno_body(id));
            rep.chunked = true;
        } else if (id == "garbage") {
            rep.raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        } else if (id == "early") {
            auto const body = yuno_body(id);
            rep.raw = "HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n"
                      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body;
        } else if (id == "notjson") {
            rep = reply::json(200, "<html>");
        }
        return rep;
    });
    auto cfg = config_for(srv);
    cfg.body_limit = 1000;
    add_provider(cfg, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    client c(ioc, cfg);
    // A response cut, over a limit or refused never puts its connection back; a complete one
    // does, even when its body is no payout.
    auto const fetch_fresh = [&](std::string const& id) {
        c.close_idle_connections();
        return get<Yuno>(ioc, c, id);
    };
    auto o = fetch_fresh("truncated");
    CHECK(o.ec == condition::retryable); // a transport failure before a complete response
    CHECK(o.d.attempts == 3);
    CHECK(c.idle_connections() == 0);
    for (auto [id, want] :
         {std::pair("big", errc::body_too_large), std::pair("bigchunked", errc::body_too_large),
          std::pair("bigheaders", errc::body_too_large),
          std::pair("eof", errc::unsupported_encoding),
          std::pair("gzip", errc::unsupported_encoding)}) {
        CAPTURE(id);
        o = fetch_fresh(id);
        CHECK(o.ec == want);
        CHECK(o.d.attempts == 1);
        CHECK(c.idle_connections() == 0);
    }
    for (std::string id : {"identity", "chunked", "early"}) {
        CAPTURE(id);
        o = fetch_fresh(id);
        CHECK_MESSAGE(!o.ec, o.d.message);
        CHECK(o.p.id == id);
        CHECK(c.idle_connections() == 1);
    }
    o = fetch_fresh("notjson");
    CHECK(o.ec == errc::invalid_response);
    CHECK(c.idle_connections() == 1);
}

TEST_CASE("a stalled server: timeout near the deadline, the connection closed") {
    net::io_context ioc;
    server srv(ioc, [&](request_record const&) {
        reply r;
        r.stall = true;
        return r;
    });
    auto cfg = config_for(srv);
    cfg.deadline = 400ms;
    add_provider(cfg, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    std::vector<kept_event> events;
    keep_events(cfg, events);
    client c(ioc, cfg);
    {
        auto o = get<Yuno>(ioc, c, "slow");
        CHECK(o.ec == errc::timeout);
        CHECK(o.ec == condition::retryable);
        // The deadline, not a phase limit, ended it: while reading, with no time left to retry.
        CHECK(o.d.message == "reading the response: timed out; no time left for another attempt");
        CHECK(o.d.attempts == 1);
        CHECK(of_kind(events, fetch_event_kind::retry_scheduled).empty());
        CHECK(srv.requests.size() == 1);
        CHECK(c.idle_connections() == 0);
    }
    CHECK(run_until(ioc, [&] { return srv.closed_by_client == 1; }));
}

TEST_CASE("TLS: an untrusted CA or a wrong host name fails the handshake; nothing is sent") {
    net::io_context ioc;
    auto ok = [](request_record const& r) {
        return reply::json(200, yuno_body(r.target.substr(r.target.rfind('/') + 1)));
    };
    server srv(ioc, ok);
    test_support::server_options wrong_name;
    wrong_name.pki.dns_names = {"payouts.invalid"};
    wrong_name.pki.ip_addresses = {"127.0.0.2"};
    server other(ioc, ok, wrong_name);
    auto const yuno = creds{{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}};

    SUBCASE("untrusted CA") {
        auto cfg = config_for(srv);
        cfg.ca_pem = other.ca_pem(); // trusts a CA that did not sign srv's certificate
        add_provider(cfg, "yuno", srv.url(), yuno);
        client c(ioc, cfg);
        {
            auto o = get<Yuno>(ioc, c, "x");
            CHECK(o.ec.category() == net::error::get_ssl_category());
            CHECK_FALSE(o.ec == condition::retryable);
            CHECK(o.d.attempts == 1);
            CHECK(o.d.message == "TLS handshake with 127.0.0.1:" + std::to_string(srv.port()) +
                                     " failed: SSL certificate problem: unable to get local "
                                     "issuer certificate");
        }
        // The server sees the client break the handshake off; by then nothing more can come.
        CHECK(run_until(ioc, [&] { return srv.failed_handshakes == 1; }));
        CHECK(srv.requests.empty());
        CHECK(srv.handshakes == 0);
    }
    SUBCASE("certificate for another name, by IP literal and by host name") {
        auto cfg = config_for(other);
        add_provider(cfg, "yuno", other.url(), yuno);
        add_provider(cfg, "introw", other.url("", "localhost"), {{"API_KEY", "k"}});
        client c(ioc, cfg);
        {
            auto o = get<Yuno>(ioc, c, "x");
            CHECK(o.ec.category() == net::error::get_ssl_category());
            CHECK(o.d.message == "TLS handshake with 127.0.0.1:" + std::to_string(other.port()) +
                                     " failed: SSL certificate problem: the certificate does not "
                                     "match IP address \"127.0.0.1\"");
            auto o2 = get<Introw>(ioc, c, "x");
            CHECK(o2.ec.category() == net::error::get_ssl_category());
            CHECK(o2.d.message == "TLS handshake with localhost:" + std::to_string(other.port()) +
                                      " failed: SSL certificate problem: the certificate does not "
                                      "match host name \"localhost\"");
        }
        CHECK(run_until(ioc, [&] { return other.failed_handshakes == 2; }));
        CHECK(other.requests.empty());
        CHECK(other.handshakes == 0);
    }
    SUBCASE("the right CA and name work; system roots alone do not trust the test CA") {
        auto cfg = config_for(srv);
        add_provider(cfg, "yuno", srv.url("", "localhost"), yuno);
        client c(ioc, cfg);
        cfg.ca_pem.clear();
        cfg.use_system_roots = true;
        client sys(ioc, cfg);
        {
            auto o = get<Yuno>(ioc, c, "x");
            CHECK_MESSAGE(!o.ec, o.d.message);
            auto o2 = get<Yuno>(ioc, sys, "x");
            CHECK(o2.ec.category() == net::error::get_ssl_category());
        }
        CHECK(srv.requests.size() == 1);
    }
    SUBCASE("a CA file that cannot be read: invalid_config, nothing sent") {
        auto cfg = config_for(srv);
        cfg.ca_file = "/nonexistent/ca.pem";
        add_provider(cfg, "yuno", srv.url(), yuno);
        client c(ioc, cfg);
        CHECK(c.config_error() == errc::invalid_config);
        {
            auto o = get<Yuno>(ioc, c, "x");
            CHECK(o.ec == errc::invalid_config);
            CHECK(o.d.message.find("/nonexistent/ca.pem") != std::string::npos);
        }
        CHECK(srv.connections == 0);
    }
}

TEST_CASE("ids cannot change the target; control characters in values are refused") {
    net::io_context ioc;
    server srv(ioc, [](request_record const&) { return reply::json(200, yuno_body("x")); });
    auto cfg = config_for(srv);
    add_provider(cfg, "yuno", srv.url("/base"),
                 {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    add_provider(cfg, "introw", srv.url(), {{"API_KEY", "k\r\nX-Injected: 1"}});
    add_provider(cfg, "druo", srv.url(), {{"ACCESS_TOKEN", std::string("a\0b", 3)}});
    client c(ioc, cfg);
    std::vector<std::pair<std::string, std::string>> const cases{
        {"../../admin", "/base/payouts/..%2F..%2Fadmin"},
        {"x?admin=1#f", "/base/payouts/x%3Fadmin%3D1%23f"},
        {"a/b", "/base/payouts/a%2Fb"},
        {"%2e%2e", "/base/payouts/%252e%252e"},
        {"x\r\nHost: evil", "/base/payouts/x%0D%0AHost%3A%20evil"},
        {std::string("x\0y", 3), "/base/payouts/x%00y"},
        {"x y", "/base/payouts/x%20y"},
    };
    {
        for (auto const& [id, target] : cases) {
            get<Yuno>(ioc, c, id);
            REQUIRE(!srv.requests.empty());
            CHECK(srv.requests.back().target == target);
            CHECK(srv.requests.back().header("Host") == "127.0.0.1:" + std::to_string(srv.port()));
        }
        auto const sent = srv.requests.size();
        for (std::string id : std::vector<std::string>{"", ".", "..", std::string(65, 'a')}) {
            auto o = get<Yuno>(ioc, c, id);
            CHECK(o.ec == errc::invalid_id);
        }
        auto o = get<Introw>(ioc, c, "x");
        CHECK(o.ec == errc::invalid_config);
        CHECK(o.d.message.find("PAYOUTS_INTROW_API_KEY") != std::string::npos);
        CHECK(o.d.message.find("X-Injected") == std::string::npos);
        o = get<Druo>(ioc, c, "x");
        CHECK(o.ec == errc::invalid_config);
        auto o2 = get<Checkout>(ioc, c, "x");
        CHECK(o2.ec == errc::missing_credentials);
        CHECK(o2.d.message.find("PAYOUTS_CHECKOUT_SECRET_KEY") != std::string::npos);
        CHECK(srv.requests.size() == sent);
    }
    for (auto const& r : srv.requests)
        CHECK_FALSE(r.has_header("X-Injected"));

    cfg.user_agent = "ua\r\nX-Injected: 1";
    client bad(ioc, cfg);
    CHECK(bad.config_error() == errc::invalid_config);
}

TEST_CASE("plaintext http only to loopback, only when allowed") {
    net::io_context ioc;
    test_support::server_options plain;
    plain.tls = false;
    server srv(
        ioc, [](request_record const&) { return reply::json(200, yuno_body("p")); }, plain);
    client_config cfg;
    add_provider(cfg, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    client refused(ioc, cfg);
    cfg.allow_plaintext_loopback = true;
    client allowed(ioc, cfg);
    {
        auto o = get<Yuno>(ioc, refused, "p");
        CHECK(o.ec == errc::invalid_config);
        CHECK(srv.connections == 0);
        o = get<Yuno>(ioc, allowed, "p");
        CHECK_MESSAGE(!o.ec, o.d.message);
        CHECK(o.p.id == "p");
    }
}

TEST_CASE("cancellation mid-request closes the connection and completes with operation_aborted") {
    net::io_context ioc;
    // Fires (cancelled) when the slow request reaches the server: the race below is decided by
    // that event, not by how long anything takes.
    net::steady_timer request_arrived(ioc, net::steady_timer::time_point::max());
    server srv(ioc, [&](request_record const& r) {
        reply rep = reply::json(200, yuno_body("fast"));
        if (r.target.ends_with("/slow")) {
            rep.stall = true;
            request_arrived.cancel();
        }
        return rep;
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    client c(ioc, cfg);

    SUBCASE("a cancellation signal") {
        net::cancellation_signal sig;
        error_code got;
        diagnostics d;
        bool done = false;
        fetch<Yuno>(c, "slow", d,
                    net::bind_cancellation_slot(sig.slot(), [&](error_code ec, payout) {
                        got = ec;
                        done = true;
                    }));
        REQUIRE(run_until(ioc, [&] { return srv.requests.size() == 1; }));
        sig.emit(net::cancellation_type::terminal);
        REQUIRE(run_until(ioc, [&] { return done; }));
        // Ended by the cancellation, in the middle of the exchange, not by any time limit.
        CHECK(got == net::error::operation_aborted);
        CHECK(d.message == "cancelled while reading the response");
        CHECK(d.attempts == 1);
        CHECK(c.idle_connections() == 0);
        CHECK(run_until(ioc, [&] { return srv.closed_by_client == 1; }));
    }
    SUBCASE("awaitable operators: the fetch loses a race against a timer, then a fetch works") {
        using namespace net::experimental::awaitable_operators;
        std::size_t winner = 99;
        run(ioc, [&]() -> net::awaitable<void> {
            auto r = co_await (fetch<Yuno>(c, "slow", net::use_awaitable) ||
                               request_arrived.async_wait(net::as_tuple(net::use_awaitable)));
            winner = r.index();
        });
        CHECK(winner == 1);
        CHECK(run_until(ioc, [&] { return srv.closed_by_client == 1; }));
        CHECK(c.idle_connections() == 0);
        auto o = get<Yuno>(ioc, c, "fast");
        CHECK_MESSAGE(!o.ec, o.d.message);
        CHECK(srv.connections == 2);
    }
}

TEST_CASE("OAuth: token on first use, cached, refreshed once on 401, one request for many") {
    net::io_context ioc;
    int tokens = 0;
    std::string current;
    std::set<std::string> refuse; // tokens the API answers 401 to
    std::string token_body;
    server srv(ioc, [&](request_record const& r) {
        if (r.target == "/oauth/token") {
            ++tokens;
            token_body = r.body;
            current = "T" + std::to_string(tokens);
            auto rep = reply::json(200, R"({"access_token":")" + current +
                                            R"(","expires_in":"3600","token_type":"Bearer"})");
            rep.delay = 30ms;
            return rep;
        }
        auto const auth = r.header("Authorization");
        if (auth.rfind("Bearer ", 0) != 0 || refuse.count(auth.substr(7)))
            return reply::json(401, R"({"errors":[{"code":"UNAUTHORIZED"}]})");
        return reply::json(200, R"({"payout":{"uuid":")" + r.target.substr(9) +
                                    R"(","status":"SUCCESSFUL"}})");
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "druo", srv.url(), {{"CLIENT_ID", "cid"}, {"CLIENT_SECRET", "csecret"}},
                 srv.url("/oauth/token"));
    std::vector<std::string> event_text;
    cfg.on_event = [&](fetch_event const& e) { event_text.emplace_back(e.message); };
    client c(ioc, cfg);
    {
        auto o = get<Druo>(ioc, c, "trx_1");
        REQUIRE_MESSAGE(!o.ec, o.d.message);
        CHECK(o.p.id == "trx_1");
        CHECK(tokens == 1);
        auto const jv = boost::json::parse(token_body);
        CHECK(jv.at("client_id") == "cid");
        CHECK(jv.at("client_secret") == "csecret");
        CHECK(jv.at("audience") == "https://druo-merchant-api.com");
        CHECK(jv.at("grant_type") == "client_credentials");
        CHECK(srv.requests.back().header("Authorization") == "Bearer T1");
        CHECK(srv.requests.back().header("DRUO-Version") == "2021-11-22");

        o = get<Druo>(ioc, c, "trx_2"); // cached
        CHECK(!o.ec);
        CHECK(tokens == 1);

        refuse.insert("T1"); // revoked: one 401, a new token, success
        o = get<Druo>(ioc, c, "trx_3");
        CHECK_MESSAGE(!o.ec, o.d.message);
        CHECK(tokens == 2);
        CHECK(o.d.attempts == 2);

        refuse.insert("T2");
        refuse.insert("T3"); // refused again after the renewal: unauthorized, no loop
        o = get<Druo>(ioc, c, "trx_4");
        CHECK(o.ec == errc::unauthorized);
        CHECK(tokens == 3);
        CHECK(o.d.attempts == 2);
        CHECK(o.d.provider_code == "UNAUTHORIZED");
        refuse.clear();
    }

    // Twenty fetches needing a token at once: one token request.
    client fresh(ioc, cfg);
    tokens = 0;
    int ok = 0;
    for (int i = 0; i < 20; ++i)
        fetch<Druo>(fresh, "trx_" + std::to_string(i), [&, i](error_code ec, payout p) {
            CHECK_MESSAGE(!ec, ec.message());
            CHECK(p.id == "trx_" + std::to_string(i));
            ++ok;
        });
    CHECK(run_until(ioc, [&] { return ok == 20; }));
    CHECK(tokens == 1);
    for (auto const& t : event_text) {
        CHECK(t.find("csecret") == std::string::npos);
        CHECK(t.find("Bearer T") == std::string::npos);
    }
}

TEST_CASE("OAuth token endpoint failures: form-encoded Checkout flow") {
    net::io_context ioc;
    int tokens = 0;
    std::string form;
    server srv(ioc, [&](request_record const& r) {
        if (r.target == "/connect/token") {
            ++tokens;
            form = r.body;
            if (tokens == 1)
                return reply::json(400, R"({"error":"invalid_client","error_description":"no"})");
            if (tokens == 2) return reply::json(503, "");
            return reply::json(200, R"({"access_token":"CK","expires_in":3600})");
        }
        return reply::json(200, R"({"id":"pay_1","status":"Paid","amount":100,"currency":"EUR"})");
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "checkout", srv.url(), {{"CLIENT_ID", "ck id"}, {"CLIENT_SECRET", "s&s"}},
                 srv.url("/connect/token"));
    client c(ioc, cfg);
    {
        auto o = get<Checkout>(ioc, c, "pay_1");
        CHECK(o.ec == errc::token_request_failed);
        CHECK(o.ec == condition::auth);
        CHECK(o.d.provider_code == "invalid_client");
        CHECK(o.d.http_status == 400);
        CHECK(tokens == 1);
        CHECK(form == "grant_type=client_credentials&client_id=ck%20id&client_secret=s%26s"
                      "&scope=gateway%3Apayment-details");
        // 503 from the token endpoint is retried like any 503.
        o = get<Checkout>(ioc, c, "pay_1");
        CHECK_MESSAGE(!o.ec, o.d.message);
        CHECK(tokens == 3);
        CHECK(srv.requests.back().header("Authorization") == "Bearer CK");
    }
}

TEST_CASE("a burst of 200 fetches under the default connection cap: every one answered") {
    net::io_context ioc;
    server srv(ioc, [](request_record const& r) {
        return reply::json(200, yuno_body(r.target.substr(r.target.rfind('/') + 1)));
    });
    auto cfg = config_for(srv);
    CHECK(cfg.max_connections_per_host == 32); // the documented default
    add_provider(cfg, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    client c(ioc, cfg);
    std::size_t right = 0, done = 0;
    for (int i = 0; i < 200; ++i) {
        auto const id = "burst-" + std::to_string(i);
        fetch<Yuno>(c, id, [&, id](error_code ec, payout p) {
            right += !ec && p.id == id;
            ++done;
        });
    }
    auto const all_answered = [&] { return done == 200; };
    CHECK(run_until(ioc, all_answered, 60s));
    CHECK(right == 200);
    // Fetches beyond the cap waited for a connection instead of opening their own.
    CHECK(srv.most_open <= 32);
    CHECK(srv.connections <= 32);
    CHECK(srv.most_open > 1);
}

TEST_CASE("500 concurrent fetches over a small pool: every result right") {
    net::io_context ioc;
    server srv(ioc, [](request_record const& r) {
        return reply::json(200, yuno_body(r.target.substr(r.target.rfind('/') + 1)));
    });
    auto cfg = config_for(srv);
    cfg.max_connections_per_host = 8;
    cfg.idle_connections_per_host = 8;
    cfg.deadline = 30s;
    add_provider(cfg, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    client c(ioc, cfg);
    int right = 0, done = 0;
    for (int i = 0; i < 500; ++i) {
        auto const id = "id-" + std::to_string(i);
        fetch<Yuno>(c, id, [&, id](error_code ec, payout p) {
            if (!ec && p.id == id && p.amount == money{1001, 2, "BRL"}) ++right;
            ++done;
        });
    }
    auto const all_answered = [&] { return done == 500; };
    CHECK(run_until(ioc, all_answered, 60s));
    CHECK(right == 500);
    CHECK(srv.requests.size() == 500);
    CHECK(srv.connections <= 8);
    CHECK(c.idle_connections() == srv.connections);
}

TEST_CASE("a client destroyed while fetches run: they complete, nothing dangles") {
    net::io_context ioc;
    server srv(ioc, [](request_record const&) {
        auto r = reply::json(200, yuno_body("late"));
        r.delay = 50ms;
        return r;
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    int ok = 0, done = 0;
    {
        client c(ioc, cfg);
        for (int i = 0; i < 3; ++i)
            fetch<Yuno>(c, "late", [&](error_code ec, payout p) {
                ok += !ec && p.id == "late";
                ++done;
            });
    }
    CHECK(run_until(ioc, [&] { return done == 3; }));
    CHECK(ok == 3);
}

TEST_CASE("stale keep-alive: the one retry opens a new connection, not another stale one") {
    net::io_context ioc;
    server srv(ioc, [&](request_record const& r) {
        auto rep = reply::json(200, yuno_body(r.target.substr(r.target.rfind('/') + 1)));
        rep.close = true; // keep-alive on the wire, yet the server closes right after
        return rep;
    });
    auto cfg = config_for(srv);
    cfg.retry.max_attempts = 1; // the stale retry is not an attempt
    add_provider(cfg, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    client c(ioc, cfg);
    // Four fetches at once leave four idle connections, all of which the server closes as it
    // finishes answering (whether or not each close has reached the client yet does not matter:
    // none of them can answer again).
    int ok = 0, done = 0;
    for (int i = 0; i < 4; ++i)
        fetch<Yuno>(c, "w" + std::to_string(i), [&](error_code ec, payout) {
            ok += !ec;
            ++done;
        });
    REQUIRE(run_until(ioc, [&] { return done == 4; }));
    REQUIRE(ok == 4);
    CHECK(c.idle_connections() == 4);
    // One after another: each takes a stale connection, and its one silent retry must not take
    // the next stale one from the cache.
    for (int i = 0; i < 4; ++i) {
        auto const o = get<Yuno>(ioc, c, "v" + std::to_string(i));
        CHECK_MESSAGE(!o.ec, o.d.message);
        CHECK(o.p.id == "v" + std::to_string(i));
        CHECK(o.d.attempts == 1);
    }
    CHECK(srv.requests.size() == 8);
    CHECK(srv.connections == 8); // one new connection per retry, none wasted
}

TEST_CASE("diagnostics describe the last attempt, not an earlier response") {
    net::io_context ioc;
    int n = 0;
    server srv(ioc, [&](request_record const&) {
        if (++n == 1) return reply::json(503, R"({"code":"INTERNAL_ERROR","messages":["busy"]})");
        reply rep = reply::json(200, "{");
        rep.stall = true; // the second attempt gets no response at all
        return rep;
    });
    auto cfg = config_for(srv);
    cfg.retry.max_attempts = 2;
    cfg.deadline = 800ms;
    add_provider(cfg, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    client c(ioc, cfg);
    auto const o = get<Yuno>(ioc, c, "x");
    CHECK(o.ec == errc::timeout);
    CHECK(o.d.attempts == 2);
    CHECK(o.d.message == "reading the response: timed out");
    CHECK(o.d.http_status == 0);
    CHECK(o.d.provider_code.empty());
    CHECK(o.d.provider_message.empty());
}

TEST_CASE("events: each attempt's status, time and the request as sent, redacted; token waits") {
    net::io_context ioc;
    int n = 0;
    server srv(ioc, [&](request_record const& r) {
        if (r.target == "/oauth/token")
            return reply::json(200, R"({"access_token":"CANARY-tok","expires_in":3600})");
        if (++n == 1) return reply::json(503, R"({"errors":[{"code":"BUSY"}]})");
        return reply::json(200, R"({"payout":{"uuid":"trx_9","status":"SUCCESSFUL"}})");
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "druo", srv.url(),
                 {{"CLIENT_ID", "CANARY-cid"}, {"CLIENT_SECRET", "CANARY-cs"}},
                 srv.url("/oauth/token"));
    struct seen {
        fetch_event_kind kind;
        unsigned attempt;
        int status;
        std::string id, host, request;
        std::chrono::milliseconds attempt_elapsed, delay;
        bool failed;
    };
    std::vector<seen> events;
    cfg.on_event = [&](fetch_event const& e) {
        events.push_back({e.kind, e.attempt, e.http_status, std::string(e.id), std::string(e.host),
                          std::string(e.request), e.attempt_elapsed, e.delay, bool(e.error)});
    };
    client c(ioc, cfg);
    auto const o = get<Druo>(ioc, c, "trx_9");
    REQUIRE_MESSAGE(!o.ec, o.d.message);
    using k = fetch_event_kind;
    std::vector<k> kinds;
    for (auto const& e : events)
        kinds.push_back(e.kind);
    CHECK(kinds == std::vector<k>{k::attempt_start, k::token_wait_end, k::attempt_end,
                                  k::retry_scheduled, k::attempt_start, k::attempt_end});
    REQUIRE(events.size() == 6);
    CHECK(events[1].status == 200); // the token request's
    CHECK(!events[1].failed);
    CHECK(events[2].attempt == 1);
    CHECK(events[2].status == 503);
    CHECK(events[2].failed);
    CHECK(events[5].attempt == 2);
    CHECK(events[5].status == 200);
    CHECK(!events[5].failed);
    CHECK(events[3].delay <= cfg.retry.backoff_cap); // the backoff's, no Retry-After was sent
    // The two attempts and the wait between them, one after another, inside the fetch: a
    // relation no load can break (the clock is monotonic and a timer never fires early).
    CHECK(events[2].attempt_elapsed + events[3].delay + events[5].attempt_elapsed <= o.d.elapsed);
    for (int i : {2, 5}) {
        CHECK(events[i].request.rfind("GET /payouts/trx_9\n", 0) == 0);
        CHECK(events[i].request.find("\nAuthorization: <redacted>") != std::string::npos);
        CHECK(events[i].request.find("\nDRUO-Version: 2021-11-22") != std::string::npos);
    }
    for (auto const& e : events) {
        CHECK(e.id == "trx_9"); // every event, the token wait's included, names its payout
        CHECK(e.request.find("CANARY") == std::string::npos);
        CHECK(e.host.find("CANARY") == std::string::npos);
    }
}

namespace {

// A Yuno client for a loopback port where a phase timeout (set by the caller) ends each of two
// attempts. The overall deadline lies far beyond the cap of get(): a fetch that completes at
// all was ended by the phase limits.
client_config phase_timeout_config(unsigned short port) {
    client_config cfg;
    cfg.use_system_roots = false;
    cfg.deadline = 600s;
    cfg.retry.max_attempts = 2;
    cfg.retry.backoff_base = 1ms;
    cfg.retry.backoff_cap = 2ms;
    add_provider(cfg, "yuno", "https://127.0.0.1:" + std::to_string(port),
                 {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    return cfg;
}

} // namespace

TEST_CASE("a server that accepts but never speaks TLS: the handshake timeout ends the attempt") {
    net::io_context ioc;
    tcp::acceptor mute(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    std::vector<tcp::socket> held;
    std::function<void()> accept = [&] {
        mute.async_accept([&](error_code ec, tcp::socket s) {
            if (ec) return;
            held.push_back(std::move(s)); // read nothing, write nothing
            accept();
        });
    };
    accept();
    auto cfg = phase_timeout_config(mute.local_endpoint().port());
    cfg.handshake_timeout = 200ms;
    std::vector<kept_event> events;
    keep_events(cfg, events);
    client c(ioc, cfg);
    auto const o = get<Yuno>(ioc, c, "x");
    std::string const timed_out =
        "TLS handshake with 127.0.0.1:" + std::to_string(mute.local_endpoint().port()) +
        " timed out";
    CHECK(o.ec == errc::timeout);
    CHECK(o.ec == condition::retryable);
    // Each attempt had its own handshake limit: the first left time for a retry.
    CHECK(o.d.attempts == 2);
    CHECK(o.d.message == timed_out);
    auto const ends = of_kind(events, fetch_event_kind::attempt_end);
    REQUIRE(ends.size() == 2);
    for (auto const& e : ends) {
        CHECK(e.error == errc::timeout);
        CHECK(e.message == timed_out);
    }
    CHECK(of_kind(events, fetch_event_kind::retry_scheduled).size() == 1);
    CHECK(run_until(ioc, [&] { return held.size() == 2; }));
}

TEST_CASE("idle connections per host: the cache keeps at most that many") {
    net::io_context ioc;
    server srv(ioc, [](request_record const& r) {
        auto rep = reply::json(200, yuno_body(r.target.substr(r.target.rfind('/') + 1)));
        rep.delay = 50ms; // all ten in flight at once
        return rep;
    });
    auto cfg = config_for(srv);
    cfg.idle_connections_per_host = 3;
    add_provider(cfg, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    client c(ioc, cfg);
    int ok = 0, done = 0;
    for (int i = 0; i < 10; ++i)
        fetch<Yuno>(c, "i" + std::to_string(i), [&](error_code ec, payout) {
            ok += !ec;
            ++done;
        });
    REQUIRE(run_until(ioc, [&] { return done == 10; }));
    CHECK(ok == 10);
    CHECK(srv.connections == 10);
    CHECK(c.idle_connections() == 3);
}

TEST_CASE("a CA directory (OpenSSL hashed names) is trusted; the host name goes out as SNI") {
    net::io_context ioc;
    server srv(ioc, [](request_record const& r) {
        return reply::json(200, yuno_body(r.target.substr(r.target.rfind('/') + 1)));
    });
    auto const dir =
        std::filesystem::temp_directory_path() / ("payouts-cadir-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    {
        // OpenSSL looks a CA up by its subject-name hash: <hash>.0
        BIO* bio = BIO_new_mem_buf(srv.ca_pem().data(), int(srv.ca_pem().size()));
        X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
        REQUIRE(ca);
        char name[16];
        std::snprintf(name, sizeof name, "%08lx.0", X509_subject_name_hash(ca));
        X509_free(ca);
        BIO_free(bio);
        std::ofstream(dir / name) << srv.ca_pem();
    }
    client_config cfg;
    cfg.use_system_roots = false;
    cfg.ca_dir = dir.string();
    add_provider(cfg, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    client c(ioc, cfg);
    auto const o = get<Yuno>(ioc, c, "d1");
    CHECK_MESSAGE(!o.ec, o.d.message);
    CHECK(o.p.id == "d1");
    std::filesystem::remove_all(dir);

    // SNI: set for a host name, never for an IP literal (RFC 6066).
    net::ssl::context ctx(net::ssl::context::tls_client);
    SSL* named = SSL_new(ctx.native_handle());
    CHECK(!detail::prepare_tls_connection(named, "api.example.com", false));
    CHECK(std::string(SSL_get_servername(named, TLSEXT_NAMETYPE_host_name)) == "api.example.com");
    SSL_free(named);
    SSL* literal = SSL_new(ctx.native_handle());
    CHECK(!detail::prepare_tls_connection(literal, "127.0.0.1", true));
    CHECK(SSL_get_servername(literal, TLSEXT_NAMETYPE_host_name) == nullptr);
    SSL_free(literal);
}

TEST_CASE("OAuth: a token past its lifetime is replaced before it is used") {
    net::io_context ioc;
    int tokens = 0;
    server srv(ioc, [&](request_record const& r) {
        if (r.target == "/oauth/token") {
            ++tokens;
            // 4 s, trusted for 2 s (half the lifetime, at most 60 s, is the margin).
            return reply::json(200, R"({"access_token":"T)" + std::to_string(tokens) +
                                        R"(","expires_in":"4"})");
        }
        return reply::json(200, R"({"payout":{"uuid":"trx_1","status":"SUCCESSFUL"}})");
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "druo", srv.url(), {{"CLIENT_ID", "cid"}, {"CLIENT_SECRET", "cs"}},
                 srv.url("/oauth/token"));
    client c(ioc, cfg);
    CHECK(!get<Druo>(ioc, c, "trx_1").ec);
    CHECK(!get<Druo>(ioc, c, "trx_1").ec);
    CHECK(tokens == 1);
    CHECK(srv.requests.back().header("Authorization") == "Bearer T1");
    // Time passes on a timer of the test's own, started after T1 arrived: once it has fired,
    // more than the 2 s T1 was trusted for have passed.
    net::steady_timer lifetime(ioc, 2100ms);
    bool passed = false;
    lifetime.async_wait([&](error_code) { passed = true; });
    REQUIRE(run_until(ioc, [&] { return passed; }));
    CHECK(!get<Druo>(ioc, c, "trx_1").ec);
    CHECK(tokens == 2);
    CHECK(srv.requests.back().header("Authorization") == "Bearer T2");
}

TEST_CASE("deferred: a failure throws system_error with the code") {
    net::io_context ioc;
    server srv(ioc, [](request_record const&) {
        return reply::json(404, R"({"code":"NOT_FOUND","messages":["none"]})");
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    client c(ioc, cfg);
    std::optional<error_code> thrown;
    run(ioc, [&]() -> net::awaitable<void> {
        try {
            co_await fetch<Yuno>(c, "gone");
        } catch (boost::system::system_error const& e) {
            thrown = e.code();
        }
    });
    REQUIRE(thrown.has_value());
    CHECK(*thrown == errc::not_found);
}

TEST_CASE("a connect that never completes: the connect timeout ends the attempt") {
    net::io_context ioc;
    // A listener with a backlog of 0 that never accepts: once one connection fills its queue,
    // the kernel drops further SYNs and a connect hangs.
    tcp::acceptor full(ioc);
    full.open(tcp::v4());
    full.bind(tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    full.listen(0);
    tcp::socket filler(ioc);
    filler.connect(full.local_endpoint());
    auto cfg = phase_timeout_config(full.local_endpoint().port());
    cfg.connect_timeout = 200ms;
    std::vector<kept_event> events;
    keep_events(cfg, events);
    client c(ioc, cfg);
    auto const o = get<Yuno>(ioc, c, "x");
    std::string const timed_out =
        "connecting to 127.0.0.1:" + std::to_string(full.local_endpoint().port()) + ": timed out";
    CHECK(o.ec == errc::timeout);
    // Each attempt had its own connect limit: the first left time for a retry.
    CHECK(o.d.attempts == 2);
    CHECK(o.d.message == timed_out);
    auto const ends = of_kind(events, fetch_event_kind::attempt_end);
    REQUIRE(ends.size() == 2);
    for (auto const& e : ends) {
        CHECK(e.error == errc::timeout);
        CHECK(e.message == timed_out);
    }
    CHECK(of_kind(events, fetch_event_kind::retry_scheduled).size() == 1);
}
