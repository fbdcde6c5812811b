// The HTTP CONNECT tunnel through an egress proxy: once it is open, the stream carries TLS to
// the provider exactly as a direct connection would.
#pragma once

#include <payouts/detail/url.hpp>
#include <payouts/error.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace payouts::detail {

struct tunnel_result {
    int proxy_status = 0; // the proxy's answer to CONNECT; 0 when there was none
    std::string why;      // for diagnostics: names the proxy, the target and its answer
    bool retryable = false;
};

// Sends `CONNECT host:port` on `s` (connected to the proxy `proxy_name`, "host:port") and reads
// the answer's header. `authorization` is the whole Proxy-Authorization value ("" = none); it
// never appears in `out.why`. The caller bounds the time it takes. `Stream`: a TCP socket, or a
// stream like Beast's tcp_stream.
template <class Stream>
boost::asio::awaitable<error_code> open_tunnel(Stream& s, boost::beast::flat_buffer& buffer,
                                               std::string_view proxy_name, std::string_view host,
                                               std::uint16_t port, std::string_view authorization,
                                               std::string_view user_agent, tunnel_result& out) {
    namespace http = boost::beast::http;
    using boost::asio::redirect_error;
    using boost::asio::use_awaitable;
    out = {};
    // Beast writes CR and LF in fields unchanged: they would inject headers.
    for (auto v : {host, authorization, user_agent})
        if (v.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
            co_return make_error_code(errc::invalid_config);
    std::string const target = authority(host, port);
    std::string const what = "proxy " + std::string(proxy_name);
    std::string const connect = " CONNECT to " + target;

    http::request<http::empty_body> req{http::verb::connect, target, 11};
    req.set(http::field::host, target);
    if (!authorization.empty()) req.set(http::field::proxy_authorization, authorization);
    req.set(http::field::user_agent, user_agent);
    error_code ec;
    co_await http::async_write(s, req, redirect_error(use_awaitable, ec));
    if (ec) co_return ec;

    http::response_parser<http::empty_body> p;
    p.skip(true); // a 2xx answer to CONNECT has no body: what follows is the tunnel's
    p.header_limit(8 * 1024);
    co_await http::async_read_header(s, buffer, p, redirect_error(use_awaitable, ec));
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        ec == boost::asio::error::eof) {
        out.why = what + " closed the connection before answering" + connect;
        out.retryable = true;
        co_return make_error_code(errc::proxy_refused);
    }
    if (ec) co_return ec;
    auto const& res = p.get();
    out.proxy_status = static_cast<int>(res.result_int());
    if (out.proxy_status / 100 != 2) {
        out.why = what + " refused" + connect + ": HTTP " + std::to_string(out.proxy_status) + " " +
                  std::string(res.reason().substr(0, 100));
        out.retryable = out.proxy_status >= 502 && out.proxy_status <= 504;
        co_return make_error_code(errc::proxy_refused);
    }
    // Bytes after the answer would be the server's first TLS bytes, read into the wrong buffer.
    if (buffer.size() != 0) {
        out.why = what + " sent " + std::to_string(buffer.size()) +
                  " unexpected bytes after its answer to" + connect;
        co_return make_error_code(errc::proxy_refused);
    }
    co_return error_code{};
}

} // namespace payouts::detail
