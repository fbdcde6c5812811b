// watch<P> against the spawned payouts-sandbox, whose moving payouts advance one stage per
// answer (tools/sandbox/README.md, "Moving payouts"): the exact on_change sequence and request
// count per provider, the deadline, cancellation during a wait and during a fetch, a transient
// 503, a 429 with Retry-After, a permanent not-found, and the backoff's growth, all observed
// through the client's events rather than the clock.
#include <payouts/payouts.hpp>

#include "support/run_until.hpp"
#include "support/sandbox_process.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace payouts;
using namespace std::chrono_literals;
namespace net = boost::asio;
using test_support::run_until;
using test_support::sandbox_process;

namespace {

// What the client's hook saw: requests (attempt_start) and the watch's waits.
struct event_log {
    unsigned attempts = 0;
    std::vector<std::chrono::milliseconds> waits;
    std::set<std::string> ids;                    // named by any event
    std::function<void(fetch_event const&)> also; // a test's own reaction, after logging
};

// A client for the sandbox whose events go to `log`. One attempt per fetch: the watch, not the
// fetch, is what must ride out failures here.
client_config config(sandbox_process const& s, event_log& log) {
    auto c = s.config();
    c.retry.max_attempts = 1;
    c.deadline = 10s;
    c.on_event = [&log](fetch_event const& e) {
        if (e.kind == fetch_event_kind::attempt_start) ++log.attempts;
        if (e.kind == fetch_event_kind::watch_wait) log.waits.push_back(e.delay);
        log.ids.emplace(e.id);
        if (log.also) log.also(e);
    };
    return c;
}

// One sandbox and one client for a test case.
struct fixture {
    explicit fixture(std::string const& name)
        : sandbox(test_support::temp_dir("watch-" + name)) {}
    sandbox_process sandbox;
    net::io_context ioc;
    event_log log;
    client c{ioc, config(sandbox, log)};
};

// Cancels through `stop`, from the event loop, once the client's hook sees an event `when`
// accepts (posted: the hook runs inside the watch).
void cancel_when(fixture& f, net::cancellation_signal& stop,
                 std::function<bool(fetch_event const&)> when) {
    f.log.also = [&f, &stop, when = std::move(when)](fetch_event const& e) {
        if (when(e)) net::post(f.ioc, [&stop] { stop.emit(net::cancellation_type::terminal); });
    };
}

watch_options quick() {
    watch_options o;
    o.first_interval = 1ms;
    o.max_interval = 4ms;
    o.deadline = 60s;
    return o;
}

struct watch_run {
    std::vector<std::string> changes; // provider_status of each on_change, in order
    std::vector<payout_status> statuses;
    std::optional<error_code> ec;
    payout last;
};

template <class P>
watch_run run_watch(net::io_context& ioc, client& c, typename P::id_type id, watch_options opt,
                    net::cancellation_slot slot = {}) {
    watch_run r;
    watch<P>(
        c, std::move(id), opt,
        [&r](payout const& p) {
            r.changes.push_back(p.provider_status);
            r.statuses.push_back(p.status);
        },
        net::bind_cancellation_slot(slot, [&r](error_code ec, payout p) {
            r.ec = ec;
            r.last = std::move(p);
        }));
    REQUIRE_MESSAGE(run_until(
                        ioc, [&r] { return r.ec.has_value(); }, 120s),
                    "the watch did not complete");
    return r;
}

using statuses = std::vector<payout_status>;
using texts = std::vector<std::string>;
constexpr auto pending = payout_status::pending;
constexpr auto processing = payout_status::processing;
constexpr auto paid = payout_status::paid;
constexpr auto returned = payout_status::returned;

} // namespace

TEST_CASE("watch: each provider's moving payout, change by change, until it is paid") {
    fixture f("each");
    auto& [sandbox, ioc, log, c] = f;

    auto check = [&](auto const& r, texts const& changes, statuses const& st, unsigned requests,
                     std::string const& id) {
        REQUIRE(r.ec);
        CHECK_MESSAGE(!*r.ec, r.ec->message());
        CHECK(r.changes == changes);
        CHECK(r.statuses == st);
        CHECK(r.last.status == st.back());
        CHECK(r.last.provider_status == changes.back());
        CHECK(log.attempts == requests); // none after the terminal status
        CHECK(log.waits.size() == requests - 1);
        CHECK(log.ids == std::set<std::string>{id}); // the fetches' events and the waits'
        log = {};
    };
    SUBCASE("Truust") {
        check(run_watch<Truust>(ioc, c, 470, quick()), {"CREATED", "CONFIRMED"}, {pending, paid}, 2,
              "470");
    }
    SUBCASE("DRUO") {
        check(run_watch<Druo>(ioc, c, "trx_moving-1", quick()),
              {"PENDING", "PROCESSING", "SUCCESSFUL"}, {pending, processing, paid}, 3,
              "trx_moving-1");
    }
    SUBCASE("Checkout") {
        check(run_watch<Checkout>(ioc, c, "pay_moving1", quick()), {"Pending", "Paid"},
              {processing, paid}, 2, "pay_moving1");
    }
    SUBCASE("Yuno") {
        check(run_watch<Yuno>(ioc, c, "moving-1", quick()), {"CREATED", "PENDING", "SUCCEEDED"},
              {pending, processing, paid}, 3, "moving-1");
    }
    SUBCASE("Introw") {
        check(run_watch<Introw>(ioc, c, "pay_moving1", quick()),
              {"PENDING_REVIEW", "APPROVED", "SCHEDULED", "PENDING_PAYMENT", "PAID"},
              {pending, pending, pending, processing, paid}, 5, "pay_moving1");
    }
}

TEST_CASE("watch: without paid among the terminal statuses, a return after payment is seen") {
    fixture f("return");
    auto& [sandbox, ioc, log, c] = f;
    auto opt = quick();
    opt.terminal = {payout_status::failed, payout_status::cancelled, payout_status::returned};

    auto const druo = run_watch<Druo>(ioc, c, "trx_moving-1", opt);
    REQUIRE(druo.ec);
    CHECK(!*druo.ec);
    CHECK(druo.changes == texts{"PENDING", "PROCESSING", "SUCCESSFUL", "REVERSED"});
    CHECK(druo.last.status == returned);
    CHECK(log.attempts == 4);

    log = {};
    auto const cko = run_watch<Checkout>(ioc, c, "pay_moving1", opt);
    REQUIRE(cko.ec);
    CHECK(!*cko.ec);
    CHECK(cko.statuses == statuses{processing, paid, returned});
    CHECK(log.attempts == 3);
}

TEST_CASE("watch: an unchanging payout is reported once and ends with timeout at the deadline") {
    fixture f("deadline");
    auto& [sandbox, ioc, log, c] = f;
    auto opt = quick();
    opt.first_interval = 5ms;
    opt.max_interval = 20ms;
    opt.deadline = 2s;
    // A Yuno payout that stays PENDING (processing) in the sandbox.
    auto const r = run_watch<Yuno>(ioc, c, "64bc81c3-928f-45bf-af97-f3772238627b", opt);
    REQUIRE(r.ec);
    CHECK(*r.ec == errc::timeout);
    CHECK(r.changes == texts{"PENDING"});
    CHECK(r.last.id == "64bc81c3-928f-45bf-af97-f3772238627b");
    CHECK(r.last.status == processing);
    CHECK(log.attempts >= 1);
    CHECK(log.waits.size() >= 1);
}

TEST_CASE("watch: cancellation ends it promptly, during a wait and during a fetch") {
    fixture f("cancel");
    auto& [sandbox, ioc, log, c] = f;
    net::cancellation_signal stop;
    auto opt = quick();

    SUBCASE("during the wait after the first fetch") {
        opt.first_interval = opt.max_interval = 1h;
        cancel_when(f, stop,
                    [](fetch_event const& e) { return e.kind == fetch_event_kind::watch_wait; });
        auto const r =
            run_watch<Yuno>(ioc, c, "64bc81c3-928f-45bf-af97-f3772238627b", opt, stop.slot());
        REQUIRE(r.ec);
        CHECK(*r.ec == net::error::operation_aborted);
        CHECK(r.last.status == processing); // the last payout seen comes with the cancellation
        CHECK(r.changes.size() == 1);
        CHECK(log.attempts == 1);
    }
    SUBCASE("during a fetch the server never answers") {
        cancel_when(f, stop,
                    [](fetch_event const& e) { return e.kind == fetch_event_kind::attempt_start; });
        auto const r =
            run_watch<Yuno>(ioc, c, "stall-64bc81c3-928f-45bf-af97-f3772238627b", opt, stop.slot());
        REQUIRE(r.ec);
        CHECK(*r.ec == net::error::operation_aborted);
        CHECK(r.last.id.empty()); // no payout was ever seen
        CHECK(r.changes.empty());
        CHECK(log.attempts == 1);
    }
}

TEST_CASE("watch: a transient 503 and a 429 with Retry-After do not end it") {
    fixture f("transient");
    auto& [sandbox, ioc, log, c] = f;

    SUBCASE("503 once, then the lifecycle") {
        auto const r = run_watch<Yuno>(ioc, c, "flaky-1-moving-1", quick());
        REQUIRE(r.ec);
        CHECK_MESSAGE(!*r.ec, r.ec->message());
        CHECK(r.changes == texts{"CREATED", "PENDING", "SUCCEEDED"});
        CHECK(log.attempts == 4);
    }
    SUBCASE("429 with Retry-After: 1, and the wait after it is at least a second") {
        auto const r = run_watch<Yuno>(ioc, c, "ratelimit-1-moving-1", quick());
        REQUIRE(r.ec);
        CHECK_MESSAGE(!*r.ec, r.ec->message());
        CHECK(r.changes == texts{"CREATED", "PENDING", "SUCCEEDED"});
        CHECK(log.attempts == 4);
        REQUIRE(log.waits.size() == 3);
        CHECK(log.waits[0] >= 1000ms); // the provider's Retry-After, not the 1-4 ms backoff
        CHECK(log.waits[1] <= 4ms);
    }
    SUBCASE("the fetch itself reports the Retry-After it was given") {
        diagnostics d;
        std::optional<error_code> got;
        fetch<Yuno>(c, "ratelimit-1-tag-d-moving-1", d, [&](error_code ec, payout) { got = ec; });
        REQUIRE(run_until(
            ioc, [&] { return got.has_value(); }, 60s));
        CHECK(*got == errc::rate_limited);
        CHECK(d.retry_after == 1000ms);
    }
}

TEST_CASE("watch: a permanent error ends it at once") {
    fixture f("permanent");
    auto& [sandbox, ioc, log, c] = f;
    auto const r = run_watch<Introw>(ioc, c, "pay_doesnotexist", quick());
    REQUIRE(r.ec);
    CHECK(*r.ec == errc::not_found);
    // The diagnostics overload hands back the failed fetch's details.
    diagnostics d;
    std::optional<error_code> got;
    watch<Introw>(
        c, "pay_doesnotexist", quick(), [](payout const&) {}, d,
        [&](error_code ec, payout) { got = ec; });
    REQUIRE(run_until(
        ioc, [&] { return got.has_value(); }, 60s));
    CHECK(*got == errc::not_found);
    CHECK(d.http_status == 404);
    CHECK(d.provider_code == "NOT_FOUND");
    CHECK(d.message.find("HTTP 404") != std::string::npos);
    CHECK(r.changes.empty());
    CHECK(r.last.id.empty());
    CHECK(log.attempts == 2);
    CHECK(log.waits.empty());
}

TEST_CASE("watch: the wait doubles up to max_interval, with full jitter") {
    fixture f("backoff");
    auto& [sandbox, ioc, log, c] = f;
    net::cancellation_signal stop;
    watch_options opt;
    opt.first_interval = 8ms;
    opt.max_interval = 64ms;
    cancel_when(f, stop, [&log](fetch_event const& e) {
        return e.kind == fetch_event_kind::watch_wait && log.waits.size() == 12;
    });
    auto const r =
        run_watch<Yuno>(ioc, c, "64bc81c3-928f-45bf-af97-f3772238627b", opt, stop.slot());
    REQUIRE(r.ec);
    CHECK(*r.ec == net::error::operation_aborted);
    REQUIRE(log.waits.size() == 12);
    auto cap = opt.first_interval;
    for (auto w : log.waits) {
        CHECK(w >= 0ms);
        CHECK(w <= cap);
        cap = std::min(cap * 2, opt.max_interval);
    }
    // The caps grew: with eight draws under a 64 ms cap, all of them at or under the first
    // interval would have a chance of (1/8)^8.
    CHECK(*std::max_element(log.waits.begin() + 4, log.waits.end()) > opt.first_interval);
    CHECK(log.attempts == 12);
}
