// A payout webhook receiver: a small Beast HTTP server that verifies and decodes every POST with
// payouts::decode_webhook<P>, answers 200 (401 for a bad signature, 400 for a bad body), skips
// events it has already seen by event_id, and prints one line per new event.
//
// usage: webhook_receiver [--port N]          (default 0: any free port, on 127.0.0.1)
// One URL for every provider with webhook decoding (Checkout.com, Yuno): each is recognised by
// its signature header (Cko-Signature, x-hmac-signature). Secrets come from the environment,
// comma-separated during a key rotation: PAYOUTS_CHECKOUT_WEBHOOK_SECRET,
// PAYOUTS_YUNO_WEBHOOK_SECRET. The first line on stdout is the receiver's URL; then one line
// per new event: provider, event type, event id, payout id, status, provider status, amount.
// Refusals and duplicates are reported on stderr. A production receiver would sit behind TLS,
// store the event before answering, and keep the ids it has seen across restarts.
#include <payouts/payouts.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/mp11/algorithm.hpp>

#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace net = boost::asio;
namespace http = boost::beast::http;
using net::ip::tcp;

namespace {

// Every provider whose header declares webhook decoding.
template <class P>
using has_webhooks = std::bool_constant<payouts::webhook_provider<P>>;
using webhook_providers = boost::mp11::mp_copy_if<payouts::all_providers, has_webhooks>;

// "k1,k2" from PAYOUTS_<PROVIDER>_WEBHOOK_SECRET, in order.
std::vector<std::string> secrets_of(std::string_view provider) {
    std::string variable = "PAYOUTS_";
    for (char c : provider)
        variable += char(std::toupper(static_cast<unsigned char>(c)));
    variable += "_WEBHOOK_SECRET";
    std::vector<std::string> out;
    char const* v = std::getenv(variable.c_str());
    std::string_view rest = v ? v : "";
    while (!rest.empty()) {
        auto const comma = rest.find(',');
        if (auto const s = rest.substr(0, comma); !s.empty()) out.emplace_back(s);
        rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
    }
    return out;
}

class receiver {
public:
    receiver() {
        boost::mp11::mp_for_each<webhook_providers>(
            [&]<class P>(P) { secrets_[std::string(P::name)] = secrets_of(P::name); });
    }

    bool has_secrets() const {
        for (auto const& [provider, secrets] : secrets_)
            if (!secrets.empty()) return true;
        return false;
    }

    http::status route(http::request<http::string_body> const& req) {
        if (req.method() != http::verb::post) return http::status::method_not_allowed;
        std::optional<http::status> status;
        boost::mp11::mp_for_each<webhook_providers>([&]<class P>(P) {
            if (!status && req.base().count(P::webhook::signature.header) != 0)
                status = handle<P>(req);
        });
        if (status) return *status;
        std::cerr << "refused: no provider's signature header\n";
        return http::status::unauthorized;
    }

private:
    template <class P>
    http::status handle(http::request<http::string_body> const& req) {
        auto const& secrets = secrets_[std::string(P::name)];
        std::vector<std::string_view> const keys(secrets.begin(), secrets.end());
        payouts::diagnostics diag;
        auto event = payouts::decode_webhook<P>(req.body(), req.base(), keys, diag);
        if (!event) {
            // The reason, never the secret: decode_webhook's diagnostics do not hold it.
            std::cerr << P::name << ": refused: " << event.error().message() << ": " << diag.message
                      << '\n';
            return event.error() == payouts::errc::invalid_signature ? http::status::unauthorized
                                                                     : http::status::bad_request;
        }
        // Providers deliver at least once: a repeated delivery is answered, not reported again.
        if (!seen_.emplace(std::string(P::name), event->event_id).second) {
            std::cerr << P::name << ": duplicate " << event->event_id << '\n';
            return http::status::ok;
        }
        auto const& p = event->payout;
        std::cout << P::name << ' ' << event->event_type << ' ' << event->event_id << ' ' << p.id
                  << ' ' << payouts::to_string(p.status) << ' ' << p.provider_status << ' '
                  << (p.amount ? p.amount->to_decimal_string() + " " + p.amount->currency : "-")
                  << std::endl; // read as it happens, often through a pipe
        return http::status::ok;
    }

    std::map<std::string, std::vector<std::string>> secrets_;
    std::set<std::pair<std::string, std::string>> seen_; // (provider, event_id)
};

net::awaitable<void> serve(boost::beast::tcp_stream stream, receiver& r) {
    boost::beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(1 << 20);
        stream.expires_after(std::chrono::seconds(30));
        auto [ec, n] =
            co_await http::async_read(stream, buffer, parser, net::as_tuple(net::use_awaitable));
        if (ec) co_return; // closed, timed out or not HTTP: nothing to answer
        auto const& req = parser.get();
        http::response<http::string_body> res{r.route(req), req.version()};
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        auto [wec, wn] = co_await http::async_write(stream, res, net::as_tuple(net::use_awaitable));
        if (wec || !res.keep_alive()) co_return;
    }
}

net::awaitable<void> listen(tcp::acceptor& acceptor, receiver& r) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(net::as_tuple(net::use_awaitable));
        if (ec) co_return; // the acceptor was closed: shutting down
        net::co_spawn(acceptor.get_executor(),
                      serve(boost::beast::tcp_stream(std::move(socket)), r), net::detached);
    }
}

} // namespace

int main(int argc, char** argv) try {
    unsigned short port = 0;
    for (int i = 1; i < argc; ++i) {
        std::string_view const a = argv[i];
        if (a == "--port" && i + 1 < argc) {
            port = static_cast<unsigned short>(std::stoul(argv[++i]));
        } else {
            std::cerr << "usage: webhook_receiver [--port N]\n";
            return 2;
        }
    }
    receiver r;
    if (!r.has_secrets()) {
        std::cerr << "webhook_receiver: no secrets: set PAYOUTS_<PROVIDER>_WEBHOOK_SECRET for "
                     "at least one provider (checkout, yuno)\n";
        return 2;
    }
    net::io_context ioc;
    tcp::acceptor acceptor(ioc, {net::ip::make_address("127.0.0.1"), port});
    std::cout << "http://127.0.0.1:" << acceptor.local_endpoint().port() << std::endl;
    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int) {
        acceptor.close();
        ioc.stop();
    });
    net::co_spawn(ioc, listen(acceptor, r), net::detached);
    ioc.run();
    return 0;
} catch (std::exception const& e) {
    std::cerr << "webhook_receiver: " << e.what() << '\n';
    return 1;
}
