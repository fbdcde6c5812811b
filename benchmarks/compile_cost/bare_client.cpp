// The baseline for benchmarks/compile: a bare HTTPS client of the same shape as user_fetch.cpp,
// Beast + Asio SSL + Boost.JSON with no library on top. One coroutine fetches five JSON documents
// (resolve, connect, TLS with SNI and host-name verification, GET, read, parse, two fields).
// Compiled and linked, not run.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value_to.hpp>

#include <chrono>
#include <iostream>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct target {
    char const* host;
    char const* path;
};

static asio::awaitable<void> run(ssl::context& tls) {
    target const targets[] = {
        {"api.truust.io", "/2.0/payouts/1234567"},
        {"api.druo.com", "/payouts/PAY-123"},
        {"api.checkout.com", "/payments/pay_abc"},
        {"api.y.uno", "/v1/payouts/7d1b0f8e"},
        {"api.introw.io", "/v1/payouts/po_42"},
    };
    auto ex = co_await asio::this_coro::executor;
    tcp::resolver resolver(ex);
    for (auto const& t : targets) {
        ssl::stream<beast::tcp_stream> stream(ex, tls);
        // SNI, and the certificate must name this host.
        if (!SSL_set_tlsext_host_name(stream.native_handle(), t.host))
            throw beast::system_error(static_cast<int>(::ERR_get_error()),
                                      asio::error::get_ssl_category());
        stream.set_verify_callback(ssl::host_name_verification(t.host));

        auto const endpoints = co_await resolver.async_resolve(t.host, "443", asio::use_awaitable);
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
        co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
        co_await stream.async_handshake(ssl::stream_base::client, asio::use_awaitable);

        http::request<http::empty_body> req{http::verb::get, t.path, 11};
        req.set(http::field::host, t.host);
        req.set(http::field::authorization, "Bearer token");
        req.set(http::field::accept, "application/json");
        co_await http::async_write(stream, req, asio::use_awaitable);

        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        co_await http::async_read(stream, buffer, res, asio::use_awaitable);

        auto const doc = json::parse(res.body());
        auto const& obj = doc.as_object();
        std::cout << t.host << ' ' << res.result_int() << ' '
                  << json::value_to<std::string>(obj.at("id")) << ' '
                  << obj.at("status").as_string() << '\n';

        // Servers often close without close_notify; the data is already read.
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
        co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
    }
}

int main() {
    asio::io_context ctx;
    ssl::context tls(ssl::context::tls_client);
    tls.set_default_verify_paths();
    tls.set_verify_mode(ssl::verify_peer);
    asio::co_spawn(ctx, run(tls), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
    ctx.run();
}
