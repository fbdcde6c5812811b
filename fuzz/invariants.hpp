// What must hold for any input, checked by the libFuzzer targets and replayed on saved crashers
// by tests/test_fuzz_regressions.cpp. Each returns an empty string when the invariants hold, or
// says which one broke. The expected values are worked out here independently where that is
// cheap (the contract's tables, the C library's timegm, 128-bit arithmetic), not by calling the
// code under test again.
#pragma once

#include <payouts/payouts.hpp>
// The internals checked below, named for separate mode too (header-only, payouts.hpp has them).
#include <payouts/detail/client_core.hpp>
#include <payouts/detail/fetch_op.hpp>
#include <payouts/detail/request.hpp>
#include <payouts/detail/retry.hpp>
#include <payouts/detail/transport.hpp>

#include <boost/algorithm/hex.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "../tools/common/hmac.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace payouts_fuzz {

// decode<P>: failure is always invalid_response with a message; success has an id and a
// status, keeps the body as raw, and amounts follow the model's scale rule.
template <class P>
std::string check_decode(std::string_view body) {
    payouts::diagnostics diag;
    auto r = payouts::decode<P>(body, diag);
    if (!r) {
        if (r.error() != payouts::errc::invalid_response) return "unexpected error code";
        if (diag.message.empty()) return "error without a message";
        return {};
    }
    if (r->id.empty() || r->provider_status.empty()) return "payout without id or status";
    if (r->raw != body) return "raw differs from the body";
    if (r->amount) {
        auto const& m = *r->amount;
        if (m.scale < payouts::iso4217_exponent(m.currency) || m.scale > 18 ||
            !payouts::is_currency_code(m.currency))
            return "amount breaks the scale rule";
    }
    return {};
}

// The converters: what parses, printed back, parses to the same value.
inline std::string check_convert(std::string_view s) {
    using payouts::time_format;
    for (auto f :
         {time_format::strict, time_format::zoneless_is_utc | time_format::seconds_optional}) {
        if (auto t = payouts::parse_rfc3339(s, f)) {
            auto const again = payouts::parse_rfc3339(payouts::format_rfc3339(*t));
            if (!again || *again != *t) return "timestamp does not round-trip";
        }
    }
    if (auto d = payouts::parse_decimal(s)) {
        payouts::money const m{d->units, d->scale, "XXX"};
        auto const again = payouts::parse_decimal(m.to_decimal_string());
        if (!again || *again != *d) return "decimal does not round-trip";
    }
    if (auto i = payouts::parse_int64(s)) {
        auto const again = payouts::parse_int64(std::to_string(*i));
        if (!again || *again != *i) return "integer does not round-trip";
    }
    return {};
}

// ---------------------------------------------------------------------------------------------
// Retry-After (detail::parse_retry_after, parse_http_date, retry_delay)

namespace retry_check {

inline std::string_view trim_ows(std::string_view v) {
    auto const first = v.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    return v.substr(first, v.find_last_not_of(" \t") - first + 1);
}

__extension__ typedef __int128 wide; // exact nanosecond distances between any two instants

// The largest wait either form may ask for (the parser saturates there).
inline constexpr std::int64_t cap_seconds = 100000000;

inline constexpr std::string_view month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
inline constexpr std::string_view day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

// Calendar fields of an instant, through std::chrono's days-to-civil direction (the parser goes
// the other way), for printing the instant back in the form it was read from.
struct fields {
    int year, month, day, hour, minute, second;
};
inline fields fields_of(std::chrono::sys_seconds t) {
    using namespace std::chrono;
    auto const d = floor<days>(t);
    year_month_day const ymd{d};
    hh_mm_ss const hms{t - d};
    return {int(ymd.year()),          int(unsigned(ymd.month())), int(unsigned(ymd.day())),
            int(hms.hours().count()), int(hms.minutes().count()), int(hms.seconds().count())};
}

inline std::string two(int v) {
    char b[3] = {char('0' + v / 10 % 10), char('0' + v % 10), 0};
    return b;
}
inline std::string four(int v) {
    return two(v / 100) + two(v % 100);
}

// The input (trimmed, accepted by parse_http_date as `t`) printed back from `t`: each form's
// text must say the same instant. The weekday is not checked by the parser, so it is skipped;
// a leap second (":60") is read as the next minute's first second and printed back as such.
inline std::string date_mismatch(std::string_view s, std::chrono::sys_seconds t) {
    auto const comma = s.find(',');
    std::string_view const sec = comma == 3                        ? s.substr(22, 3)
                                 : comma != std::string_view::npos ? s.substr(comma + 17, 3)
                                                                   : s.substr(16, 3);
    bool const leap = sec == ":60";
    auto f = fields_of(leap ? t - std::chrono::seconds(1) : t);
    if (leap) f.second = 60;
    std::string const hms = two(f.hour) + ":" + two(f.minute) + ":" + two(f.second);
    std::string const mon(month_names[f.month - 1]);
    if (comma == 3) {
        auto const want = ", " + two(f.day) + " " + mon + " " + four(f.year) + " " + hms + " GMT";
        return s.substr(3) == want ? "" : "IMF-fixdate read as another instant";
    }
    if (comma != std::string_view::npos) {
        if (f.year < 1970 || f.year > 2069) return "RFC 850 date outside 1970-2069";
        auto const want =
            " " + two(f.day) + "-" + mon + "-" + two(f.year % 100) + " " + hms + " GMT";
        return s.substr(comma + 1) == want ? "" : "RFC 850 date read as another instant";
    }
    auto const tail = " " + hms + " " + four(f.year);
    auto const padded = " " + mon + " " + (f.day < 10 ? " " : "") + std::to_string(f.day) + tail;
    auto const zeroed = " " + mon + " " + two(f.day) + tail;
    return s.size() == 24 && (s.substr(3) == padded || s.substr(3) == zeroed)
               ? ""
               : "asctime date read as another instant";
}

// An IMF-fixdate (the form RFC 9110 says senders use) recognised without the parser, with
// the C library's timegm for the instant: what it accepts, parse_http_date must accept too.
inline std::optional<std::int64_t> independent_imf_fixdate(std::string_view s) {
    if (s.size() != 29) return std::nullopt;
    bool day_ok = false;
    for (auto n : day_names)
        day_ok = day_ok || s.substr(0, 3) == n;
    int mon = -1;
    for (int i = 0; i < 12; ++i)
        if (s.substr(8, 3) == month_names[i]) mon = i;
    auto digits = [&](std::size_t at, std::size_t n, int& out) {
        out = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            if (s[i] < '0' || s[i] > '9') return false;
            out = out * 10 + (s[i] - '0');
        }
        return true;
    };
    std::tm tm{};
    int y = 0;
    if (!day_ok || mon < 0 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT" ||
        !digits(5, 2, tm.tm_mday) || !digits(12, 4, y) || !digits(17, 2, tm.tm_hour) ||
        !digits(20, 2, tm.tm_min) || !digits(23, 2, tm.tm_sec))
        return std::nullopt;
    static constexpr int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool const leap_year = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (tm.tm_mday < 1 || tm.tm_mday > month_days[mon] ||
        (mon == 1 && tm.tm_mday == 29 && !leap_year) || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return std::nullopt;
    tm.tm_year = y - 1900;
    tm.tm_mon = mon;
    return std::int64_t(timegm(&tm));
}

} // namespace retry_check

// parse_retry_after: a digits-only value is delay-seconds (saturating at 10^8 s), anything else
// an HTTP-date whose wait is its distance from `now`, never negative, never beyond 10^8 s.
// The expected wait is computed here in 128-bit nanoseconds, apart from the parser's chrono.
// retry_delay then stays within the policy's bounds for every retry number.
inline std::string check_retry_after(std::string_view input) {
    using namespace std::chrono;
    namespace rc = retry_check;
    auto const v = rc::trim_ows(input);
    auto const date = payouts::detail::parse_http_date(v);
    if (date) {
        if (auto const bad = rc::date_mismatch(v, *date); !bad.empty()) return bad;
    }
    if (auto const imf = rc::independent_imf_fixdate(v)) {
        if (!date) return "valid IMF-fixdate refused";
        if (date->time_since_epoch().count() != *imf) return "IMF-fixdate differs from timegm";
    }
    bool const digits = !v.empty() && v.find_first_not_of("0123456789") == std::string_view::npos;

    // Instants `now` may be: the epoch, today-ish with a fraction, and both ends of the
    // clock's nanosecond range.
    std::int64_t const nows[] = {0, 1748779200123456789, 9223372036854775807LL,
                                 -9223372036854775807LL - 1, 1748779200999999999};
    for (std::int64_t const now_ns : nows) {
        system_clock::time_point const now{
            duration_cast<system_clock::duration>(nanoseconds(now_ns))};
        auto const got = payouts::detail::parse_retry_after(input, now);
        std::optional<std::int64_t> want_ms;
        if (digits) {
            std::int64_t secs = 0;
            for (char c : v)
                secs = std::min<std::int64_t>(secs * 10 + (c - '0'), rc::cap_seconds);
            want_ms = secs * 1000;
        } else if (date) {
            rc::wide const diff_ns =
                rc::wide(date->time_since_epoch().count()) * 1000000000 - now_ns;
            rc::wide ms = diff_ns / 1000000; // toward zero, as duration_cast
            if (ms < 0) ms = 0;
            if (ms > rc::wide(rc::cap_seconds) * 1000) ms = rc::wide(rc::cap_seconds) * 1000;
            want_ms = std::int64_t(ms);
        }
        if (got.has_value() != want_ms.has_value())
            return got ? "Retry-After accepted where neither form matches"
                       : "Retry-After refused though it is delay-seconds or an HTTP-date";
        if (!got) continue;
        if (got->count() != *want_ms) return "Retry-After wait differs from the expected one";

        // The fetch's use of it: clamped to the policy, and jitter within its ceiling.
        std::minstd_rand rng(std::uint32_t(input.size()) + 1);
        milliseconds const base{200}, cap{5000}, max_ra{30000};
        for (unsigned retry : {1u, 2u, 5u, 40u, 4000000000u}) {
            auto const d = payouts::detail::retry_delay(got, base, cap, max_ra, retry, rng);
            if (d != std::clamp(*got, milliseconds(0), max_ra))
                return "retry_delay ignores Retry-After";
            auto const j =
                payouts::detail::retry_delay(std::nullopt, base, cap, max_ra, retry, rng);
            std::int64_t ceiling = base.count();
            for (unsigned i = 1; i < retry && ceiling < cap.count(); ++i)
                ceiling *= 2;
            if (j.count() < 0 || j.count() > std::min<std::int64_t>(ceiling, cap.count()))
                return "backoff outside [0, min(cap, base * 2^(n-1))]";
        }
    }
    return {};
}

// ---------------------------------------------------------------------------------------------
// The id encoder (detail::append_id_segment, append_percent_encoded, build_get_request)

namespace id_check {

inline bool unreserved(char c) {
    return std::string_view("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
               .find(c) != std::string_view::npos;
}

inline int hex_value(char c) {
    auto const at = std::string_view("0123456789ABCDEF").find(c);
    return at == std::string_view::npos ? -1 : int(at);
}

// Decodes `s` if it holds only unreserved characters and %XX escapes (upper-case hex) of bytes
// that are not unreserved (RFC 3986 §2.3: those are never escaped); nullopt otherwise.
inline std::optional<std::string> strict_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (unreserved(s[i])) {
            out += s[i];
            continue;
        }
        if (s[i] != '%' || i + 2 >= s.size() || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0)
            return std::nullopt;
        char const c = char(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
        if (unreserved(c)) return std::nullopt;
        out += c;
        i += 2;
    }
    return out;
}

inline std::string_view base_url = "https://api.fuzz.example/base/v9";

// P's setup with stand-in credentials (static ones where P has them, else its OAuth pair).
template <class P>
payouts::detail::provider_setup const& setup() {
    static payouts::detail::provider_setup const s = [] {
        auto const credential = [](std::string_view) {
            static std::string const v = "stand-in-credential";
            return &v;
        };
        std::string why;
        auto r = payouts::detail::make_provider_setup<P>(base_url, "", credential,
                                                         payouts::environment::sandbox, false, why);
        if (!r) {
            std::fprintf(stderr, "fuzz setup of %s failed: %s\n", std::string(P::name).c_str(),
                         why.c_str());
            std::abort();
        }
        return std::move(*r);
    }();
    return s;
}

// The request built around `segment`: its target (also as a server reads it back from the
// serialized request) is the base prefix plus P's path, with `segment` in place of {id}, one
// segment and nothing else.
template <class P>
std::string check_target(std::string_view segment) {
    namespace http = boost::beast::http;
    auto const& s = setup<P>();
    payouts::detail::get_request req;
    std::string why;
    if (payouts::detail::build_get_request(s, segment, "", "payouts-fuzz", req, why))
        return "request not built: " + why;
    std::string_view const path = P::path;
    auto const at = path.find("{id}");
    std::string const want = "/base/v9" + std::string(path.substr(0, at)) + std::string(segment) +
                             std::string(path.substr(at + 4));
    if (req.target() != want) return "request target is not the provider's path with the id";

    std::ostringstream wire; // as Beast's serializer writes it
    wire << req;
    std::string const text = wire.str();
    http::request_parser<http::empty_body> back;
    boost::system::error_code ec;
    auto const used = back.put(boost::asio::buffer(text), ec);
    if (ec || !back.is_done() || used != text.size()) return "built request does not parse back";
    if (back.get().target() != want) return "request target changes on the wire";
    if (std::count(want.begin(), want.end(), '/') != std::count(path.begin(), path.end(), '/') + 2)
        return "the id adds or removes a path segment";
    return {};
}

template <class P>
std::string check_string_id(std::string_view id) {
    std::string seg = "kept:";
    std::string why;
    auto const ec = payouts::detail::append_id_segment<P>(seg, std::string(id), why);
    bool const valid =
        id.size() >= P::id.min_length && id.size() <= P::id.max_length && id != "." && id != "..";
    if (ec) {
        if (ec != payouts::errc::invalid_id) return "refused id with another error than invalid_id";
        if (why.empty()) return "refused id without a reason";
        if (valid) return "id within the rule refused";
        return seg == "kept:" ? "" : "refused id still appended";
    }
    if (!valid) return "id outside the rule accepted";
    if (!seg.starts_with("kept:")) return "encoder overwrote what was before it";
    auto const encoded = std::string_view(seg).substr(5);
    auto const back = strict_decode(encoded);
    if (!back) return "encoded id has a character that is neither unreserved nor %XX";
    if (*back != id) return "encoded id does not decode to the id";
    return check_target<P>(encoded);
}

// Truust's integer ids: positive ones become their decimal digits, the rest are refused.
inline std::string check_integer_id(std::int64_t id) {
    using P = payouts::Truust;
    std::string seg, why;
    auto const ec = payouts::detail::append_id_segment<P>(seg, id, why);
    if (id <= 0)
        return ec == payouts::errc::invalid_id && seg.empty() && !why.empty()
                   ? ""
                   : "non-positive integer id not refused";
    if (ec) return "positive integer id refused";
    std::int64_t back = 0;
    auto const [end, err] = std::from_chars(seg.data(), seg.data() + seg.size(), back);
    if (err != std::errc() || end != seg.data() + seg.size() || back != id || seg[0] == '0')
        return "integer id is not written as its decimal digits";
    return check_target<P>(seg);
}

} // namespace id_check

// Every string provider's id check on the bytes, Truust's on the bytes read as an integer
// (as text when they are one, else their first eight bytes), and the form encoder of the
// OAuth body, which must keep the same alphabet.
inline std::string check_id_encode(std::string_view bytes) {
    namespace ic = id_check;
    for (auto const& r :
         {ic::check_string_id<payouts::Druo>(bytes), ic::check_string_id<payouts::Checkout>(bytes),
          ic::check_string_id<payouts::Yuno>(bytes), ic::check_string_id<payouts::Introw>(bytes)})
        if (!r.empty()) return r;
    std::int64_t n = 0;
    auto const [end, err] = std::from_chars(bytes.data(), bytes.data() + bytes.size(), n);
    if (err != std::errc() || end != bytes.data() + bytes.size()) {
        n = 0;
        if (!bytes.empty()) std::memcpy(&n, bytes.data(), std::min(bytes.size(), sizeof n));
    }
    if (auto r = ic::check_integer_id(n); !r.empty()) return r;
    auto const form = ic::strict_decode(payouts::detail::form_encode(bytes));
    if (!form || *form != bytes) return "form encoding does not round-trip";
    return {};
}

// ---------------------------------------------------------------------------------------------
// The HTTP response reader: detail::read_response over in-memory bytes, then
// interpret_response for every provider, as a fetch does after a read.

namespace http_check {

namespace net = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

// Serves `data` in reads of at most `chunk` bytes, then end of stream. Completions are posted,
// never run inline, as a socket's are.
class byte_stream {
public:
    using executor_type = net::io_context::executor_type;

    byte_stream(executor_type ex, std::string_view data, std::size_t chunk)
        : ex_(ex)
        , data_(data)
        , chunk_(chunk) {}

    executor_type get_executor() const noexcept { return ex_; }
    std::size_t remaining() const noexcept { return data_.size(); }

    template <class MutableBuffers, class Token>
    auto async_read_some(MutableBuffers const& buffers, Token&& token) {
        return net::async_initiate<Token, void(error_code, std::size_t)>(
            [this](auto handler, MutableBuffers const& b) {
                error_code ec;
                std::size_t n = 0;
                if (data_.empty())
                    ec = net::error::eof;
                else
                    n = net::buffer_copy(b,
                                         net::buffer(data_.data(), std::min(chunk_, data_.size())));
                data_.remove_prefix(n);
                net::post(ex_, boost::beast::bind_front_handler(std::move(handler), ec, n));
            },
            token, buffers);
    }

private:
    executor_type ex_;
    std::string_view data_;
    std::size_t chunk_;
};

inline std::vector<payouts::fetch_event_kind>& events() {
    static std::vector<payouts::fetch_event_kind> e;
    return e;
}

// Stand-in credentials: none of them may ever show up in what a response is turned into.
inline constexpr std::string_view secret = "stand-in-secret-7f3a";

// One client for every input: small limits so that inputs of a few KiB reach them, DRUO on
// its OAuth flow (the 401 renewal), the others on static credentials. No socket is opened.
struct harness {
    static payouts::client_config config() {
        payouts::client_config c;
        c.use_system_roots = false;
        c.body_limit = 8192;
        c.header_limit = 1024;
        c.on_event = [](payouts::fetch_event const& e) { events().push_back(e.kind); };
        auto const add = [&](auto tag) {
            using P = decltype(tag);
            payouts::provider_config pc;
            pc.base_url = "https://api.fuzz.example";
            if constexpr (P::oauth.has_value() && std::is_same_v<P, payouts::Druo>) {
                pc.credentials["CLIENT_ID"] = std::string(secret) + "-id";
                pc.credentials["CLIENT_SECRET"] = std::string(secret);
            } else {
                for (auto const& k : P::credentials)
                    pc.credentials[std::string(k.credential)] = std::string(secret);
            }
            c.providers[std::string(P::name)] = std::move(pc);
        };
        add(payouts::Truust{});
        add(payouts::Druo{});
        add(payouts::Checkout{});
        add(payouts::Yuno{});
        add(payouts::Introw{});
        return c;
    }

    net::io_context io;
    payouts::client client{io, config()};
    std::shared_ptr<payouts::detail::client_core> core =
        payouts::detail_client_access::core(client);
};

inline harness& the_harness() {
    static harness h;
    return h;
}

using parser_type = payouts::detail::response_parser;

struct read_result {
    error_code ec;
    std::optional<parser_type> parser;
};

// The library's own response reader (detail::read_response), over the bytes served `chunk` at a
// time, with the harness client's limits and the fetch's error mapping.
inline void read_with_library(harness& h, std::string_view bytes, std::size_t chunk,
                              read_result& r) {
    auto& core = *h.core;
    byte_stream s(h.io.get_executor(), bytes, chunk);
    boost::beast::flat_buffer buffer;
    bool done = false;
    net::co_spawn(
        h.io,
        [&]() -> net::awaitable<void> {
            r.ec = payouts::detail::transport_error(co_await payouts::detail::read_response(
                s, buffer, r.parser, core.cfg.body_limit, core.cfg.header_limit));
            done = true;
        },
        net::detached);
    h.io.restart();
    h.io.run();
    if (!done) {
        std::fprintf(stderr, "the read did not complete\n");
        std::abort();
    }
}

inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto const lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// The first field of that name (compared without case), or nullopt.
inline std::optional<std::string_view> first_field(boost::beast::http::fields const& f,
                                                   std::string_view name) {
    for (auto const& x : f)
        if (iequals(x.name_string(), name)) return std::string_view(x.value());
    return std::nullopt;
}

// Each element of every field `name` (comma-separated lists, optional whitespace), non-empty.
inline std::vector<std::string_view> list_elements(boost::beast::http::fields const& f,
                                                   std::string_view name) {
    std::vector<std::string_view> out;
    for (auto const& x : f) {
        if (!iequals(x.name_string(), name)) continue;
        std::string_view v = x.value();
        while (!v.empty()) {
            auto const comma = v.find(',');
            auto const e = retry_check::trim_ows(v.substr(0, comma));
            if (!e.empty()) out.push_back(e);
            v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
        }
    }
    return out;
}

// The error a non-2xx status must give, from fetch's documented contract.
inline payouts::errc status_contract(unsigned s) {
    switch (s) {
    case 401:
        return payouts::errc::unauthorized;
    case 403:
        return payouts::errc::forbidden;
    case 404:
        return payouts::errc::not_found;
    case 429:
        return payouts::errc::rate_limited;
    default:
        return s >= 500 && s <= 599 && s != 501 && s != 505 ? payouts::errc::provider_unavailable
                                                            : payouts::errc::unexpected_status;
    }
}

// Requests left as the provider's header says: a non-negative 64-bit integer, else -1.
inline long long expected_remaining(std::string_view v) {
    v = retry_check::trim_ows(v);
    bool const neg = v.starts_with('-');
    if (neg) v.remove_prefix(1);
    if (v.empty() || v.find_first_not_of("0123456789") != std::string_view::npos) return -1;
    std::uint64_t n = 0;
    auto const [end, err] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (err != std::errc() || end != v.data() + v.size()) return -1;
    if (neg) return n == 0 ? 0 : -1;
    return n <= std::uint64_t(INT64_MAX) ? (long long)n : -1;
}

template <class P>
std::string check_interpretation(harness& h, payouts::detail::response_type const& res,
                                 bool secret_in_input) {
    using payouts::errc;
    auto const& ops = payouts::detail::ops_of<P>::value;
    payouts::detail::fetch_job j(h.core, ops, nullptr);
    j.prov = h.core->slot_for(ops);
    if (j.prov->ec) return "fuzz setup: " + j.prov->why;
    auto copy = res;
    events().clear();
    payouts::detail::interpret_response(j, copy, "stand-in-token");
    auto const& a = j.at;
    auto const status = res.result_int();
    auto const& d = j.diag;
    bool const decode_event = std::find(events().begin(), events().end(),
                                        payouts::fetch_event_kind::decode_error) != events().end();
    if (d.http_status != int(status)) return "diagnostics carry another status";

    std::string want_rid;
    for (std::string_view name : P::request_id_headers)
        if (auto const v = first_field(res, name); v && !v->empty()) {
            want_rid = v->substr(0, 256);
            break;
        }
    if (d.request_id != want_rid) return "request id is not the first request-id header, cut";
    std::string_view const rl = P::rate_limit_remaining_header;
    long long const want_rl =
        rl.empty() ? -1 : expected_remaining(first_field(res, rl).value_or(std::string_view()));
    if (d.rate_limit_remaining != want_rl) return "rate_limit_remaining misread";
    if (d.provider_code.size() > 512 || d.provider_message.size() > 512)
        return "provider error text longer than 512 bytes";
    if (!secret_in_input)
        for (std::string_view t :
             {std::string_view(d.provider_code), std::string_view(d.provider_message),
              std::string_view(d.request_id), std::string_view(a.why)})
            if (t.find(secret) != std::string_view::npos)
                return "a credential leaked into diagnostics";
    bool const not_found_code = std::find(P::not_found_codes.begin(), P::not_found_codes.end(),
                                          d.provider_code) != P::not_found_codes.end();

    if (status >= 200 && status < 300) {
        payouts::diagnostics dd;
        auto const r = payouts::decode<P>(res.body(), dd);
        if (r) {
            if (a.ec) return "a decodable 2xx failed";
            if (j.result.id != r->id || j.result.provider_status != r->provider_status ||
                j.result.status != r->status || j.result.raw != res.body())
                return "the payout differs from decode's";
            if (j.result.request_id != (want_rid.empty() ? r->request_id : want_rid))
                return "the payout's request id is not the header's";
            if (decode_event) return "decode_error event for a payout";
            return {};
        }
        if (a.ec != (not_found_code ? errc::not_found : errc::invalid_response))
            return "undecodable 2xx gave another error";
        if (a.why != dd.message || a.why.empty()) return "undecodable 2xx without decode's message";
        if (decode_event != (a.ec == errc::invalid_response))
            return "decode_error event not matching the outcome";
        if (a.retryable || a.retry_after) return "undecodable 2xx retried";
        return {};
    }

    auto const want = not_found_code ? errc::not_found : status_contract(status);
    if (a.ec != want) return "status mapped to another error";
    bool const retryable =
        want != errc::not_found &&
        (status == 429 || (status >= 500 && status < 600 && status != 501 && status != 505));
    if (a.retryable != retryable) return "retryability differs from the contract";
    if (!a.why.starts_with("HTTP " + std::to_string(status) + " from "))
        return "failure reason does not name the status";
    auto const ra = first_field(res, "Retry-After");
    if (a.retry_after) {
        if (!retryable || !ra || ra->empty()) return "Retry-After taken where it does not apply";
        if (a.retry_after->count() < 0 || a.retry_after->count() > retry_check::cap_seconds * 1000)
            return "Retry-After wait out of bounds";
        auto const v = retry_check::trim_ows(*ra);
        if (!v.empty() && v.find_first_not_of("0123456789") == std::string_view::npos &&
            v.size() < 9 && a.retry_after->count() != std::stoll(std::string(v)) * 1000)
            return "Retry-After seconds misread";
    } else if (retryable && ra && !retry_check::trim_ows(*ra).empty() &&
               retry_check::trim_ows(*ra).find_first_not_of("0123456789") ==
                   std::string_view::npos) {
        return "Retry-After seconds ignored";
    }
    if (a.renew_token != (status == 401 && j.prov->setup.oauth))
        return "token renewal after a 401 differs";
    if (decode_event) return "decode_error event for a non-2xx";
    return {};
}

inline std::string check_read(read_result const& r, std::string_view bytes) {
    using payouts::errc;
    auto const& http_cat = http::make_error_code(http::error::end_of_stream).category();
    if (r.ec && r.ec.category() != http_cat && r.ec.category() != payouts::payouts_category())
        return "read failed with a code from elsewhere: " + r.ec.message();
    // No "small input, so never body_too_large": a Content-Length or chunk size declared
    // beyond the limit is refused before its bytes arrive, as it should be.
    if (r.ec) return {};
    auto const& p = *r.parser;
    auto const& res = p.get();
    if (!p.is_done()) return "accepted an incomplete response";
    if (res.body().size() > 8192) return "body beyond the limit accepted";
    // A 1xx answer only after the reader skipped as many interim responses as it may: the
    // input must hold that many status lines before it.
    if (res.result_int() / 100 == 1) {
        std::size_t lines = bytes.starts_with("HTTP/") ? 1 : 0;
        for (auto at = bytes.find("\nHTTP/"); at != bytes.npos; at = bytes.find("\nHTTP/", at + 1))
            ++lines;
        if (lines <= std::size_t(payouts::detail::max_interim_responses))
            return "an interim response taken as the answer";
    }
    for (auto e : list_elements(res, "Content-Encoding"))
        if (!iequals(e, "identity")) return "a content-coded body accepted";
    for (auto e : list_elements(res, "Transfer-Encoding"))
        if (!iequals(e, "chunked")) return "a transfer coding other than chunked accepted";
    return {};
}

} // namespace http_check

// The bytes as a server's answer on a connection: read as a fetch reads it, whole and in
// small pieces (the split must not matter), then interpreted for every provider as a fetch.
inline std::string check_http_response(std::string_view bytes) {
    namespace hc = http_check;
    auto& h = hc::the_harness();
    hc::read_result whole, pieces;
    hc::read_with_library(h, bytes, bytes.size() + 1, whole);
    hc::read_with_library(h, bytes, 1 + bytes.size() % 13, pieces);
    for (auto const* r : {&whole, &pieces})
        if (auto e = hc::check_read(*r, bytes); !e.empty()) return e;
    // Success must not depend on how the bytes are split across reads. The error may: Beast
    // parses the start line eagerly on a first read but, with part of a header, only once the
    // header's end is in (a bare CR there is bad_line_ending whole, partial_message in pieces).
    // Beast's header limit is also not exact: a header that arrives at once is measured from
    // after its start line, one that arrives in pieces from its first byte, so a header within
    // a start line's length of the limit may pass whole and be body_too_large in pieces.
    bool const limit_slack =
        (whole.ec == payouts::errc::body_too_large) != (pieces.ec == payouts::errc::body_too_large);
    if (bool(whole.ec) != bool(pieces.ec) && !limit_slack)
        return "reading in pieces gives another outcome: " + whole.ec.message() + ", in pieces " +
               pieces.ec.message();
    if (whole.ec) return {};
    auto const& res = whole.parser->get();
    if (!pieces.ec) {
        auto const& res2 = pieces.parser->get();
        if (res.result_int() != res2.result_int() || res.body() != res2.body() ||
            std::distance(res.begin(), res.end()) != std::distance(res2.begin(), res2.end()))
            return "reading in pieces gives another response";
    }
    bool const secret_in_input = bytes.find(hc::secret) != std::string_view::npos;
    for (auto const& r : {hc::check_interpretation<payouts::Truust>(h, res, secret_in_input),
                          hc::check_interpretation<payouts::Druo>(h, res, secret_in_input),
                          hc::check_interpretation<payouts::Checkout>(h, res, secret_in_input),
                          hc::check_interpretation<payouts::Yuno>(h, res, secret_in_input),
                          hc::check_interpretation<payouts::Introw>(h, res, secret_in_input)})
        if (!r.empty()) return r;
    return {};
}

// ---------------------------------------------------------------------------------------------
// decode_webhook<P>. The input is `flags secrets '\n' signature '\n' body`: one flags byte (bit 0:
// sign the body here, ignoring the given signature; bit 1: upper-case that hex; bit 2: the
// header name in upper case; bit 3: through boost::beast::http::fields), then the secrets,
// separated by tabs. No payout may come back unless one non-empty secret's HMAC of the body,
// computed here with OpenSSL directly, is what the header says; a failure is invalid_signature
// or invalid_response with a message that holds neither a secret nor a digest of the body.

namespace webhook_check {

inline std::string encode(std::string_view raw, payouts::signature_encoding enc, bool upper) {
    if (enc == payouts::signature_encoding::base64) return payouts_tools::base64(raw);
    if (!upper) return payouts_tools::hex_lower(raw);
    std::string out;
    boost::algorithm::hex(raw.begin(), raw.end(), std::back_inserter(out));
    return out;
}

inline std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return out;
}

inline std::string_view trim_ows(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
    return v;
}

} // namespace webhook_check

template <class P>
std::string check_webhook(std::string_view data) {
    namespace wc = webhook_check;
    if (data.empty()) return {};
    unsigned const flags = static_cast<unsigned char>(data[0]);
    data.remove_prefix(1);
    auto const nl1 = data.find('\n');
    if (nl1 == std::string_view::npos) return {};
    auto const nl2 = data.find('\n', nl1 + 1);
    if (nl2 == std::string_view::npos) return {};
    std::string_view const secret_list = data.substr(0, nl1);
    std::string_view given = data.substr(nl1 + 1, nl2 - nl1 - 1);
    std::string_view const body = data.substr(nl2 + 1);

    std::vector<std::string_view> secrets;
    for (std::size_t at = 0; at <= secret_list.size();) {
        auto const tab = std::min(secret_list.find('\t', at), secret_list.size());
        secrets.push_back(secret_list.substr(at, tab - at));
        at = tab + 1;
    }
    if (secret_list.empty()) secrets.clear();
    bool any_secret = false;
    for (auto s : secrets)
        any_secret = any_secret || !s.empty();

    auto const enc = P::webhook::signature.encoding;
    std::string signed_here;
    if (flags & 1) {
        for (auto s : secrets)
            if (!s.empty()) {
                signed_here = wc::encode(payouts_tools::hmac_sha256(s, body), enc, flags & 2);
                break;
            }
        given = signed_here;
    }
    std::string const name = (flags & 4) ? [] {
        std::string n(P::webhook::signature.header);
        for (char& c : n)
            if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
        return n;
    }()
                                         : std::string(P::webhook::signature.header);

    payouts::diagnostics diag;
    boost::system::result<payouts::webhook_event> r = payouts::errc::invalid_signature;
    if (flags & 8) {
        boost::beast::http::fields f;
        f.set("Content-Type", "application/json");
        f.set(name, given);
        // Beast keeps values as given; the header may hold bytes Beast would refuse on the wire.
        r = payouts::decode_webhook<P>(body, f, secrets, diag);
    } else {
        std::vector<payouts::header> const headers{{"Content-Type", "application/json"},
                                                   {name, given}};
        r = payouts::decode_webhook<P>(body, headers, secrets, diag);
    }

    if (r) {
        // Independent: some non-empty secret's digest of the body is what the header says.
        bool matched = false;
        std::string_view const value = wc::trim_ows(given);
        for (auto s : secrets) {
            if (s.empty()) continue;
            auto const expected = wc::encode(payouts_tools::hmac_sha256(s, body), enc, false);
            matched =
                matched || (enc == payouts::signature_encoding::hex ? wc::lower(value) == expected
                                                                    : value == expected);
        }
        if (!matched) return "a payout came back without a matching signature";
        if (r->payout.raw != body) return "raw differs from the body";
        // An event of a type the table does not list may name no payout (Checkout's).
        if ((r->payout.id.empty() && r->payout.status != payouts::payout_status::unknown) ||
            r->payout.provider_status.empty())
            return "payout without id or status";
        if (r->event_type.empty() || r->event_id.empty()) return "event without id or type";
        if (r->payout.request_id) return "a webhook payout with a request id";
        return {};
    }
    if (r.error() != payouts::errc::invalid_signature &&
        r.error() != payouts::errc::invalid_response)
        return "unexpected error code";
    if (diag.message.empty()) return "error without a message";
    if ((flags & 1) && any_secret && r.error() == payouts::errc::invalid_signature)
        return "a body signed with a given secret did not verify";
    // A signature message is this library's text and the header's name: a secret with a byte
    // no such text has must not appear in it. (A body message may quote the body, and a
    // fuzzed secret may well be part of the body.)
    auto distinctive = [](std::string_view s) {
        for (char c : s) {
            auto const u = static_cast<unsigned char>(c);
            if (u < 0x20 || u >= 0x7F ||
                std::string_view("#$%&*+/;<>?@[\\]^_{|}~\"!`").find(c) != std::string_view::npos)
                return true;
        }
        return false;
    };
    for (auto s : secrets) {
        if (r.error() == payouts::errc::invalid_signature && distinctive(s) &&
            diag.message.find(s) != std::string::npos)
            return "the diagnostics contain a secret";
        if (s.empty()) continue;
        auto const raw = payouts_tools::hmac_sha256(s, body);
        for (auto const& d : {wc::encode(raw, enc, false), wc::encode(raw, enc, true)})
            if (diag.message.find(d.substr(0, 16)) != std::string::npos)
                return "the diagnostics contain a digest";
    }
    return {};
}

} // namespace payouts_fuzz
