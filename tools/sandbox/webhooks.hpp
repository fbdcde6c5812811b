// Payout webhooks: when a Checkout.com or Yuno moving payout changes stage, the provider's event
// is POSTed to --webhook-url, signed as the provider signs, and retried on failure with the shape
// of the provider's schedule, shortened. README.md, "Webhooks", has the rules; the facts are
// cited where they are used. One io_context, no threads, nothing blocks.
#pragma once

#include "config.hpp"
#include "log.hpp"
#include "sandbox.hpp"
#include "store.hpp"

#include "../common/hmac.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <deque>
#include <exception>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace payouts_sandbox {

namespace webhook_detail {

using digest = std::array<unsigned char, 32>;

inline digest sha256(std::string_view data) {
    digest out{};
    unsigned len = 0;
    if (!EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) ||
        len != out.size())
        throw std::runtime_error("SHA-256 failed");
    return out;
}

/// 26 characters of lower-case Base32, the form of Checkout's ids (`evt_…`, `act_…`).
inline std::string base32_26(digest const& d) {
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    std::string s;
    unsigned bits = 0, acc = 0;
    for (unsigned char c : d) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 5 && s.size() < 26) {
            s += alphabet[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    return s;
}

/// UTC, RFC 3339 with `digits` fractional digits (3 or 7, as Checkout writes them) and `Z`.
inline std::string utc_text(std::chrono::system_clock::time_point t, int digits) {
    auto const ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch());
    std::time_t secs =
        static_cast<std::time_t>(std::chrono::floor<std::chrono::seconds>(ns).count());
    long long frac = (ns - std::chrono::floor<std::chrono::seconds>(ns)).count();
    for (int i = digits; i < 9; ++i)
        frac /= 10;
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char buf[64];
    std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%0*lldZ", digits, frac);
    return buf;
}

/// A stage body as JSON text to embed: without a UTF-8 BOM and trailing white space.
inline std::string_view embeddable(std::string_view body) {
    if (body.starts_with("\xEF\xBB\xBF")) body.remove_prefix(3);
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r' || body.back() == ' ' ||
                             body.back() == '\t'))
        body.remove_suffix(1);
    return body;
}

} // namespace webhook_detail

/// Sends the webhooks of moving payouts: told by the server which stage each answer showed,
/// and by its own timers when a timed payout's next stage comes due.
class webhook_sender {
public:
    webhook_sender(boost::asio::io_context& ioc, webhook_options const& o, request_log& log)
        : ioc_(ioc)
        , opts_(o)
        , log_(log) {
        std::array<unsigned char, 16> salt{};
        if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1)
            throw std::runtime_error("RAND_bytes failed");
        salt_.assign(reinterpret_cast<char const*>(salt.data()), salt.size());
        if (o.where.tls) {
            namespace ssl = boost::asio::ssl;
            tls_.emplace(ssl::context::tls_client);
            if (!SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION))
                throw std::runtime_error("cannot require TLS 1.2");
            tls_->set_default_verify_paths();
            if (!o.ca_file.empty()) tls_->load_verify_file(o.ca_file.string());
            tls_->set_verify_mode(ssl::verify_peer);
        }
    }
    webhook_sender(webhook_sender const&) = delete;
    webhook_sender& operator=(webhook_sender const&) = delete;

    /// An answer showing stage `s.stage` was just written (or failed while being written: the
    /// payout moved all the same). Queues the events of every stage not yet notified, up to
    /// it, and starts a timed payout's timers once its clock runs.
    void served(served_stage const& s) {
        if (s.provider != provider_id::checkout && s.provider != provider_id::yuno) return;
        lifecycle& lc = lifecycle_for(s);
        notify_up_to(lc, s.stage);
        if (s.payout->mode == advance_mode::time && s.clock_start && !lc.clock_start) {
            lc.clock_start = *s.clock_start;
            lc.timer.emplace(ioc_);
            schedule(lc, 1);
        }
    }

private:
    /// One event, built once: every attempt sends the same bytes, but for Yuno's `retry`,
    /// which Yuno counts up from 0 on each resend (https://docs.y.uno/zh-hans/docs/webhooks).
    struct event {
        std::string log_id; ///< Checkout's event id; Yuno's events carry none
        std::string type;
        std::size_t stage = 0;
        std::string head, tail; ///< Yuno: head + retry + tail; Checkout: head alone
    };

    /// Per provider and full id: whose stages are notified, in order.
    struct lifecycle {
        moving_payout const* payout = nullptr;
        provider_id provider = provider_id::checkout;
        std::string full_id;
        long long notified = -1; ///< highest stage handled (queued, or nothing to send)
        std::deque<event> queue; ///< front: being delivered
        bool sending = false;
        std::optional<std::chrono::steady_clock::time_point> clock_start;
        std::optional<boost::asio::steady_timer> timer; ///< the next stage of a timed payout
    };

    lifecycle& lifecycle_for(served_stage const& s) {
        auto [it, fresh] =
            lifecycles_.try_emplace(std::string(to_string(s.provider)) + '\n' + s.full_id);
        if (fresh) {
            it->second.payout = s.payout;
            it->second.provider = s.provider;
            it->second.full_id = s.full_id;
        }
        return it->second;
    }

    /// Stage `k` of a timed payout becomes current at clock_start + k × every_ms: its event
    /// goes out then, whether or not anyone fetches the payout again.
    void schedule(lifecycle& lc, std::size_t k) {
        if (k >= lc.payout->stages.size()) return;
        // Past a century the steady clock's nanoseconds would overflow: served answers notify.
        constexpr std::int64_t century_ms = 100LL * 366 * 86400 * 1000;
        std::int64_t const every = lc.payout->every_ms.count();
        if (every > century_ms / static_cast<std::int64_t>(k)) return;
        lc.timer->expires_at(*lc.clock_start +
                             std::chrono::milliseconds(every * static_cast<std::int64_t>(k)));
        lc.timer->async_wait([this, &lc, k](boost::system::error_code ec) {
            if (ec) return;
            notify_up_to(lc, k);
            schedule(lc, k + 1);
        });
    }

    void notify_up_to(lifecycle& lc, std::size_t stage) {
        auto const target = static_cast<long long>(stage);
        for (long long s = lc.notified + 1; s <= target; ++s)
            if (auto ev = make_event(lc, static_cast<std::size_t>(s))) lc.queue.push_back(*ev);
        lc.notified = std::max(lc.notified, target);
        if (!lc.sending && !lc.queue.empty()) {
            lc.sending = true;
            boost::asio::co_spawn(ioc_, send_all(lc), [](std::exception_ptr) {});
        }
    }

    /// A deterministic id per (full id, stage) in this process, so every attempt of an event
    /// carries the same one; the per-process salt keeps another run's events from looking like
    /// duplicates to a receiver that remembers ids.
    std::string derived_id(std::string_view prefix, lifecycle const& lc, std::size_t stage) const {
        std::string in = salt_;
        in += prefix;
        in += '\n';
        in += to_string(lc.provider);
        in += '\n';
        in += lc.full_id;
        in += '\n';
        in += std::to_string(stage);
        return std::string(prefix) + webhook_detail::base32_26(webhook_detail::sha256(in));
    }

    std::optional<event> make_event(lifecycle const& lc, std::size_t stage) {
        namespace json = boost::json;
        std::string_view const text = webhook_detail::embeddable(lc.payout->stages[stage]);
        boost::system::error_code ec;
        json::value v = json::parse(text, ec);
        if (ec || !v.is_object()) {
            log_.line("- - webhook skipped: " + std::string(to_string(lc.provider)) + ' ' +
                      lc.full_id + " stage " + std::to_string(stage) +
                      " is not a JSON object (served as is)");
            return std::nullopt;
        }
        json::object const& o = v.get_object();
        auto text_of = [&](std::string_view k) -> std::optional<std::string_view> {
            auto const* f = o.if_contains(k);
            if (!f || !f->is_string()) return std::nullopt;
            return std::string_view(f->get_string());
        };
        event ev;
        ev.stage = stage;
        if (lc.provider == provider_id::yuno) {
            // Yuno: one `type: payout` event for every status, the payout object directly
            // under `data`; envelope as in
            // https://github.com/yuno-payments/yuno-docs/blob/a6cb7de6/docs/webhooks/object-and-examples.mdx
            // (## Payouts).
            ev.type = "payout.payout";
            ev.head = R"({"type":"payout","type_event":"payout.payout",)";
            if (auto acc = text_of("account_id"))
                ev.head += R"("account_id":)" + json::serialize(json::string(*acc)) + ',';
            ev.head += R"("retry":)";
            ev.tail = R"(,"version":2,"data":)";
            ev.tail += text; // the stage's bytes: numbers keep their text (10.01 stays 10.01)
            ev.tail += '}';
            return ev;
        }
        // Checkout: the type carries the status (there is no `data.status` in its webhooks);
        // no pending event is documented for payouts, nor events for other statuses.
        // https://www.checkout.com/docs/payments/request-payouts/bank-payouts
        auto status = text_of("status");
        if (status == "Paid")
            ev.type = "payment_paid";
        else if (status == "Declined")
            ev.type = "payment_declined";
        else if (status == "Returned")
            ev.type = "payment_returned";
        else
            return std::nullopt;
        auto const now = std::chrono::system_clock::now();
        ev.log_id = derived_id("evt_", lc, stage);
        json::object data;
        auto copy = [&](std::string_view k) {
            if (auto const* f = o.if_contains(k)) data[k] = *f;
        };
        copy("id");
        copy("reference");
        data["action_id"] = derived_id("act_", lc, stage);
        if (ev.type == "payment_declined") {
            // The decline's reason; on paid and returned events these read "Approved" and are
            // not a return reason:
            // https://www.checkout.com/docs/workflows/webhook-event-types/payment_returned
            copy("response_code");
            copy("response_summary");
        } else {
            data["response_code"] = "10000";
            data["response_summary"] = "Approved";
        }
        copy("amount");
        copy("currency");
        copy("source");
        copy("destination");
        data["processed_on"] = webhook_detail::utc_text(now, 7);
        if (auto const* in = o.if_contains("instruction"); in && in->is_object())
            if (auto const* vd = in->get_object().if_contains("value_date"))
                data["instruction"] = json::object{{"value_date", *vd}};
        json::object env;
        env["id"] = ev.log_id;
        env["type"] = ev.type;
        env["created_on"] = webhook_detail::utc_text(now, 3);
        env["data"] = std::move(data);
        std::string const base = "https://api.sandbox.checkout.com";
        json::object links;
        links["self"] = json::object{{"href", base + "/workflows/events/" + ev.log_id}};
        if (auto id = text_of("id")) {
            links["subject"] =
                json::object{{"href", base + "/workflows/events/subject/" + std::string(*id)}};
            links["payment"] = json::object{{"href", base + "/payments/" + std::string(*id)}};
        }
        env["_links"] = std::move(links);
        ev.head = json::serialize(env);
        return ev;
    }

    // --- delivery --------------------------------------------------------------------------

    /// Checkout resends up to 8 times after 5 min, 10 min, 15 min, 30 min, 1 h, 4 h, 12 h, 12 h
    /// (https://www.checkout.com/docs/workflows); Yuno tries 7 times in all, by 5 min, 50 min,
    /// 6 h, 24 h, 48 h, 96 h after the first try (https://docs.y.uno/zh-hans/docs/webhooks). In
    /// units of 5 min, the delay before each retry; scaled to --webhook-retry-ms, capped at 16
    /// units.
    static constexpr unsigned checkout_units[] = {1, 2, 3, 6, 12, 48, 144, 144};
    static constexpr unsigned yuno_units[] = {1, 9, 62, 216, 288, 576};
    static constexpr unsigned max_units = 16;

    static unsigned max_attempts(provider_id p) {
        return 1 + (p == provider_id::yuno ? std::size(yuno_units) : std::size(checkout_units));
    }

    std::chrono::milliseconds retry_delay(provider_id p, unsigned attempt) const {
        unsigned u = p == provider_id::yuno ? yuno_units[attempt - 1] : checkout_units[attempt - 1];
        return opts_.retry_base * std::min(u, max_units);
    }

    struct outcome {
        unsigned status = 0; ///< 0: no answer
        std::string failure; ///< what went wrong before an answer
    };

    boost::asio::awaitable<void> send_all(lifecycle& lc) {
        while (!lc.queue.empty()) {
            try {
                co_await deliver(lc, lc.queue.front());
            } catch (std::exception const& e) {
                log_.line(std::string("- - webhook internal error: ") + e.what());
            }
            lc.queue.pop_front();
        }
        lc.sending = false;
    }

    std::string body_of(event const& ev, unsigned retry) const {
        if (ev.tail.empty()) return ev.head;
        return ev.head + std::to_string(retry) + ev.tail;
    }

    boost::asio::awaitable<void> deliver(lifecycle const& lc, event const& ev) {
        using namespace std::chrono;
        unsigned const attempts = max_attempts(lc.provider);
        bool const yuno = lc.provider == provider_id::yuno;
        for (unsigned attempt = 1;; ++attempt) {
            std::string const body = body_of(ev, attempt - 1);
            std::string const sig = yuno ? payouts_tools::hmac_base64(opts_.secret, body)
                                         : payouts_tools::hmac_hex(opts_.secret, body);
            auto const started = steady_clock::now();
            outcome out =
                co_await attempt_once(yuno ? "x-hmac-signature" : "Cko-Signature", sig, body);
            bool const delivered = out.status >= 200 && out.status < 300;
            // Yuno drops an event its receiver answers 404 to
            // (https://docs.y.uno/zh-hans/docs/webhooks).
            bool const dropped = yuno && out.status == 404;
            std::string line =
                "POST " + opts_.where.loggable + ' ' +
                (out.status ? std::to_string(out.status) : out.failure) + ' ' +
                std::to_string(duration_cast<milliseconds>(steady_clock::now() - started).count()) +
                "ms webhook " + std::string(to_string(lc.provider));
            if (!ev.log_id.empty()) line += " event=" + ev.log_id;
            line += " type=" + ev.type + " payout=" + lc.full_id +
                    " stage=" + std::to_string(ev.stage) + " attempt=" + std::to_string(attempt) +
                    '/' + std::to_string(attempts);
            if (delivered) {
                log_.line(line + " delivered");
                co_return;
            }
            if (dropped || attempt == attempts) {
                log_.line(line + (dropped ? " dropped (404 is not retried)" : " gave up"));
                co_return;
            }
            auto const wait = retry_delay(lc.provider, attempt);
            log_.line(line + " retry-in=" + std::to_string(wait.count()) + "ms");
            boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, wait);
            boost::system::error_code ec;
            co_await t.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
            if (ec) co_return;
        }
    }

    /// One POST: resolve, connect, (TLS), write, read the answer, within --webhook-timeout-ms.
    boost::asio::awaitable<outcome> attempt_once(std::string_view sig_header,
                                                 std::string const& sig, std::string const& body) {
        namespace asio = boost::asio;
        namespace beast = boost::beast;
        namespace http = beast::http;
        using tcp = asio::ip::tcp;
        auto tok = [](boost::system::error_code& ec) {
            return asio::redirect_error(asio::use_awaitable, ec);
        };
        auto fail = [](std::string_view step, boost::system::error_code const& ec) {
            return outcome{0, std::string(step) + "-failed(" + ec.message() + ")"};
        };
        auto ex = co_await asio::this_coro::executor;
        boost::system::error_code ec;
        // An address needs no resolver (whose asynchronous form runs on a thread of Asio's).
        std::vector<tcp::endpoint> endpoints;
        boost::system::error_code addr_ec;
        auto const addr = asio::ip::make_address(opts_.where.host, addr_ec);
        auto const port = static_cast<std::uint16_t>(std::stoul(opts_.where.port));
        if (!addr_ec) {
            endpoints.emplace_back(addr, port);
        } else {
            tcp::resolver resolver(ex);
            auto const found =
                co_await resolver.async_resolve(opts_.where.host, opts_.where.port, tok(ec));
            if (ec) co_return fail("resolve", ec);
            for (auto const& e : found)
                endpoints.push_back(e.endpoint());
        }

        http::request<http::string_body> req{http::verb::post, opts_.where.target, 11};
        req.set(http::field::host, opts_.where.host_header);
        req.set(http::field::user_agent, "payouts-sandbox");
        req.set(http::field::content_type, "application/json");
        req.set(sig_header, sig);
        req.keep_alive(false);
        req.body() = body;
        req.prepare_payload();

        beast::tcp_stream conn(ex);
        conn.expires_after(opts_.timeout);
        co_await conn.async_connect(endpoints, tok(ec));
        if (ec) co_return fail("connect", ec);
        if (!tls_) co_return co_await exchange(conn, req);

        asio::ssl::stream<beast::tcp_stream> stream(std::move(conn), *tls_);
        stream.set_verify_callback(asio::ssl::host_name_verification(opts_.where.host));
        // SNI for names only (RFC 6066 forbids addresses there).
        if (addr_ec && !SSL_set_tlsext_host_name(stream.native_handle(), opts_.where.host.c_str()))
            co_return outcome{0, "tls-failed(SNI)"};
        co_await stream.async_handshake(asio::ssl::stream_base::client, tok(ec));
        if (ec) co_return fail("tls", ec);
        co_return co_await exchange(stream, req);
    }

    template <class Stream>
    static boost::asio::awaitable<outcome>
    exchange(Stream& s, boost::beast::http::request<boost::beast::http::string_body>& req) {
        namespace asio = boost::asio;
        namespace http = boost::beast::http;
        boost::system::error_code ec;
        co_await http::async_write(s, req, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return outcome{0, "write-failed(" + ec.message() + ")"};
        boost::beast::flat_buffer buf;
        http::response_parser<http::string_body> p;
        p.body_limit(64 * 1024); // receivers' answers are ignored; keep them small
        co_await http::async_read(s, buf, p, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return outcome{0, "read-failed(" + ec.message() + ")"};
        co_return outcome{p.get().result_int(), {}};
    }

    boost::asio::io_context& ioc_;
    webhook_options const& opts_;
    request_log& log_;
    std::string salt_;
    std::optional<boost::asio::ssl::context> tls_;
    std::unordered_map<std::string, lifecycle> lifecycles_;
};

} // namespace payouts_sandbox
