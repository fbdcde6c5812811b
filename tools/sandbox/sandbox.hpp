// What the sandbox answers: routing, each provider's auth and error bodies, OAuth token
// endpoints, Introw's per-minute budget and the id-prefix faults. No I/O here: `handle` turns a
// request into a `decision` that the connection (server.hpp) carries out.
#pragma once

#include "config.hpp"
#include "faults.hpp"
#include "store.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace payouts_sandbox {

namespace http = boost::beast::http;
namespace json = boost::json;
using steady = std::chrono::steady_clock;

/// A response to send. The body is either owned or a view of data that outlives the
/// connection (the payout store).
struct reply {
    unsigned status = 200;
    std::string content_type;
    std::vector<std::pair<std::string, std::string>> headers;

    std::string_view body() const { return shared_ ? *shared_ : std::string_view(owned_); }
    void set_body(std::string b) {
        owned_ = std::move(b);
        shared_.reset();
    }
    void set_shared_body(std::string_view b) { shared_ = b; }

private:
    std::string owned_;
    std::optional<std::string_view> shared_;
};

enum class action { respond, stall, reset };

/// A moving payout's answer, whose stage is chosen when the answer is sent (after any slow-
/// delay): sandbox::settle.
struct pending_stage {
    moving_payout const* payout = nullptr;
    std::string key;                   ///< provider and full requested id: whose state moves
    std::vector<fault_kind> modifiers; ///< body faults, outermost first, applied to the stage
    provider_id provider = provider_id::truust;
    std::string full_id; ///< as requested, prefixes included
};

/// Which stage of a moving payout an answer showed: what webhooks (webhooks.hpp) are told once
/// the answer is written.
struct served_stage {
    moving_payout const* payout = nullptr;
    provider_id provider = provider_id::truust;
    std::string full_id;
    std::size_t stage = 0;
    std::optional<steady::time_point> clock_start; ///< timed payouts: when stage 0 was served
};

/// What to do with one request.
struct decision {
    action what = action::respond;
    std::chrono::milliseconds delay{0};
    reply rep;
    std::size_t send_limit = std::string_view::npos; ///< body bytes actually sent (truncation)
    bool close = false;                              ///< close the connection afterwards
    std::string note; ///< for the request log: provider, credential headers (names only), faults
    std::optional<pending_stage> stage; ///< set: call sandbox::settle just before sending
    std::optional<served_stage> served; ///< set by sandbox::settle
};

namespace detail {

inline char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

/// Decodes %XX escapes; `plus_is_space` for form bodies. nullopt on a malformed escape.
inline std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        c = lower(c);
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%') {
            if (i + 2 >= s.size()) return std::nullopt;
            int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            out += ' ';
        } else {
            out += s[i];
        }
    }
    return out;
}

/// The value after "Bearer " (scheme case-insensitive), or nullopt.
inline std::optional<std::string_view> bearer(std::string_view authorization) {
    if (authorization.size() < 7 || !iequals(authorization.substr(0, 7), "Bearer ")) return {};
    return authorization.substr(7);
}

inline std::string random_hex(std::size_t bytes) {
    std::vector<unsigned char> b(bytes);
    if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1)
        throw std::runtime_error("RAND_bytes failed");
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    for (unsigned char c : b) {
        s += digits[c >> 4];
        s += digits[c & 15];
    }
    return s;
}

inline std::string to_json(json::value const& v) {
    return json::serialize(v);
}

} // namespace detail

/// The error situations every provider answers in its own shape.
enum class error_kind {
    unauthorized,
    forbidden,
    not_found,
    rate_limited,
    unavailable,
    method_not_allowed
};

class sandbox {
public:
    sandbox(options const& opts, payout_store store)
        : opts_(opts)
        , store_(std::move(store))
        , rng_(seed()) {}

    payout_store const& store() const { return store_; }

    /// Completes a decision whose body depends on when it is sent (a moving payout's stage);
    /// does nothing for the others. An intact answer counts as served: it advances a
    /// request-stepped payout and starts a timed one's clock. Body faults (truncate-,
    /// malformed-, oversized-) show the current stage but do not count, since the client did
    /// not get a usable answer.
    void settle(decision& d, steady::time_point now) {
        if (!d.stage) return;
        pending_stage& ps = *d.stage;
        moving_payout const& m = *ps.payout;
        moving_state& st = moving_states_[ps.key];
        bool const counts = ps.modifiers.empty();
        if (counts && !st.first_served) st.first_served = now;
        std::uint64_t step = 0;
        if (m.mode == advance_mode::request) {
            step = st.served / m.every;
        } else if (st.first_served) {
            auto elapsed =
                std::chrono::duration_cast<std::chrono::milliseconds>(now - *st.first_served);
            step = static_cast<std::uint64_t>(elapsed / m.every_ms);
        }
        std::size_t const stage =
            static_cast<std::size_t>(std::min<std::uint64_t>(step, m.stages.size() - 1));
        if (counts) ++st.served;
        d.rep.set_shared_body(m.stages[stage]);
        apply_modifiers(d, ps.modifiers);
        d.note += " stage=" + std::to_string(stage);
        if (!counts) d.note += "(not-counted)";
        d.served = served_stage{&m, ps.provider, std::move(ps.full_id), stage, st.first_served};
        d.stage.reset();
    }

    decision handle(http::request<http::string_body> const& req, steady::time_point now) {
        std::string_view target = req.target();
        std::string_view path = target.substr(0, target.find('?'));
        if (path == "/druo-auth/oauth/token") return druo_token(req, now);
        if (path == "/checkout-access/connect/token") return checkout_token(req, now);
        for (auto const& r : routes) {
            if (path.size() < r.prefix.size() + r.suffix.size() || !path.starts_with(r.prefix) ||
                !path.ends_with(r.suffix))
                continue;
            std::string_view id =
                path.substr(r.prefix.size(), path.size() - r.prefix.size() - r.suffix.size());
            if (id.find('/') != std::string_view::npos) continue;
            return payout(r.provider, req, id, now);
        }
        decision d;
        d.rep.status = 404;
        d.rep.content_type = "text/plain";
        d.rep.set_body("payouts-sandbox: no such endpoint; see payouts-sandbox --help\n");
        d.note = "no-route";
        return d;
    }

private:
    struct route {
        provider_id provider;
        std::string_view prefix;
        std::string_view suffix;
    };
    static constexpr route routes[] = {
        {provider_id::truust, "/truust/2.0/orders/", "/payout"},
        {provider_id::druo, "/druo/payouts/", ""},
        {provider_id::checkout, "/checkout/payments/", ""},
        {provider_id::yuno, "/yuno/v1/payouts/", ""},
        {provider_id::introw, "/introw/api/v1/payouts/", ""},
    };
    static constexpr std::string_view druo_version = "2021-11-22";
    static constexpr std::string_view druo_audience = "https://druo-merchant-api.com";
    static constexpr std::string_view checkout_scopes[] = {"gateway",
                                                           "gateway:payment",
                                                           "gateway:payment-details",
                                                           "gateway:payment-authorizations",
                                                           "gateway:payment-voids",
                                                           "gateway:payment-captures",
                                                           "gateway:payment-refunds",
                                                           "payouts:bank-details",
                                                           "vault",
                                                           "fx",
                                                           "files",
                                                           "balances-view",
                                                           "transfers"};

    struct token_info {
        provider_id provider;
        steady::time_point expires;
        bool can_read_payments = true;
    };

    static std::uint64_t seed() {
        std::uint64_t s = 0;
        if (RAND_bytes(reinterpret_cast<unsigned char*>(&s), sizeof s) != 1)
            throw std::runtime_error("RAND_bytes failed");
        return s;
    }

    std::chrono::seconds token_ttl(provider_id p) const {
        if (opts_.token_ttl) return *opts_.token_ttl;
        return std::chrono::seconds(p == provider_id::druo ? 86400 : 3600);
    }

    /// Checkout-style request id: 13 characters, digits and capitals.
    std::string request_id() {
        static constexpr char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
        std::uint64_t r = rng_();
        std::string s = "0HN";
        for (int i = 0; i < 10; ++i, r >>= 5)
            s += alphabet[r & 31];
        return s;
    }

    static reply json_reply(unsigned status, json::value const& body) {
        reply r;
        r.status = status;
        r.content_type = "application/json";
        r.set_body(detail::to_json(body));
        return r;
    }

    /// Each provider's own answer to each error_kind (as documented: Truust {"message"}, DRUO
    /// {"errors":[...]}, Checkout an empty body, Yuno {code, messages} with not-found as 400,
    /// Introw {"error":{code, message}}).
    static reply provider_error(provider_id p, error_kind k) {
        struct text {
            std::string_view code, message;
        };
        static constexpr unsigned status[] = {401, 403, 404, 429, 503, 405};
        static constexpr std::string_view truust[] = {
            "Unauthenticated.",
            "This action is unauthorized.",
            "Not found",
            "Too Many Attempts.",
            "Service Unavailable",
            "The method is not supported for this route. Supported "
            "methods: GET."};
        static constexpr std::string_view druo_category[] = {
            "AUTHORIZATION_ERROR", "AUTHORIZATION_ERROR", "INVALID_REQUEST_ERROR",
            "RATE_LIMIT_ERROR",    "API_ERROR",           "INVALID_REQUEST_ERROR"};
        static constexpr text druo[] = {
            {"UNAUTHORIZED", "The access token is missing, invalid or expired."},
            {"UNAUTHORIZED", "The access token does not allow this request."},
            {"UNEXPECTED_VALUE", "This transaction has not been found in our database."},
            {"TOO_MANY_REQUESTS", "Too many requests. Please try again later."},
            {"INTERNAL_SERVER_ERROR", "The service is temporarily unavailable."},
            {"BAD_REQUEST", "This method is not allowed on this endpoint."}};
        static constexpr text yuno[] = {{"INVALID_CREDENTIALS", "Invalid credentials"},
                                        {"AUTHORIZATION_REQUIRED", "Authorization required"},
                                        {"NOT_FOUND", "Resource not found"},
                                        {"TOO_MANY_REQUESTS", "Too many requests"},
                                        {"INTERNAL_ERROR", "Service temporarily unavailable"},
                                        {"UNSUPPORTED_METHOD", "Unsupported method"}};
        static constexpr text introw[] = {
            {"UNAUTHORIZED", "The API key is missing, invalid, expired or revoked."},
            {"FORBIDDEN", "The API key does not include the commissions:read scope."},
            {"NOT_FOUND", "Payout was not found in the authenticated organisation."},
            {"RATE_LIMITED", "Rate limit exceeded."},
            {"SERVICE_UNAVAILABLE", "Service temporarily unavailable."},
            {"METHOD_NOT_ALLOWED", "Method not allowed."}};
        auto const i = static_cast<std::size_t>(k);
        switch (p) {
        case provider_id::truust:
            return json_reply(status[i], {{"message", truust[i]}});
        case provider_id::druo: {
            json::object e{{"code", druo[i].code},
                           {"category", druo_category[i]},
                           {"detail", druo[i].message}};
            if (k == error_kind::not_found) e["field"] = "transaction_uuid";
            return json_reply(status[i], {{"errors", json::array{e}}});
        }
        case provider_id::checkout: {
            reply r;
            r.status = status[i];
            return r;
        }
        case provider_id::yuno:
            return json_reply(k == error_kind::not_found ? 400 : status[i],
                              {{"code", yuno[i].code}, {"messages", json::array{yuno[i].message}}});
        case provider_id::introw:
            return json_reply(
                status[i], {{"error", {{"code", introw[i].code}, {"message", introw[i].message}}}});
        }
        return reply{};
    }

    // --- authentication ------------------------------------------------------------------

    enum class auth { ok, missing, wrong, no_scope };

    static std::string_view header(http::request<http::string_body> const& req,
                                   std::string_view name) {
        auto it = req.find(name);
        return it == req.end() ? std::string_view{} : std::string_view(it->value());
    }

    bool valid_token(std::string_view token, provider_id p, steady::time_point now,
                     bool* can_read = nullptr) {
        auto it = tokens_.find(std::string(token));
        if (it == tokens_.end() || it->second.provider != p) return false;
        if (it->second.expires <= now) {
            tokens_.erase(it);
            return false;
        }
        if (can_read) *can_read = it->second.can_read_payments;
        return true;
    }

    auth authenticate(provider_id p, http::request<http::string_body> const& req,
                      steady::time_point now, std::string& note) {
        auto credential = [&](std::string_view name) {
            std::string_view v = header(req, name);
            if (req.find(name) != req.end()) {
                note += ' ';
                note += name;
                note += "=[redacted]";
            }
            return v;
        };
        auto bearer_of = [&]() -> std::optional<std::string_view> {
            if (req.find(http::field::authorization) == req.end()) return std::nullopt;
            auto b = detail::bearer(credential("Authorization"));
            return b ? b : std::optional<std::string_view>(std::string_view{});
        };
        auto const& c = opts_.creds;
        switch (p) {
        case provider_id::truust: {
            auto b = bearer_of();
            if (!b) return auth::missing;
            return *b == c.truust_secret_key ? auth::ok : auth::wrong;
        }
        case provider_id::druo: {
            auto b = bearer_of();
            if (!b) return auth::missing;
            return *b == c.druo_access_token || valid_token(*b, p, now) ? auth::ok : auth::wrong;
        }
        case provider_id::checkout: {
            auto b = bearer_of();
            if (!b) return auth::missing;
            if (*b == c.checkout_secret_key) return auth::ok;
            bool can_read = false;
            if (!valid_token(*b, p, now, &can_read)) return auth::wrong;
            return can_read ? auth::ok : auth::no_scope;
        }
        case provider_id::yuno: {
            bool has = req.find("public-api-key") != req.end() ||
                       req.find("private-secret-key") != req.end();
            std::string_view pub = credential("public-api-key");
            std::string_view priv = credential("private-secret-key");
            if (!has) return auth::missing;
            return pub == c.yuno_public_api_key && priv == c.yuno_private_secret_key ? auth::ok
                                                                                     : auth::wrong;
        }
        case provider_id::introw: {
            if (req.find("x-api-key") == req.end()) return auth::missing;
            return credential("x-api-key") == c.introw_api_key ? auth::ok : auth::wrong;
        }
        }
        return auth::wrong;
    }

    // --- Introw's per-minute budget ------------------------------------------------------

    /// Counts one request; false when the minute's budget is already spent.
    bool introw_take(steady::time_point now) {
        if (now - introw_window_start_ >= std::chrono::minutes(1)) {
            introw_window_start_ = now; // a fixed window, started by its first request
            introw_used_ = 0;
        }
        if (introw_used_ >= opts_.introw_rate_limit) return false;
        ++introw_used_;
        return true;
    }

    void introw_headers(reply& r) const {
        std::uint32_t remaining =
            opts_.introw_rate_limit > introw_used_ ? opts_.introw_rate_limit - introw_used_ : 0;
        r.headers.emplace_back("x-ratelimit-limit-minute", std::to_string(opts_.introw_rate_limit));
        r.headers.emplace_back("x-ratelimit-remaining-minute", std::to_string(remaining));
    }

    // --- Get Payout ----------------------------------------------------------------------

    decision payout(provider_id p, http::request<http::string_body> const& req,
                    std::string_view raw_id, steady::time_point now) {
        decision d;
        d.note = std::string(to_string(p));
        std::string const cko_id = p == provider_id::checkout ? request_id() : std::string{};
        // Checkout sends its request id on every response.
        auto finish = [&](decision& out) -> decision {
            if (p == provider_id::checkout) out.rep.headers.emplace_back("Cko-Request-Id", cko_id);
            return std::move(out);
        };

        if (req.method() != http::verb::get) {
            d.rep = provider_error(p, error_kind::method_not_allowed);
            d.rep.headers.emplace_back("Allow", "GET");
            return finish(d);
        }
        switch (authenticate(p, req, now, d.note)) {
        case auth::ok:
            break;
        case auth::missing:
        case auth::wrong:
            d.note += " auth=rejected";
            d.rep = provider_error(p, error_kind::unauthorized);
            return finish(d);
        case auth::no_scope:
            d.note += " auth=no-scope";
            d.rep = provider_error(p, error_kind::forbidden);
            return finish(d);
        }
        if (p == provider_id::druo) {
            std::string_view v = header(req, "DRUO-Version");
            if (v != druo_version) {
                bool missing = req.find("DRUO-Version") == req.end();
                json::object e{
                    {"code", missing ? "MISSING_REQUIRED_PARAMETER" : "UNEXPECTED_VALUE"},
                    {"category", "INVALID_REQUEST_ERROR"},
                    {"detail", missing ? "The DRUO-Version header is required."
                                       : "The DRUO-Version header has an unsupported value."},
                    {"field", "DRUO-Version"}};
                d.rep = json_reply(400, {{"errors", json::array{e}}});
                d.note += missing ? " druo-version=missing" : " druo-version=unsupported";
                return d;
            }
        }
        bool const introw = p == provider_id::introw;
        if (introw && !introw_take(now)) {
            d.rep = provider_error(p, error_kind::rate_limited);
            introw_headers(d.rep);
            d.note += " introw-budget=spent";
            return d;
        }

        std::optional<std::string> id = detail::percent_decode(raw_id);
        if (introw && (!id || id->find_first_not_of(" \t\r\n") == std::string::npos)) {
            d.rep = json_reply(422, {{"error",
                                      {{"code", "VALIDATION_ERROR"},
                                       {"message", "Path parameters failed validation."},
                                       {"details", {{"id", "must be a non-empty payout id"}}}}}});
            introw_headers(d.rep);
            return d;
        }
        if (!id) id.emplace(); // a malformed escape finds nothing

        fault_spec spec = parse_faults(*id);
        std::vector<fault_kind> modifiers;
        std::optional<reply> early;
        for (std::size_t i = 0; i < spec.layers.size() && !early; ++i) {
            fault const& f = spec.layers[i];
            d.note += " fault=";
            d.note += to_string(f.kind);
            switch (f.kind) {
            case fault_kind::tag:
                break;
            case fault_kind::slow:
                d.delay += std::chrono::milliseconds(f.param);
                break;
            case fault_kind::stall:
                d.what = action::stall;
                return d;
            case fault_kind::reset:
                d.what = action::reset;
                return d;
            case fault_kind::ratelimit:
            case fault_kind::flaky: {
                std::string key = std::string(to_string(p)) + '\n' + *id + '\n' + std::to_string(i);
                std::uint64_t n = ++counters_[key];
                if (n <= f.param) {
                    bool rl = f.kind == fault_kind::ratelimit;
                    early =
                        provider_error(p, rl ? error_kind::rate_limited : error_kind::unavailable);
                    if (rl) early->headers.emplace_back("Retry-After", "1");
                    d.note += '#';
                    d.note += std::to_string(n);
                }
                break;
            }
            case fault_kind::truncate:
            case fault_kind::oversized:
            case fault_kind::malformed:
                modifiers.push_back(f.kind);
                break;
            }
        }

        if (early) {
            d.rep = std::move(*early);
        } else if (std::string const* body = store_.find(p, spec.base)) {
            d.rep.content_type = "application/json";
            d.rep.set_shared_body(*body);
        } else if (moving_payout const* m = store_.find_moving(p, spec.base)) {
            // Per provider and full id, so tag- and fault prefixes give their own lifecycle.
            d.rep.content_type = "application/json";
            d.stage = pending_stage{m, std::string(to_string(p)) + '\n' + *id, std::move(modifiers),
                                    p, *id};
            modifiers.clear();
        } else if (p == provider_id::checkout && !spec.base.starts_with("pay_")) {
            d.rep = json_reply(422, {{"request_id", cko_id},
                                     {"error_type", "request_invalid"},
                                     {"error_codes", json::array{"payment_id_invalid"}}});
        } else {
            d.rep = provider_error(p, error_kind::not_found);
        }
        if (introw) introw_headers(d.rep);
        apply_modifiers(d, modifiers);
        return finish(d);
    }

    /// The body faults, innermost first (the outermost sees what the inner ones made).
    void apply_modifiers(decision& d, std::vector<fault_kind> const& modifiers) const {
        for (auto it = modifiers.rbegin(); it != modifiers.rend(); ++it) {
            std::string_view body = d.rep.body();
            switch (*it) {
            case fault_kind::oversized: {
                std::string big(body);
                if (big.size() < opts_.oversized_bytes) big.resize(opts_.oversized_bytes, ' ');
                d.rep.set_body(std::move(big));
                break;
            }
            case fault_kind::malformed:
                d.rep.set_body(std::string(body.substr(0, body.size() / 2)));
                break;
            case fault_kind::truncate:
                d.send_limit = body.size() / 2;
                d.close = true;
                break;
            default:
                break;
            }
        }
    }

    // --- OAuth token endpoints -----------------------------------------------------------

    std::string issue_token(provider_id p, steady::time_point now, bool can_read) {
        if (tokens_.size() > 100'000)
            std::erase_if(tokens_, [&](auto const& kv) { return kv.second.expires <= now; });
        std::string token =
            std::string(p == provider_id::druo ? "druo_sbx_" : "cko_sbx_") + detail::random_hex(24);
        tokens_[token] = token_info{p, now + token_ttl(p), can_read};
        return token;
    }

    static decision oauth_error(unsigned status, std::string_view error,
                                std::string_view description) {
        decision d;
        json::object o{{"error", error}};
        if (!description.empty()) o["error_description"] = description;
        d.rep = json_reply(status, o);
        d.rep.headers.emplace_back("Cache-Control", "no-store");
        return d;
    }

    // Token endpoints take only POST; `error` is the provider's own word for anything else.
    static decision post_only(std::string_view error) {
        decision d = oauth_error(405, error, "Use POST.");
        d.rep.headers.emplace_back("Allow", "POST");
        return d;
    }

    decision druo_token(http::request<http::string_body> const& req, steady::time_point now) {
        std::string note = "druo-oauth";
        auto done = [&](decision d) {
            d.note = note + d.note;
            return d;
        };
        if (req.method() != http::verb::post) return done(post_only("method_not_allowed"));
        boost::system::error_code ec;
        json::value v = json::parse(req.body(), ec);
        json::object const* o = ec ? nullptr : v.if_object();
        if (!o) return done(oauth_error(400, "invalid_request", "The body must be a JSON object."));
        auto text = [&](std::string_view k) -> std::optional<std::string_view> {
            auto it = o->find(k);
            if (it == o->end() || !it->value().is_string()) return std::nullopt;
            return std::string_view(it->value().get_string());
        };
        if (o->contains("client_secret")) note += " client_secret=[redacted]";
        auto grant = text("grant_type");
        auto id = text("client_id");
        auto secret = text("client_secret");
        auto audience = text("audience");
        if (!grant || !id || !secret)
            return done(
                oauth_error(400, "invalid_request",
                            "Missing required parameter: grant_type, client_id or client_secret."));
        if (*grant != "client_credentials")
            return done(oauth_error(403, "unauthorized_client",
                                    "Grant type '" + std::string(*grant) +
                                        "' not allowed for the client."));
        if (*id != opts_.creds.druo_client_id || *secret != opts_.creds.druo_client_secret)
            return done(oauth_error(401, "access_denied", "Unauthorized"));
        if (!audience || *audience != druo_audience)
            return done(oauth_error(403, "access_denied",
                                    "Service not found: " + std::string(audience.value_or(""))));
        decision d;
        d.rep = json_reply(200, {{"access_token", issue_token(provider_id::druo, now, true)},
                                 {"scope", "read:transactions read:payouts read:payments"},
                                 {"expires_in", token_ttl(provider_id::druo).count()},
                                 {"token_type", "Bearer"}});
        d.rep.headers.emplace_back("Cache-Control", "no-store");
        d.note = " token=[redacted]";
        return done(d);
    }

    decision checkout_token(http::request<http::string_body> const& req, steady::time_point now) {
        std::string note = "checkout-oauth";
        auto done = [&](decision d) {
            d.note = note + d.note;
            return d;
        };
        if (req.method() != http::verb::post) return done(post_only("invalid_request"));
        std::unordered_map<std::string, std::string> form;
        std::string_view body = req.body();
        while (!body.empty()) {
            std::string_view pair = body.substr(0, body.find('&'));
            body.remove_prefix(std::min(body.size(), pair.size() + 1));
            std::string_view k = pair.substr(0, pair.find('='));
            std::string_view val = k.size() < pair.size() ? pair.substr(k.size() + 1) : "";
            auto dk = detail::percent_decode(k, true);
            auto dv = detail::percent_decode(val, true);
            if (!dk || !dv) return done(oauth_error(400, "invalid_request", ""));
            form[*dk] = *dv;
        }
        if (form.contains("client_secret")) note += " client_secret=[redacted]";
        if (form["grant_type"] != "client_credentials")
            return done(oauth_error(400, "unsupported_grant_type", ""));
        if (form["client_id"] != opts_.creds.checkout_client_id ||
            form["client_secret"] != opts_.creds.checkout_client_secret)
            return done(oauth_error(400, "invalid_client", ""));
        bool can_read = true;
        if (auto it = form.find("scope"); it != form.end() && !it->second.empty()) {
            can_read = false;
            std::string_view scopes = it->second;
            while (!scopes.empty()) {
                std::string_view s = scopes.substr(0, scopes.find(' '));
                scopes.remove_prefix(std::min(scopes.size(), s.size() + 1));
                if (s.empty()) continue;
                if (std::find(std::begin(checkout_scopes), std::end(checkout_scopes), s) ==
                    std::end(checkout_scopes))
                    return done(oauth_error(400, "invalid_scope", ""));
                if (s == "gateway" || s == "gateway:payment-details") can_read = true;
            }
        }
        decision d;
        d.rep =
            json_reply(200, {{"access_token", issue_token(provider_id::checkout, now, can_read)},
                             {"token_type", "Bearer"},
                             {"expires_in", token_ttl(provider_id::checkout).count()}});
        d.rep.headers.emplace_back("Cache-Control", "no-store");
        d.note = " token=[redacted]";
        return done(d);
    }

    options const& opts_;
    payout_store store_;
    std::mt19937_64 rng_;
    std::unordered_map<std::string, std::uint64_t> counters_;
    struct moving_state {
        std::uint64_t served = 0; ///< answers that counted
        std::optional<steady::time_point> first_served;
    };
    std::unordered_map<std::string, moving_state> moving_states_;
    std::unordered_map<std::string, token_info> tokens_;
    steady::time_point introw_window_start_{};
    std::uint32_t introw_used_ = 0;
};

} // namespace payouts_sandbox
