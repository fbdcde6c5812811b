// The webhook receiver example (examples/webhook_receiver.cpp) fed by payouts-sandbox, end to
// end: the sandbox POSTs signed Checkout.com and Yuno events while the library watches its
// moving payouts; a forwarder in this process passes each delivery on to the receiver and loses
// the receiver's first answer to every event, so the sandbox delivers it again and the receiver
// must skip it as a duplicate. Then the receiver's refusals: 401 for a bad signature, 400 for a
// signed body that is not a payout event.
#include <payouts/payouts.hpp>

#include "../tools/common/hmac.hpp"
#include "support/child_process.hpp"
#include "support/https_server.hpp"
#include "support/run_until.hpp"
#include "support/sandbox_process.hpp"

#include <receiver_path.hpp>

#include <boost/asio/connect.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

constexpr std::string_view secret = "whsec-receiver-test-2c7d";

using test_support::lines_of;

// The receiver example as a child process; its first line on stdout is its URL.
class receiver_process {
public:
    explicit receiver_process(fs::path dir)
        : dir_((fs::create_directories(dir), std::move(dir)))
        , child_({PAYOUTS_WEBHOOK_RECEIVER_EXE},
                 {{"PAYOUTS_CHECKOUT_WEBHOOK_SECRET", "retired-key," + std::string(secret)},
                  {"PAYOUTS_YUNO_WEBHOOK_SECRET", std::string(secret)}},
                 dir_ / "out", dir_ / "err") {
        for (int i = 0; i < 600 && port_ == 0; ++i) {
            auto const lines = lines_of(test_support::slurp(dir_ / "out"));
            if (!lines.empty())
                port_ = std::stoi(lines[0].substr(lines[0].rfind(':') + 1));
            else
                ::usleep(50000);
        }
        REQUIRE_MESSAGE(port_ != 0, "the receiver printed no URL: " << err());
    }
    ~receiver_process() {
        child_.stop(SIGTERM);
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }

    unsigned short port() const { return static_cast<unsigned short>(port_); }
    std::vector<std::string> events() const { // stdout after the URL line
        auto lines = lines_of(test_support::slurp(dir_ / "out"));
        return {lines.begin() + 1, lines.end()};
    }
    std::string err() const { return test_support::slurp(dir_ / "err"); }

private:
    fs::path dir_;
    test_support::child_process child_;
    int port_ = 0;
};

// One POST to the receiver, synchronously (it is another process): the status it answered.
unsigned post(unsigned short port, std::string const& target,
              std::vector<std::pair<std::string, std::string>> const& headers,
              std::string const& body) {
    net::io_context ioc;
    net::ip::tcp::socket sock(ioc);
    sock.connect({net::ip::make_address("127.0.0.1"), port});
    http::request<http::string_body> req{http::verb::post, target, 11};
    for (auto const& [name, value] : headers)
        if (!boost::beast::iequals(name, "Host") && !boost::beast::iequals(name, "Content-Length"))
            req.set(name, value);
    req.set(http::field::host, "127.0.0.1");
    req.body() = body;
    req.prepare_payload();
    http::write(sock, req);
    boost::beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(sock, buf, res);
    return res.result_int();
}

std::vector<std::string> of_provider(std::vector<std::string> const& events,
                                     std::string_view provider) {
    std::vector<std::string> out;
    for (auto const& e : events)
        if (e.starts_with(std::string(provider) + " ")) out.push_back(e);
    return out;
}

// "checkout payment_paid evt_x pay_moving1 paid Paid 50.00 GBP" without its event id.
std::string without_event_id(std::string const& line) {
    std::istringstream in(line);
    std::string provider, type, id, rest;
    in >> provider >> type >> id;
    std::getline(in, rest);
    return provider + " " + type + rest;
}

} // namespace

TEST_CASE("the receiver example: every sandbox event once, redeliveries skipped as duplicates") {
    auto const dir = fs::temp_directory_path() / ("payouts-receiver-" + std::to_string(::getpid()));
    receiver_process receiver(dir / "receiver");

    net::io_context ioc;
    // Forwards each delivery to the receiver; the receiver's answer to the first delivery of an
    // event (Checkout: its id; Yuno: retry 0) is lost, as a timed-out acknowledgement would be.
    std::set<std::string> acknowledged;
    std::size_t lost = 0;
    std::vector<unsigned> receiver_status;
    test_support::server forwarder(
        ioc,
        [&](test_support::request_record const& r) {
            receiver_status.push_back(post(receiver.port(), "/webhooks", r.headers, r.body));
            auto const body = boost::json::parse(r.body).as_object();
            bool const first =
                body.contains("retry")
                    ? body.at("retry").to_number<int>() == 0
                    : acknowledged.insert(std::string(body.at("id").as_string())).second;
            test_support::reply out;
            out.status = first ? 503 : receiver_status.back();
            lost += first;
            return out;
        },
        {.tls = false});

    test_support::sandbox_process sandbox(
        dir / "sandbox", {"--webhook-url", forwarder.url("/hooks"), "--webhook-secret",
                          std::string(secret), "--webhook-retry-ms", "5"});
    auto cfg = sandbox.config();
    payouts::client client(ioc, std::move(cfg));

    // The library watches both moving payouts through every stage; each change is an event.
    payouts::watch_options opt;
    opt.first_interval = 1ms;
    opt.max_interval = 4ms;
    auto returned = opt;
    returned.terminal = payouts::status_set{payouts::payout_status::returned};
    int watching = 2;
    auto done = [&](payouts::error_code ec, payouts::payout const&) {
        CHECK_MESSAGE(!ec, ec.message());
        --watching;
    };
    auto const ignore = [](payouts::payout const&) {};
    payouts::watch<payouts::Checkout>(client, "pay_moving1", returned, ignore, done);
    payouts::watch<payouts::Yuno>(client, "moving-1", opt, ignore, done);

    // Checkout sends nothing for Pending: paid and returned; Yuno one event per stage.
    REQUIRE_MESSAGE(test_support::run_until(
                        ioc,
                        [&] {
                            return watching == 0 && lost == 5 && receiver.events().size() == 5 &&
                                   receiver_status.size() == 10;
                        },
                        60s),
                    "receiver: " << receiver.err() << "; events " << receiver.events().size()
                                 << ", deliveries " << receiver_status.size());

    auto const events = receiver.events();
    auto const checkout = of_provider(events, "checkout");
    REQUIRE(checkout.size() == 2);
    CHECK(without_event_id(checkout[0]) ==
          "checkout payment_paid pay_moving1 paid payment_paid 50.00 GBP");
    CHECK(without_event_id(checkout[1]) ==
          "checkout payment_returned pay_moving1 returned payment_returned 50.00 GBP");
    for (auto const& e : checkout)
        CHECK(e.find(" evt_") != std::string::npos);
    auto const yuno = of_provider(events, "yuno");
    REQUIRE(yuno.size() == 3);
    CHECK(without_event_id(yuno[0]) == "yuno payout.payout moving-1 pending CREATED 250.75 BRL");
    CHECK(without_event_id(yuno[1]) == "yuno payout.payout moving-1 processing PENDING 250.75 BRL");
    CHECK(without_event_id(yuno[2]) == "yuno payout.payout moving-1 paid SUCCEEDED 250.75 BRL");
    CHECK(yuno[0].find(" payout.payout:moving-1:CREATED:") != std::string::npos);

    // Every delivery verified (200 both times); each redelivery was reported as a duplicate.
    CHECK(std::count(receiver_status.begin(), receiver_status.end(), 200u) == 10);
    auto const err = receiver.err();
    std::size_t duplicates = 0;
    for (auto const& line : lines_of(err))
        duplicates += line.find(": duplicate ") != std::string::npos;
    CHECK(duplicates == 5);
    CHECK(err.find(secret) == std::string::npos);

    // Refusals: unsigned, signed with another key, signed but not a payout event.
    std::string const body = R"({"id":"evt_x","type":"payment_paid","data":{}})";
    CHECK(post(receiver.port(), "/webhooks", {}, body) == 401);
    CHECK(post(receiver.port(), "/webhooks",
               {{"Cko-Signature", payouts_tools::hmac_hex("other-key", body)}}, body) == 401);
    CHECK(post(receiver.port(), "/webhooks",
               {{"Cko-Signature", payouts_tools::hmac_hex(secret, body)}}, body) == 400);
    auto const refusals = receiver.err();
    CHECK(refusals.find("refused: no provider's signature header") != std::string::npos);
    CHECK(refusals.find("checkout: refused: webhook signature did not verify") !=
          std::string::npos);
    CHECK(refusals.find("missing /data/id or /data/payout_id") != std::string::npos);
    CHECK(receiver.events().size() == 5);
}
