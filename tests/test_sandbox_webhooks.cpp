// payouts-sandbox's payout webhooks end to end: the built sandbox runs as a child process, a
// receiver (test_support::server) listens on 127.0.0.1 in this process, and the library fetches
// moving payouts from the sandbox. The test waits for what it expects (run_until), never for a
// fixed time, and asserts no durations. README.md next to the sandbox, "Webhooks", is the spec.
#include <payouts/payouts.hpp>

#include "../tools/common/hmac.hpp"
#include "support/child_process.hpp"
#include "support/fetch_helpers.hpp"
#include "support/https_server.hpp"
#include "support/run_until.hpp"
#include "support/sandbox_process.hpp"

#include <sandbox_path.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace net = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using payouts::Checkout;
using payouts::Yuno;
using test_support::request_record;
using test_support::run_until;

constexpr std::string_view secret = "whsec-sAnDbOx-7f3a91";

using test_support::temp_dir;

// --- the sandbox, with its request log kept (the log is part of what is checked) -------------

class sandbox : public test_support::sandbox_process {
public:
    explicit sandbox(std::string const& name, std::vector<std::string> extra = {})
        : sandbox_process(temp_dir("sandbox-webhooks-" + name), std::move(extra), false) {}

    payouts::client_config config() const {
        auto c = sandbox_process::config();
        c.deadline = 10s;
        return c;
    }
};

std::vector<std::string> hook_args(std::string const& url, std::vector<std::string> more = {}) {
    std::vector<std::string> a{"--webhook-url", url, "--webhook-secret", std::string(secret)};
    a.insert(a.end(), more.begin(), more.end());
    return a;
}

// --- what the receiver got ----------------------------------------------------------------

json::value body_json(request_record const& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    INFO("body: " << r.body);
    REQUIRE_FALSE(ec);
    return v;
}

std::string text_at(json::value const& v, std::string_view pointer) {
    boost::system::error_code ec;
    auto const* p = v.find_pointer(pointer, ec);
    if (!p || !p->is_string()) return "<absent>";
    return std::string(p->get_string());
}

/// Every delivery of the receiver is a well-formed, signed POST as the provider sends it.
void check_delivery(request_record const& r, bool yuno) {
    INFO("body: " << r.body);
    CHECK(r.method == "POST");
    CHECK(r.target == "/hooks/sandbox?src=test");
    CHECK(r.header("Content-Type") == "application/json");
    CHECK(r.header("User-Agent") == "payouts-sandbox");
    if (yuno) {
        CHECK(r.header("x-hmac-signature") == payouts_tools::hmac_base64(secret, r.body));
        CHECK_FALSE(r.has_header("Cko-Signature"));
    } else {
        CHECK(r.header("Cko-Signature") == payouts_tools::hmac_hex(secret, r.body));
        CHECK_FALSE(r.has_header("x-hmac-signature"));
    }
}

/// Checkout events: the type (the status travels there); Yuno events: data.status.
std::vector<std::string> kinds(std::vector<request_record> const& got, bool yuno) {
    std::vector<std::string> out;
    for (auto const& r : got)
        out.push_back(text_at(body_json(r), yuno ? "/data/status" : "/type"));
    return out;
}

using texts = std::vector<std::string>;

/// One test's world: an event loop, a receiver on it answering per `answer`, a sandbox
/// pointed at the receiver, and a client for the sandbox.
struct world {
    explicit world(std::string const& name,
                   std::function<unsigned(request_record const&)> answer = {},
                   std::vector<std::string> more = {})
        : receiver(
              ioc,
              [this](request_record const& r) {
                  test_support::reply rep;
                  rep.status = answer_ ? answer_(r) : 200u;
                  return rep;
              },
              test_support::server_options{.tls = false})
        , answer_(std::move(answer))
        , sb(name, hook_args(receiver.url("/hooks/sandbox?src=test"), std::move(more))) {}

    template <class P>
    payouts::payout fetch(typename P::id_type id) {
        auto o = test_support::get<P>(ioc, client, std::move(id));
        INFO("sandbox stderr: " << sb.stderr_text());
        REQUIRE_MESSAGE(!o.ec, o.ec.message());
        return o.p;
    }

    /// Runs until the receiver has `n` requests (a generous cap only against hangs).
    void wait_for(std::size_t n) {
        bool ok = run_until(
            ioc, [&] { return receiver.requests.size() >= n; }, 60s);
        INFO("sandbox stderr: " << sb.stderr_text());
        REQUIRE_MESSAGE(ok, "the receiver got " << receiver.requests.size() << " of " << n
                                                << " deliveries");
    }

    std::vector<request_record> const& got() const { return receiver.requests; }

    net::io_context ioc;
    test_support::server receiver;
    std::function<unsigned(request_record const&)> answer_;
    sandbox sb;
    payouts::client client{ioc, sb.config()};
};

} // namespace

TEST_CASE("Checkout: one signed event per change, in order, each after the answer showing it") {
    world w("checkout");
    std::string const id = "tag-order-pay_moving1";
    CHECK(w.fetch<Checkout>(id).provider_status == "Pending");
    // Stage 0 (Pending) sends nothing: the first event, on the same ordered queue, is stage 1's.
    CHECK(w.fetch<Checkout>(id).provider_status == "Paid");
    w.wait_for(1);
    CHECK(kinds(w.got(), false) == texts{"payment_paid"});
    CHECK(w.fetch<Checkout>(id).provider_status == "Returned");
    w.wait_for(2);
    REQUIRE(kinds(w.got(), false) == texts{"payment_paid", "payment_returned"});

    std::vector<std::string> event_ids;
    for (auto const& r : w.got()) {
        check_delivery(r, false);
        json::value v = body_json(r);
        INFO("body: " << r.body);
        std::string const evt = text_at(v, "/id");
        CHECK(evt.starts_with("evt_"));
        CHECK(evt.size() == 30);
        event_ids.push_back(evt);
        CHECK(text_at(v, "/created_on").ends_with("Z"));
        CHECK(text_at(v, "/data/id") == "pay_moving1");
        CHECK(text_at(v, "/data/reference") == "PO-GB-0101");
        CHECK(text_at(v, "/data/currency") == "GBP");
        CHECK(v.at_pointer("/data/amount").as_int64() == 5000);
        CHECK(text_at(v, "/data/action_id").starts_with("act_"));
        CHECK(text_at(v, "/data/destination/type") == "bank_account");
        // Checkout's payout webhooks carry no data.status; on paid and returned events the
        // response summary reads "Approved" (it is not a return reason).
        CHECK(text_at(v, "/data/status") == "<absent>");
        CHECK(text_at(v, "/data/response_summary") == "Approved");
    }
    CHECK(event_ids[0] != event_ids[1]);

    // The log shows each attempt, never the secret nor a signature.
    CHECK(w.sb.stop() == 0);
    std::string const log = w.sb.stderr_text();
    CHECK(log.find("webhook checkout event=" + event_ids[0] +
                   " type=payment_paid payout=tag-order-pay_moving1 stage=1 attempt=1/9 "
                   "delivered") != std::string::npos);
    CHECK(log.find("stage=2 attempt=1/9 delivered") != std::string::npos);
    CHECK(log.find("?[redacted]") != std::string::npos);
    CHECK(log.find("src=test") == std::string::npos);
    CHECK(log.find(secret) == std::string::npos);
    CHECK(log.find(w.got()[0].header("Cko-Signature")) == std::string::npos);
}

TEST_CASE("Yuno: a type: payout event for every stage, the first included, data = the payout") {
    world w("yuno");
    std::string const id = "tag-order-moving-1";
    std::vector<std::string> served;
    for (std::size_t i = 0; i < 3; ++i) {
        payouts::payout p = w.fetch<Yuno>(id);
        served.push_back(p.raw);
        w.wait_for(i + 1);
    }
    REQUIRE(kinds(w.got(), true) == texts{"CREATED", "PENDING", "SUCCEEDED"});
    for (std::size_t i = 0; i < 3; ++i) {
        request_record const& r = w.got()[i];
        check_delivery(r, true);
        json::value v = body_json(r);
        INFO("body: " << r.body);
        CHECK(text_at(v, "/type") == "payout");
        CHECK(text_at(v, "/type_event") == "payout.payout");
        CHECK(text_at(v, "/account_id") == "f7c5fe77-721b-49c2-84d3-957748df3c2c");
        CHECK(v.at_pointer("/retry").as_int64() == 0);
        CHECK(v.at_pointer("/version").as_int64() == 2);
        // The payout object directly under data: the Get-Payout body of that stage.
        CHECK(v.at("data") == json::parse(served[i]));
        // The exact text of the amount survives (no re-serialised double).
        CHECK(r.body.find("\"value\": 250.75") != std::string::npos);
    }
    // And the library decodes the webhook's data like the payout it is.
    auto decoded = payouts::decode<Yuno>(json::serialize(body_json(w.got()[2]).at("data")));
    REQUIRE(decoded.has_value());
    CHECK(decoded->status == payouts::payout_status::paid);
    CHECK(w.sb.stop() == 0);
    CHECK(w.sb.stderr_text().find(
              "webhook yuno type=payout.payout payout=tag-order-moving-1 stage=0 attempt=1/7 "
              "delivered") != std::string::npos);
}

TEST_CASE("a failed delivery is retried with the same event, before the next one") {
    SUBCASE("Checkout: identical bytes, identical event id") {
        // The first delivery gets a 500; a slower first retry leaves time for the third fetch,
        // whose event must still wait for the retried one.
        unsigned seen = 0;
        world w("retry-checkout", [&](request_record const&) { return ++seen == 1 ? 500u : 200u; },
                {"--webhook-retry-ms", "300"});
        std::string const id = "tag-retry-pay_moving1";
        w.fetch<Checkout>(id);
        w.fetch<Checkout>(id);
        w.fetch<Checkout>(id);
        w.wait_for(3);
        REQUIRE(kinds(w.got(), false) == texts{"payment_paid", "payment_paid", "payment_returned"});
        for (auto const& r : w.got())
            check_delivery(r, false);
        CHECK(w.got()[0].body == w.got()[1].body);
        CHECK(w.got()[0].header("Cko-Signature") == w.got()[1].header("Cko-Signature"));
        CHECK(text_at(body_json(w.got()[0]), "/id") == text_at(body_json(w.got()[1]), "/id"));
        CHECK(w.sb.stop() == 0);
        std::string const log = w.sb.stderr_text();
        CHECK(log.find(" 500 ") != std::string::npos);
        CHECK(log.find("stage=1 attempt=1/9 retry-in=300ms") != std::string::npos);
        CHECK(log.find("stage=1 attempt=2/9 delivered") != std::string::npos);
    }
    SUBCASE("Yuno: the same payout data, `retry` counted up as Yuno documents") {
        unsigned seen = 0;
        world w("retry-yuno", [&](request_record const&) { return ++seen == 1 ? 503u : 200u; },
                {"--webhook-retry-ms", "20"});
        w.fetch<Yuno>("tag-retry-moving-1");
        w.wait_for(2);
        REQUIRE(kinds(w.got(), true) == texts{"CREATED", "CREATED"});
        json::value first = body_json(w.got()[0]), second = body_json(w.got()[1]);
        for (auto const& r : w.got())
            check_delivery(r, true);
        CHECK(first.at("retry").as_int64() == 0);
        CHECK(second.at("retry").as_int64() == 1);
        CHECK(first.at("data") == second.at("data"));
        // Byte for byte, apart from the counter.
        std::string a = w.got()[0].body, b = w.got()[1].body;
        a.replace(a.find("\"retry\":0"), 9, "\"retry\":N");
        b.replace(b.find("\"retry\":1"), 9, "\"retry\":N");
        CHECK(a == b);
    }
}

TEST_CASE("after the provider's number of attempts the event is given up; the next follows") {
    SUBCASE("Checkout: 1 + 8 resends") {
        world w("giveup-checkout",
                [](request_record const& r) {
                    return r.body.find("payment_paid") != std::string::npos ? 500u : 200u;
                },
                {"--webhook-retry-ms", "1"});
        std::string const id = "tag-giveup-pay_moving1";
        w.fetch<Checkout>(id);
        w.fetch<Checkout>(id);
        w.fetch<Checkout>(id);
        w.wait_for(10);
        texts expected(9, "payment_paid");
        expected.push_back("payment_returned");
        CHECK(kinds(w.got(), false) == expected);
        for (std::size_t i = 1; i < 9; ++i)
            CHECK(w.got()[i].body == w.got()[0].body);
        CHECK(w.sb.stop() == 0);
        CHECK(w.sb.stderr_text().find("stage=1 attempt=9/9 gave up") != std::string::npos);
    }
    SUBCASE("Yuno: 7 attempts") {
        world w("giveup-yuno",
                [](request_record const& r) {
                    return r.body.find("\"CREATED\"") != std::string::npos ? 500u : 200u;
                },
                {"--webhook-retry-ms", "1"});
        w.fetch<Yuno>("tag-giveup-moving-1");
        w.fetch<Yuno>("tag-giveup-moving-1");
        w.wait_for(8);
        texts expected(7, "CREATED");
        expected.push_back("PENDING");
        CHECK(kinds(w.got(), true) == expected);
        for (std::size_t i = 0; i < 7; ++i)
            CHECK(body_json(w.got()[i]).at("retry").as_int64() == static_cast<std::int64_t>(i));
        CHECK(w.sb.stop() == 0);
        CHECK(w.sb.stderr_text().find("stage=0 attempt=7/7 gave up") != std::string::npos);
    }
    SUBCASE("Yuno drops an event answered 404, without retrying") {
        world w("drop-yuno", [](request_record const& r) {
            return r.body.find("\"CREATED\"") != std::string::npos ? 404u : 200u;
        });
        w.fetch<Yuno>("tag-drop-moving-1");
        w.fetch<Yuno>("tag-drop-moving-1");
        w.wait_for(2);
        CHECK(kinds(w.got(), true) == texts{"CREATED", "PENDING"});
        CHECK(w.sb.stop() == 0);
        CHECK(w.sb.stderr_text().find("stage=0 attempt=1/7 dropped") != std::string::npos);
    }
}

TEST_CASE("a timed payout sends every event after a single fetch") {
    world w("timed");
    w.fetch<Checkout>("tag-timed-pay_movingtimed");
    w.fetch<Yuno>("tag-timed-moving-timed");
    w.wait_for(5);
    texts checkout, yuno;
    for (auto const& r : w.got()) {
        bool const is_yuno = r.has_header("x-hmac-signature");
        check_delivery(r, is_yuno);
        json::value v = body_json(r);
        if (is_yuno)
            yuno.push_back(text_at(v, "/data/status"));
        else
            checkout.push_back(text_at(v, "/type"));
    }
    CHECK(checkout == texts{"payment_paid", "payment_returned"});
    CHECK(yuno == texts{"CREATED", "PENDING", "SUCCEEDED"});
    // Fetching again later sends nothing more: the stages were all notified.
    CHECK(w.fetch<Checkout>("tag-timed-pay_movingtimed").provider_status == "Returned");
}

TEST_CASE("Truust, DRUO and Introw moving payouts send no webhook") {
    world w("others");
    for (int i = 0; i < 3; ++i)
        w.fetch<payouts::Truust>(470);
    for (int i = 0; i < 5; ++i)
        w.fetch<payouts::Druo>("trx_moving-1");
    for (int i = 0; i < 6; ++i)
        w.fetch<payouts::Introw>("pay_moving1");
    // A Checkout change afterwards, as a marker: it is all the receiver ever sees.
    w.fetch<Checkout>("tag-marker-pay_moving1");
    w.fetch<Checkout>("tag-marker-pay_moving1");
    w.wait_for(1);
    CHECK(kinds(w.got(), false) == texts{"payment_paid"});
    CHECK(w.sb.stop() == 0);
    std::string const log = w.sb.stderr_text();
    for (std::string_view p : {"truust", "druo", "introw"})
        CHECK(log.find("webhook " + std::string(p)) == std::string::npos);
}

TEST_CASE("without --webhook-url nothing is sent, and nothing else changes") {
    net::io_context ioc;
    test_support::server receiver(
        ioc, [](request_record const&) { return test_support::reply{}; },
        test_support::server_options{.tls = false});
    sandbox sb("none");
    payouts::client client{ioc, sb.config()};
    texts statuses;
    for (int i = 0; i < 3; ++i) {
        auto o = test_support::get<Checkout>(ioc, client, "pay_moving1");
        REQUIRE_FALSE(o.ec);
        statuses.push_back(o.p.provider_status);
        auto y = test_support::get<Yuno>(ioc, client, "moving-1");
        REQUIRE_FALSE(y.ec);
        statuses.push_back(y.p.provider_status);
    }
    CHECK(statuses == texts{"Pending", "CREATED", "Paid", "PENDING", "Returned", "SUCCEEDED"});
    CHECK(sb.stop() == 0);
    CHECK(sb.stderr_text().find("webhook") == std::string::npos);
    CHECK(receiver.requests.empty());
}

TEST_CASE("deliveries under way do not keep the sandbox from stopping") {
    SUBCASE("a receiver that never answers") {
        net::io_context ioc;
        test_support::server receiver(
            ioc,
            [](request_record const&) {
                test_support::reply r;
                r.stall = true;
                return r;
            },
            test_support::server_options{.tls = false});
        sandbox sb("stop-stall", hook_args(receiver.url("/hooks/sandbox?src=test")));
        payouts::client client{ioc, sb.config()};
        for (int i = 0; i < 2; ++i)
            REQUIRE_FALSE(test_support::get<Yuno>(ioc, client, "tag-stop-moving-1").ec);
        REQUIRE(run_until(
            ioc, [&] { return receiver.requests.size() >= 1; }, 60s));
        CHECK(sb.stop() == 0); // SIGTERM: a clean exit, not the SIGKILL after 10 s (-1)
    }
    SUBCASE("a retry waiting, and a timed payout's stages still to come") {
        world w("stop-retry", [](request_record const&) { return 500u; },
                {"--webhook-retry-ms", "3600000"});
        w.fetch<Checkout>("tag-stop-pay_moving1");
        w.fetch<Checkout>("tag-stop-pay_moving1");
        w.fetch<Yuno>("tag-stop-moving-timed");
        w.wait_for(2);
        CHECK(w.sb.stop() == 0);
    }
}

TEST_CASE("webhook options are checked at start") {
    auto run = [](std::string const& name, std::vector<std::string> extra) {
        fs::path dir = temp_dir("sandbox-webhooks-args-" + name);
        fs::create_directories(dir);
        std::vector<std::string> a{PAYOUTS_SANDBOX_EXE, "--port", "0", "--http"};
        a.insert(a.end(), extra.begin(), extra.end());
        test_support::child_process child(a, {}, dir / "out", dir / "err");
        int const code = child.stop(0); // waits for it to exit by itself
        std::string err = test_support::slurp(dir / "err");
        std::string out = test_support::slurp(dir / "out");
        std::error_code ignored;
        fs::remove_all(dir, ignored);
        CHECK(out.empty()); // it never started serving
        return std::pair{code, err};
    };
    SUBCASE("--webhook-url without --webhook-secret") {
        auto [code, err] = run("nosecret", {"--webhook-url", "http://127.0.0.1:9/hook"});
        CHECK(code == 2);
        CHECK(err.find("--webhook-url needs --webhook-secret") != std::string::npos);
    }
    SUBCASE("--webhook-secret without --webhook-url") {
        auto [code, err] = run("nourl", {"--webhook-secret", "s"});
        CHECK(code == 2);
        CHECK(err.find("--webhook-secret goes with --webhook-url") != std::string::npos);
    }
    SUBCASE("not an http(s) URL") {
        auto [code, err] =
            run("ftp", {"--webhook-url", "ftp://127.0.0.1/x", "--webhook-secret", "s"});
        CHECK(code == 2);
        CHECK(err.find("only http:// and https://") != std::string::npos);
    }
    SUBCASE("user info in the URL") {
        auto [code, err] =
            run("userinfo", {"--webhook-url", "http://u:p@127.0.0.1/x", "--webhook-secret", "s"});
        CHECK(code == 2);
        CHECK(err.find("user info") != std::string::npos);
    }
}

TEST_CASE("an https:// receiver is verified against --webhook-ca") {
    net::io_context ioc;
    test_support::server receiver(ioc, [](request_record const&) { return test_support::reply{}; });
    fs::path dir = temp_dir("sandbox-webhooks-ca");
    fs::create_directories(dir);
    { std::ofstream(dir / "ca.pem") << receiver.ca_pem(); }
    // "localhost": a name, so the host-name check and SNI are exercised too.
    sandbox sb("https", hook_args(receiver.url("/hooks/sandbox?src=test", "localhost"),
                                  {"--webhook-ca", (dir / "ca.pem").string()}));
    payouts::client client{ioc, sb.config()};
    for (int i = 0; i < 2; ++i)
        REQUIRE_FALSE(test_support::get<Checkout>(ioc, client, "tag-tls-pay_moving1").ec);
    REQUIRE(run_until(
        ioc, [&] { return receiver.requests.size() >= 1; }, 60s));
    check_delivery(receiver.requests[0], false);
    CHECK(receiver.handshakes >= 1);
    std::error_code ignored;
    fs::remove_all(dir, ignored);
}
