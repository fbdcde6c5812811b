// The load test of issue 6: 10 000 fetches, 256 at a time, over one client, against the spawned
// payouts-sandbox (real TLS on 127.0.0.1), spread over all five providers, with about 10 % of the
// ids carrying the sandbox's fault prefixes. Every id must be answered exactly once; every
// success must be exactly the payout the sandbox holds; every failure must carry the error its
// fault implies; the process's peak resident memory stays under a stated bound; and under
// AddressSanitizer, LeakSanitizer finds nothing once the client is gone.
#include <payouts/payouts.hpp>

#include "support/child_process.hpp"
#include "support/sandbox_process.hpp"

#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define PAYOUTS_TEST_ASAN 1
#else
#define PAYOUTS_TEST_ASAN 0
#endif

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace payouts;
using namespace std::chrono_literals;
namespace net = boost::asio;
namespace fs = std::filesystem;
namespace http = boost::beast::http;

namespace {

using test_support::sandbox_process;
using test_support::slurp;

// A field of /proc/self/status in kB (VmHWM: peak resident set).
long proc_status_kb(std::string const& field) {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
    return -1;
}

// What the sandbox holds (tools/sandbox/README.md, data in tools/sandbox/data): the payout id
// in the body, its unified status, and the amount in minor units (nullopt: none).
struct known_payout {
    char const* id; // as asked for (Truust: the order id)
    char const* payout_id;
    payout_status status;
    std::optional<std::int64_t> minor;
    char const* currency;
    char const* file;
};

constexpr std::array<std::array<known_payout, 2>, 5> known{{
    {{{"456", "789", payout_status::paid, std::nullopt, "", "truust/456.json"},
      {"460", "793", payout_status::paid, std::nullopt, "", "truust/460.json"}}},
    {{{"trx_1f4dc72b-5b76-432c-8f4f-e0919aaff3f5", "trx_1f4dc72b-5b76-432c-8f4f-e0919aaff3f5",
       payout_status::paid, 20000, "USD", "druo/trx_1f4dc72b-5b76-432c-8f4f-e0919aaff3f5.json"},
      {"trx_90231bc4-b874-48a5-91e8-e4c22198a692", "trx_90231bc4-b874-48a5-91e8-e4c22198a692",
       payout_status::failed, 50000, "USD", "druo/trx_90231bc4-b874-48a5-91e8-e4c22198a692.json"}}},
    {{{"pay_gwlowf7eap7uzm4cyaaqoq62au", "pay_gwlowf7eap7uzm4cyaaqoq62au", payout_status::returned,
       1000, "GBP", "checkout/pay_gwlowf7eap7uzm4cyaaqoq62au.json"},
      {"pay_mfq2mkmvxyq5mubwtkqz4ypjyh", "pay_mfq2mkmvxyq5mubwtkqz4ypjyh",
       payout_status::processing, 150000, "JPY", "checkout/pay_mfq2mkmvxyq5mubwtkqz4ypjyh.json"}}},
    {{{"1c58426d-2c1b-4476-b3c0-447a8c683466", "1c58426d-2c1b-4476-b3c0-447a8c683466",
       payout_status::paid, 10000, "USD", "yuno/1c58426d-2c1b-4476-b3c0-447a8c683466.json"},
      {"64bc81c3-928f-45bf-af97-f3772238627b", "64bc81c3-928f-45bf-af97-f3772238627b",
       payout_status::processing, 1001, "BRL", "yuno/64bc81c3-928f-45bf-af97-f3772238627b.json"}}},
    {{{"pay_2x7n4q8z0w1a2b3c4d5e6f7g", "pay_2x7n4q8z0w1a2b3c4d5e6f7g", payout_status::pending,
       425000, "USD", "introw/pay_2x7n4q8z0w1a2b3c4d5e6f7g.json"},
      {"pay_to121ugggh3xiiugix9fffyy", "pay_to121ugggh3xiiugix9fffyy", payout_status::paid, 125000,
       "JPY", "introw/pay_to121ugggh3xiiugix9fffyy.json"}}},
}};

constexpr std::array<char const*, 5> provider_names{"truust", "druo", "checkout", "yuno", "introw"};

// The faults of the load, and what each must end in.
enum class fault { none, flaky_1, flaky_5, ratelimit_1, reset, truncate, malformed, unknown_id };
constexpr std::array<fault, 7> fault_cycle{fault::flaky_1,   fault::reset,       fault::flaky_5,
                                           fault::truncate,  fault::ratelimit_1, fault::malformed,
                                           fault::unknown_id};
// Truust's integer ids carry only the numeric fault form, whose counters cannot be tagged
// apart: it gets the faults that keep no count.
constexpr std::array<fault, 4> truust_cycle{fault::reset, fault::truncate, fault::malformed,
                                            fault::unknown_id};

struct job {
    int provider = 0; // index into provider_names
    fault f = fault::none;
    known_payout const* expect = nullptr;
    std::string id; // string providers
    std::int64_t order = 0;
};

std::int64_t truust_numeric(int mode, int param, std::int64_t order) {
    // 99 M PPPPP NNNNNNNNN (tools/sandbox/README.md, "Integer ids")
    return 99'000'000'000'000'000LL + std::int64_t(mode) * 100'000'000'000'000LL +
           std::int64_t(param) * 1'000'000'000LL + order;
}

std::vector<job> make_jobs(std::size_t n) {
    std::vector<job> jobs(n);
    for (std::size_t i = 0; i < n; ++i) {
        auto& j = jobs[i];
        j.provider = int(i % 5);
        std::size_t const slot = i / 5; // per provider: 0, 1, 2, ...
        j.expect = &known[std::size_t(j.provider)][slot % 2];
        if (slot % 10 == 7) { // one in ten
            std::size_t const k = slot / 10;
            j.f = j.provider == 0 ? truust_cycle[k % truust_cycle.size()]
                                  : fault_cycle[k % fault_cycle.size()];
        }
        if (j.provider == 0) {
            std::int64_t const order = std::stoll(j.expect->id);
            int const param = int(slot % 100000);
            switch (j.f) {
            case fault::none:
                j.order = order;
                break;
            case fault::reset:
                j.order = truust_numeric(6, param, order);
                break;
            case fault::truncate:
                j.order = truust_numeric(5, param, order);
                break;
            case fault::malformed:
                j.order = truust_numeric(8, param, order);
                break;
            default:
                j.order = 900000 + std::int64_t(slot); // no such order
                break;
            }
            continue;
        }
        // A tag of its own: every fault counter starts fresh for this job.
        std::string const tag = "tag-" + std::to_string(i) + "-";
        std::string const base = j.expect->id;
        switch (j.f) {
        case fault::none:
            j.id = tag + base;
            break;
        case fault::flaky_1:
            j.id = tag + "flaky-1-" + base;
            break;
        case fault::flaky_5:
            j.id = tag + "flaky-5-" + base;
            break;
        case fault::ratelimit_1:
            j.id = tag + "ratelimit-1-" + base;
            break;
        case fault::reset:
            j.id = tag + "reset-" + base;
            break;
        case fault::truncate:
            j.id = tag + "truncate-" + base;
            break;
        case fault::malformed:
            j.id = tag + "malformed-" + base;
            break;
        case fault::unknown_id:
            // Checkout only knows ids that start with pay_; Yuno answers 400 NOT_FOUND.
            j.id = j.provider == 2 ? "pay_nosuchpayout" + std::to_string(i)
                                   : "nosuch-" + std::to_string(i);
            break;
        }
    }
    return jobs;
}

// The error `f` must end in, or empty for a success.
error_code expected_error(fault f) {
    switch (f) {
    case fault::none:
    case fault::flaky_1:
    case fault::ratelimit_1:
        return {};
    case fault::flaky_5:
        return errc::provider_unavailable; // three 503s: the retry budget is spent
    case fault::reset:
        return net::error::connection_reset; // RST on every attempt
    case fault::truncate:
        return http::error::partial_message; // close_notify mid-body on every attempt
    case fault::malformed:
        return errc::invalid_response; // a 200 whose body is half a JSON document
    case fault::unknown_id:
        return errc::not_found;
    }
    return {};
}

unsigned expected_attempts(fault f) {
    switch (f) {
    case fault::none:
    case fault::malformed:
    case fault::unknown_id:
        return 1;
    case fault::flaky_1:
    case fault::ratelimit_1:
        return 2;
    case fault::flaky_5:
    case fault::reset:
    case fault::truncate:
        return 3; // at least: a reset on a kept connection adds one silent retry
    }
    return 0;
}

// The process's peak resident set may not exceed this (kB). Generous: ASan keeps freed memory
// in quarantine (256 MB by default) and shadows all of it; 256 TLS connections with their
// buffers, the sandbox's bodies and 10 000 results are a few tens of MB beyond that.
constexpr long rss_limit_kb = PAYOUTS_TEST_ASAN ? 1536 * 1024 : 384 * 1024;

} // namespace

TEST_CASE("load: 10 000 fetches at concurrency 256 with ~10 % faults, every id answered once and "
          "right") {
    constexpr std::size_t total = 10000;
    constexpr std::size_t concurrency = 256;
    auto const t0 = std::chrono::steady_clock::now();
    long const rss_start_kb = proc_status_kb("VmRSS");

    fs::path const dir = fs::temp_directory_path() / ("payouts-load-" + std::to_string(::getpid()));
    auto jobs = make_jobs(total);
    std::array<std::array<std::string, 2>, 5> bodies;
    for (std::size_t p = 0; p < 5; ++p)
        for (std::size_t k = 0; k < 2; ++k)
            bodies[p][k] = slurp(fs::path(PAYOUTS_SANDBOX_DATA_DIR) / known[p][k].file);

    std::vector<int> answered(total, 0);
    std::map<std::string, int> failures_by_kind;
    std::vector<std::string> wrong; // what went wrong, for the report
    std::size_t ok = 0, failed = 0, in_flight = 0, max_in_flight = 0, next = 0;
    std::size_t faulted = 0;
    for (auto const& j : jobs)
        faulted += j.f != fault::none;
    {
        sandbox_process sandbox(dir, {"--introw-rate-limit", "1000000"});
        net::io_context ioc;
        auto cfg = sandbox.config();
        cfg.deadline = 60s; // a loaded 2-core machine under ASan, plus the 1 s Retry-After waits
        cfg.idle_connections_per_host = concurrency; // keep every connection: no handshake churn
        cfg.max_connections_per_host = concurrency;
        client c(ioc, cfg);

        auto const judge = [&](std::size_t i, error_code ec, payout const& p,
                               diagnostics const& d) {
            auto const& j = jobs[i];
            ++answered[i];
            std::string const who = std::string(provider_names[std::size_t(j.provider)]) + " " +
                                    (j.provider == 0 ? std::to_string(j.order) : j.id) + ": ";
            auto const bad = [&](std::string const& what) {
                if (wrong.size() < 20)
                    wrong.push_back(who + what + " (" + d.message + ")");
                else
                    wrong.emplace_back();
            };
            error_code const want = expected_error(j.f);
            if (!ec)
                ++ok;
            else {
                ++failed;
                ++failures_by_kind[ec.to_string()];
            }
            if (ec != want) return bad("got '" + ec.message() + "', want '" + want.message() + "'");
            unsigned const attempts = expected_attempts(j.f);
            if (attempts == 3 ? d.attempts < 3 : d.attempts != attempts)
                return bad("attempts " + std::to_string(d.attempts));
            if (ec) {
                if (!p.id.empty() || !p.raw.empty() || p.amount) bad("a payout with an error");
                if (j.f == fault::reset || j.f == fault::truncate) {
                    if (!(ec == condition::retryable)) bad("transport error not retryable");
                }
                return;
            }
            auto const& k = *j.expect;
            auto const& body = bodies[std::size_t(j.provider)]
                                     [std::size_t(&k - known[std::size_t(j.provider)].data())];
            if (p.provider != provider_names[std::size_t(j.provider)]) return bad("provider");
            if (p.id != k.payout_id) return bad("id " + p.id);
            if (p.status != k.status) return bad("status " + std::string(to_string(p.status)));
            if (p.raw != body) return bad("raw body differs from the sandbox's file");
            if (!k.minor) {
                if (p.amount) bad("an amount where none was sent");
                return;
            }
            if (!p.amount) return bad("no amount");
            auto const minor = p.amount->minor_units();
            if (!minor || *minor != *k.minor || p.amount->currency != k.currency)
                return bad("amount " + std::to_string(p.amount->units) + "e-" +
                           std::to_string(p.amount->scale) + " " + p.amount->currency);
        };

        std::function<void()> launch = [&] {
            while (in_flight < concurrency && next < total) {
                std::size_t const i = next++;
                ++in_flight;
                max_in_flight = std::max(max_in_flight, in_flight);
                auto diag = std::make_shared<diagnostics>();
                auto done = [&, i, diag](error_code ec, payout p) {
                    judge(i, ec, p, *diag);
                    --in_flight;
                    launch();
                };
                auto const& j = jobs[i];
                switch (j.provider) {
                case 0:
                    fetch<Truust>(c, j.order, *diag, done);
                    break;
                case 1:
                    fetch<Druo>(c, j.id, *diag, done);
                    break;
                case 2:
                    fetch<Checkout>(c, j.id, *diag, done);
                    break;
                case 3:
                    fetch<Yuno>(c, j.id, *diag, done);
                    break;
                default:
                    fetch<Introw>(c, j.id, *diag, done);
                    break;
                }
            }
        };
        launch();
        // Far beyond what the run needs: a hang fails the test instead of blocking CI.
        auto const end = std::chrono::steady_clock::now() + 300s;
        while ((next < total || in_flight > 0) && std::chrono::steady_clock::now() < end)
            ioc.run_one_for(100ms);
        CHECK(in_flight == 0);
        CHECK(c.idle_connections() <= concurrency);
        c.close_idle_connections();
        ioc.restart();
        ioc.run_for(50ms);
        CHECK(sandbox.stop() == 0);
        INFO("sandbox stderr: " << sandbox.stderr_text());
    }
    auto const elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    long const hwm_kb = proc_status_kb("VmHWM");

    std::size_t once = 0;
    for (int a : answered)
        once += a == 1;
    CHECK(once == total); // every id answered, none twice
    CHECK(max_in_flight == concurrency);
    CHECK(ok + failed == total);
    for (std::size_t i = 0; i < wrong.size() && i < 20; ++i)
        MESSAGE(wrong[i]);
    CHECK(wrong.empty());
    // The fault mix really was about 10 %, and every kind of failure occurred.
    CHECK(faulted == total / 10);
    CHECK(failures_by_kind.size() == 5);

    std::printf("load: %zu fetches, %zu at a time, %zu faulted: %zu ok, %zu failed typed, in %lld "
                "ms; VmHWM %ld kB (limit %ld kB, %ld kB at start)\n",
                total, concurrency, faulted, ok, failed, static_cast<long long>(elapsed.count()),
                hwm_kb, rss_limit_kb, rss_start_kb);
    for (auto const& [kind, n] : failures_by_kind)
        std::printf("load:   %s: %d\n", kind.c_str(), n);
    REQUIRE(hwm_kb > 0);
    CHECK(hwm_kb < rss_limit_kb);
#if PAYOUTS_TEST_ASAN
    // The client, its connections and the io_context are gone: nothing may be left unreachable.
    CHECK(__lsan_do_recoverable_leak_check() == 0);
#endif
}
