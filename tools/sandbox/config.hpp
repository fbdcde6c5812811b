// Command line and environment of payouts-sandbox.
#pragma once

#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>
#include <boost/url/url_view.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace payouts_sandbox {

/// The credentials the sandbox accepts: the same variables the client reads.
struct credentials {
    std::string truust_secret_key;
    std::string druo_access_token;
    std::string druo_client_id;
    std::string druo_client_secret;
    std::string checkout_secret_key;
    std::string checkout_client_id;
    std::string checkout_client_secret;
    std::string yuno_public_api_key;
    std::string yuno_private_secret_key;
    std::string introw_api_key;
};

struct credential_var {
    std::string_view env;
    std::string_view fallback;
    std::string credentials::*member;
};

inline constexpr credential_var credential_vars[] = {
    {"PAYOUTS_TRUUST_SECRET_KEY", "sandbox_truust_secret", &credentials::truust_secret_key},
    {"PAYOUTS_DRUO_ACCESS_TOKEN", "sandbox_druo_access_token", &credentials::druo_access_token},
    {"PAYOUTS_DRUO_CLIENT_ID", "sandbox_druo_client_id", &credentials::druo_client_id},
    {"PAYOUTS_DRUO_CLIENT_SECRET", "sandbox_druo_client_secret", &credentials::druo_client_secret},
    {"PAYOUTS_CHECKOUT_SECRET_KEY", "sandbox_checkout_secret_key",
     &credentials::checkout_secret_key},
    {"PAYOUTS_CHECKOUT_CLIENT_ID", "sandbox_checkout_client_id", &credentials::checkout_client_id},
    {"PAYOUTS_CHECKOUT_CLIENT_SECRET", "sandbox_checkout_client_secret",
     &credentials::checkout_client_secret},
    {"PAYOUTS_YUNO_PUBLIC_API_KEY", "sandbox_yuno_public_api_key",
     &credentials::yuno_public_api_key},
    {"PAYOUTS_YUNO_PRIVATE_SECRET_KEY", "sandbox_yuno_private_secret_key",
     &credentials::yuno_private_secret_key},
    {"PAYOUTS_INTROW_API_KEY", "sandbox_introw_api_key", &credentials::introw_api_key},
};

/// Each credential from its variable; unset or empty means the documented default.
inline credentials credentials_from_environment() {
    credentials c;
    for (auto const& v : credential_vars) {
        char const* value = std::getenv(std::string(v.env).c_str());
        c.*v.member = value && *value ? std::string(value) : std::string(v.fallback);
    }
    return c;
}

/// Where --webhook-url points, taken apart once at start.
struct webhook_target {
    bool tls = false;
    std::string host;        ///< for the resolver: a name or an address, without brackets
    std::string port;        ///< explicit, or 80/443
    std::string target;      ///< path (at least "/") and query, as written
    std::string host_header; ///< host[:port] as written
    std::string loggable;    ///< scheme://host[:port]/path, any query redacted
};

/// Payout webhooks (README.md, "Webhooks"); `url` empty: none are sent.
struct webhook_options {
    std::string url;
    webhook_target where;
    std::string secret;
    std::filesystem::path ca_file; ///< https: trusted besides the system's store
    std::chrono::milliseconds retry_base{100};
    std::chrono::milliseconds timeout{5000}; ///< per attempt: connect, TLS, write and read
};

/// Parses an http:// or https:// URL with Boost.URL. Throws std::invalid_argument.
inline webhook_target parse_webhook_url(std::string_view text) {
    namespace urls = boost::urls;
    auto r = urls::parse_absolute_uri(text);
    auto bad = [&](std::string_view why) {
        return std::invalid_argument("--webhook-url " + std::string(text) + ": " +
                                     std::string(why));
    };
    if (!r) throw bad("not an absolute URL (" + r.error().message() + ")");
    urls::url_view const u = *r;
    webhook_target t;
    if (u.scheme_id() == urls::scheme::https)
        t.tls = true;
    else if (u.scheme_id() != urls::scheme::http)
        throw bad("only http:// and https:// URLs are supported");
    // Credentials in a URL end up in logs and process lists: a receiver checks the signature.
    if (u.has_userinfo()) throw bad("user info (user:password@) is not supported");
    if (u.has_fragment()) throw bad("a fragment (#...) is not sent: remove it");
    t.host = u.host_address();
    if (t.host.empty()) throw bad("no host");
    t.port = u.has_port() ? std::string(u.port()) : std::string(t.tls ? "443" : "80");
    if (u.has_port() && (u.port_number() == 0 || u.port().empty())) throw bad("bad port");
    t.target = u.encoded_path().empty() ? std::string("/") : std::string(u.encoded_path());
    t.loggable =
        std::string(u.scheme()) + "://" + std::string(u.encoded_host_and_port()) + t.target;
    if (u.has_query()) {
        t.target += '?';
        t.target += u.encoded_query();
        t.loggable += "?[redacted]";
    }
    t.host_header = u.encoded_host_and_port();
    return t;
}

struct options {
    std::uint16_t port = 0;
    bool plaintext = false;
    std::filesystem::path data_dir;
    std::filesystem::path state_dir; ///< empty: a new temporary directory, removed at exit
    std::filesystem::path cert_file, key_file, ca_file;
    std::uint64_t close_after = 0; ///< 0: keep-alive connections are never closed by count
    std::uint32_t introw_rate_limit = 600;
    std::optional<std::chrono::seconds> token_ttl; ///< default: DRUO 86400 s, Checkout 3600 s
    std::chrono::seconds idle_timeout{60};
    std::size_t oversized_bytes = 2 * 1024 * 1024;
    bool quiet = false;
    bool help = false;
    webhook_options webhook;
    credentials creds;
};

inline std::string help_text() {
    std::string h =
        R"(payouts-sandbox: a local stand-in for the five providers' Get-Payout APIs, over real TLS
on 127.0.0.1 (like stripe-mock). See tools/sandbox/README.md for the ids and fault prefixes.

Usage: payouts-sandbox [options]

Output: line 1 on stdout is the base URL (https://127.0.0.1:PORT), line 2 the CA file to trust
(with --http: "-"). A request log goes to stderr, credentials redacted. SIGINT/SIGTERM stop it.

Endpoints (prefix each with the base URL):
  GET  /truust/2.0/orders/{order_id}/payout     PAYOUTS_TRUUST_BASE_URL=<base>/truust/2.0
  GET  /druo/payouts/{id}                       PAYOUTS_DRUO_BASE_URL=<base>/druo
  GET  /checkout/payments/{id}                  PAYOUTS_CHECKOUT_BASE_URL=<base>/checkout
  GET  /yuno/v1/payouts/{id}                    PAYOUTS_YUNO_BASE_URL=<base>/yuno/v1
  GET  /introw/api/v1/payouts/{id}              PAYOUTS_INTROW_BASE_URL=<base>/introw
  POST /druo-auth/oauth/token                   DRUO OAuth (JSON body)
  POST /checkout-access/connect/token           Checkout.com OAuth (form body)

Options:
  --port N                 port to bind on 127.0.0.1 (default 0: any free port)
  --http                   plaintext HTTP instead of TLS
  --data DIR               serve DIR/<provider>/<id>.json (and moving payouts in
                           DIR/<provider>/<id>/) instead of the bundled payouts
  --state-dir DIR          where the generated CA and server certificate go
                           (default: a new temporary directory, removed at exit)
  --cert FILE --key FILE   serve this certificate chain and key instead of generating them
  --ca FILE                with --cert: the CA file to print on line 2 (default: the --cert file)
  --close-after N          close each keep-alive connection after N responses, without warning
  --introw-rate-limit N    Introw requests allowed per minute (default 600)
  --token-ttl SECONDS      lifetime of issued OAuth tokens (default: DRUO 86400, Checkout 3600)
  --idle-timeout SECONDS   close connections idle this long between requests (default 60)
  --oversized-bytes N      body size of the oversized- fault (default 2097152)
  --quiet                  no request log
  --webhook-url URL        POST each Checkout.com and Yuno moving payout's stage changes to
                           URL (http://, or https:// checked against the system's CAs)
  --webhook-secret S       the key the events are signed with (required with --webhook-url):
                           Cko-Signature (hex) or x-hmac-signature (Base64) HMAC-SHA256
  --webhook-ca FILE        https:// receivers: also trust the CAs in FILE (PEM)
  --webhook-retry-ms N     first retry delay; later ones follow the provider's schedule,
                           scaled, at most 16 N (default 100)
  --webhook-timeout-ms N   per delivery attempt (default 5000)
  --help                   this text

Credentials accepted (environment; unset or empty means the default shown):
)";
    for (auto const& v : credential_vars) {
        h += "  ";
        h += v.env;
        h += std::string(v.env.size() < 34 ? 34 - v.env.size() : 1, ' ');
        h += v.fallback;
        h += '\n';
    }
    h += R"(
Faults, by id prefix (any provider; prefixes nest, outermost first; counters are per id):
  slow-<ms>-<id>   ratelimit-<n>-<id>   flaky-<n>-<id>   stall-<id>   truncate-<id>
  reset-<id>       oversized-<id>       malformed-<id>   tag-<word>-<id>
  Integer ids (Truust): 99MPPPPPNNNNNNNNN = mode M (0 tag 1 slow 2 stall 3 ratelimit 4 flaky
  5 truncate 6 reset 7 oversized 8 malformed), parameter PPPPP, order id NNNNNNNNN.

Moving payouts (status advances per answer or per second; each full id has its own state):
  truust 470 (471 timed)   druo trx_moving-1 (trx_moving-timed)   checkout pay_moving1
  (pay_movingtimed)   yuno moving-1 (moving-timed)   introw pay_moving1 (pay_movingtimed)
)";
    return h;
}

/// Parses argv (`--flag value` or `--flag=value`). Throws std::invalid_argument on misuse.
inline options parse_args(int argc, char** argv, std::filesystem::path default_data_dir) {
    options o;
    o.data_dir = std::move(default_data_dir);
    std::vector<std::string_view> args(argv + 1, argv + argc);
    std::string_view webhook_extra; // a --webhook-* option that needs --webhook-url
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view a = args[i];
        std::optional<std::string_view> inline_value;
        if (auto eq = a.find('='); a.starts_with("--") && eq != std::string_view::npos) {
            inline_value = a.substr(eq + 1);
            a = a.substr(0, eq);
        }
        auto value = [&]() -> std::string {
            if (inline_value) return std::string(*inline_value);
            if (i + 1 >= args.size())
                throw std::invalid_argument(std::string(a) + " needs a value");
            return std::string(args[++i]);
        };
        auto number = [&](std::uint64_t max) -> std::uint64_t {
            std::string v = value();
            std::size_t used = 0;
            unsigned long long n = 0;
            try {
                n = std::stoull(v, &used);
            } catch (std::exception const&) {
                used = 0;
            }
            if (v.empty() || used != v.size() || v[0] == '-' || n > max)
                throw std::invalid_argument(std::string(a) + ": not a number in range: " + v);
            return n;
        };
        auto flag = [&] {
            if (inline_value) throw std::invalid_argument(std::string(a) + " takes no value");
        };
        if (a == "--help" || a == "-h") {
            flag();
            o.help = true;
        } else if (a == "--port") {
            o.port = static_cast<std::uint16_t>(number(65535));
        } else if (a == "--http") {
            flag();
            o.plaintext = true;
        } else if (a == "--data") {
            o.data_dir = value();
        } else if (a == "--state-dir") {
            o.state_dir = value();
        } else if (a == "--cert") {
            o.cert_file = value();
        } else if (a == "--key") {
            o.key_file = value();
        } else if (a == "--ca") {
            o.ca_file = value();
        } else if (a == "--close-after") {
            o.close_after = number(1'000'000'000);
        } else if (a == "--introw-rate-limit") {
            o.introw_rate_limit = static_cast<std::uint32_t>(number(1'000'000'000));
        } else if (a == "--token-ttl") {
            o.token_ttl = std::chrono::seconds(number(10 * 365 * 86400ull));
        } else if (a == "--idle-timeout") {
            o.idle_timeout = std::chrono::seconds(number(86400));
        } else if (a == "--oversized-bytes") {
            o.oversized_bytes = number(1ull << 30);
        } else if (a == "--quiet") {
            flag();
            o.quiet = true;
        } else if (a == "--webhook-url") {
            o.webhook.url = value();
            o.webhook.where = parse_webhook_url(o.webhook.url);
        } else if (a == "--webhook-secret") {
            o.webhook.secret = value();
            if (o.webhook.secret.empty())
                throw std::invalid_argument("--webhook-secret must not be empty");
            webhook_extra = a;
        } else if (a == "--webhook-ca") {
            o.webhook.ca_file = value();
            webhook_extra = a;
        } else if (a == "--webhook-retry-ms") {
            o.webhook.retry_base = std::chrono::milliseconds(number(3'600'000));
            if (o.webhook.retry_base.count() == 0)
                throw std::invalid_argument("--webhook-retry-ms must be > 0");
            webhook_extra = a;
        } else if (a == "--webhook-timeout-ms") {
            o.webhook.timeout = std::chrono::milliseconds(number(3'600'000));
            if (o.webhook.timeout.count() == 0)
                throw std::invalid_argument("--webhook-timeout-ms must be > 0");
            webhook_extra = a;
        } else {
            throw std::invalid_argument("unknown argument: " + std::string(a));
        }
    }
    if (o.cert_file.empty() != o.key_file.empty())
        throw std::invalid_argument("--cert and --key go together");
    if (!o.ca_file.empty() && o.cert_file.empty())
        throw std::invalid_argument("--ca goes with --cert/--key");
    if (o.plaintext && !o.cert_file.empty())
        throw std::invalid_argument("--http serves no certificate: drop --cert/--key");
    if (o.idle_timeout.count() == 0) throw std::invalid_argument("--idle-timeout must be > 0");
    if (o.webhook.url.empty() && !webhook_extra.empty())
        throw std::invalid_argument(std::string(webhook_extra) + " goes with --webhook-url");
    if (!o.webhook.url.empty() && o.webhook.secret.empty())
        throw std::invalid_argument("--webhook-url needs --webhook-secret S: the key the events "
                                    "are signed with, as Checkout.com and Yuno sign theirs");
    if (!o.webhook.ca_file.empty() && !o.webhook.where.tls)
        throw std::invalid_argument("--webhook-ca goes with an https:// --webhook-url");
    return o;
}

} // namespace payouts_sandbox
