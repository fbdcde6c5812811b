// payouts: look up payouts from a terminal. Credentials and base URLs come from the same
// PAYOUTS_* environment variables as the library's default client, never from argv.
#include <payouts/payouts.hpp>

#include "../common/table.hpp"
#include "ledger.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/describe/enum_to_string.hpp>
#include <boost/describe/enumerators.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/mp11/algorithm.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <unistd.h>
#include <vector>

namespace {

namespace net = boost::asio;
using payouts::error_code;

// Exit codes by error class; `payouts --help` lists them.
enum exit_code : int {
    exit_ok = 0,
    exit_internal = 1,
    exit_usage = 2,
    exit_config = 3,
    exit_auth = 4,
    exit_not_found = 5,
    exit_network = 6,
    exit_provider = 7,
    exit_decode = 8,
    exit_batch_failures = 9,
    exit_watch_deadline = 10,
    exit_signature = 11,
};

constexpr char const* help_text = R"(usage:
  payouts get <provider> <id> [<provider> <id>...] [--format table|json]
              [--env sandbox|production] [--verbose]
  payouts batch <provider> <ids-file|-> [--concurrency N] [--format jsonl|csv]
                [--env sandbox|production]
  payouts watch <provider> <id> [<provider> <id>...] [--interval D] [--max-interval D]
                [--timeout D] [--until STATUS,...] [--format table|jsonl]
                [--env sandbox|production] [--verbose]
  payouts reconcile <ledger.csv|-> [--concurrency N] [--format csv|jsonl]
                    [--env sandbox|production]
  payouts webhook <provider> [--header 'Name: value']... [--format table|json] < body
  payouts --help

providers: truust druo checkout yuno introw

Credentials and URLs come from the environment (never from arguments):
  PAYOUTS_ENVIRONMENT            sandbox (default) or production
  PAYOUTS_<PROVIDER>_BASE_URL    base URL, path prefix included
  PAYOUTS_<PROVIDER>_TOKEN_URL   OAuth token URL (druo, checkout)
  PAYOUTS_CA_FILE                an extra trusted CA (PEM)
  PAYOUTS_TIMEOUT_MS             overall deadline per fetch (default 30000)
  PAYOUTS_PROXY                  egress proxy http://[user:password@]host:port for https
                                 (else HTTPS_PROXY, https_proxy): a CONNECT tunnel
  PAYOUTS_NO_PROXY               hosts reached directly, as curl's NO_PROXY (else NO_PROXY,
                                 no_proxy): names (with their subdomains), IPs, or *
  PAYOUTS_TRUUST_SECRET_KEY
  PAYOUTS_DRUO_ACCESS_TOKEN, or PAYOUTS_DRUO_CLIENT_ID + PAYOUTS_DRUO_CLIENT_SECRET
  PAYOUTS_CHECKOUT_SECRET_KEY, or PAYOUTS_CHECKOUT_CLIENT_ID + PAYOUTS_CHECKOUT_CLIENT_SECRET
  PAYOUTS_YUNO_PUBLIC_API_KEY + PAYOUTS_YUNO_PRIVATE_SECRET_KEY
  PAYOUTS_INTROW_API_KEY

get fetches every <provider> <id> pair at once and prints one table (or, with --format json, one
object; an array of them for several pairs, a failed pair as {"provider","id","error"}); errors
go to stderr and the exit code is the class of the first pair that failed.

batch reads one id per line (blank lines are skipped) and writes exactly one line per id, in
input order, then a summary by status on stderr (with a progress bar when stderr is a terminal).

watch fetches every <provider> <id> pair again and again, all at once, until each reaches a
terminal status, and prints a line each time a payout's status changes (the first answer
included), as it happens: the time it was seen (UTC), provider, id (as given), status,
provider_status, amount. --format table (default) aligns them under a header; --format jsonl
writes one object per line with keys time, provider, id, status, provider_status, amount
(decimal string or null) and currency (or null). A watch that fails gets one line on stderr;
the exit code is then the class of the first pair that failed, as for get.
  --interval D       the wait before the second fetch; later waits double, with jitter,
                     up to --max-interval (defaults 2s and 5m; --interval alone above 5m
                     raises --max-interval to it)
  --timeout D        the whole watch (default 24h)
  --until S,...      the statuses that end a watch, replacing paid,failed,cancelled,returned:
                     pending processing on_hold paid failed cancelled returned unknown (leave
                     paid out, with a --timeout, to keep watching a paid payout for a return)
reconcile reads a ledger (CSV, RFC 4180 quoting) whose header row names the columns provider,
id, amount, currency and status, in any order; amount (a decimal in major units, 10.50),
currency (ISO 4217, USD) and status (a unified status name, as for --until) may be left out or
left empty, and are then not checked. Every payout is fetched once (a payout on several rows
too), at most --concurrency N (default 8) at a time per provider, and compared exactly (10.5
equals 10.50). One line per row, in ledger order: its line number in the file, provider, id,
and a result: match; mismatch (each differing field with its expected and actual value);
not_found; or error with its class (malformed_row for a row that cannot be read, which is
also reported on stderr and does not stop the others). --format csv (default) has the columns
line,provider,id,result,error,detail,expected_amount,actual_amount,expected_currency,
actual_currency,expected_status,actual_status,actual_provider_status; --format jsonl one object
per row with line, provider, id, result, expected, actual, differences and error. A summary
by result follows on stderr (with a progress bar when stderr is a terminal).

webhook verifies a payout notification received from checkout or yuno (the body on stdin,
byte for byte; its headers with --header, at least the signature header) against the secrets
in PAYOUTS_<PROVIDER>_WEBHOOK_SECRET (comma-separated during a key rotation) and prints the
event type and id, then the payout as get does (--format json: {"event_id","event_type",
"payout"}). DRUO, Truust and Introw document no webhook signature: usage error.

Durations D are a positive integer and a unit, ms, s, m or h (500ms, 2s, 5m, 24h), at most
100 years. Ctrl-C (SIGINT) or SIGTERM stops every watch: exit 130 or 143.

exit codes:
  0  success (batch: every id fetched; watch: every payout reached a terminal status;
     reconcile: every row matched)
  1  internal: a failure of this program itself (an unexpected exception, or a batch that
     ended with ids unanswered; those ids still get their line)
  2  usage: unknown command, provider, option or format
  3  configuration: missing credentials (webhook: secrets), bad URL, CA or environment value
  4  authentication: credentials refused (401, 403) or token request failed
  5  not found: the provider does not know the payout
  6  network or TLS: connect, handshake, certificate, timeout, reset, proxy refusal
  7  provider: 429 after retries, 5xx, unexpected status
  8  decode: the response is not a valid payout, too large or badly encoded
  9  batch: at least one id failed (each failure is on its own line); reconcile: at least one
     row did not match (mismatch, not_found, error)
  10 watch: the deadline passed before every payout settled (and no watch failed otherwise)
  11 webhook: the signature did not verify
  130, 143  watch: stopped by SIGINT or SIGTERM
)";

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct options {
    std::string command, provider, target;
    std::vector<std::pair<std::string, std::string>> pairs; // get, watch: (provider, id), in order
    std::vector<std::pair<std::string, std::string>> headers; // webhook: (name, value)
    std::string format;
    std::optional<payouts::environment> env;
    std::size_t concurrency = 8;
    bool verbose = false;
    // watch only; unset: watch_options' defaults.
    std::optional<std::chrono::milliseconds> interval, max_interval, timeout;
    std::optional<payouts::status_set> until;
};

// "500ms", "2s", "5m", "24h": a positive integer and a unit. The cap keeps the watch's deadline
// well inside the steady clock's nanosecond range.
std::chrono::milliseconds parse_duration(std::string const& option, std::string const& text) {
    using namespace std::chrono;
    constexpr std::int64_t max_ms = 100LL * 365 * 24 * 3600 * 1000;
    std::int64_t n = 0;
    auto const* const end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, n);
    std::string_view const unit(p, static_cast<std::size_t>(end - p));
    std::int64_t per = 0;
    if (unit == "ms")
        per = 1;
    else if (unit == "s")
        per = 1000;
    else if (unit == "m")
        per = 60 * 1000;
    else if (unit == "h")
        per = 3600 * 1000;
    if (ec != std::errc() || p == text.data() || text[0] == '-' || per == 0 || n <= 0 ||
        n > max_ms / per)
        throw usage_error(option +
                          " takes a duration: a positive integer and a unit, ms, s, m "
                          "or h (500ms, 2s, 5m, 24h), at most 100 years; not '" +
                          text + "'");
    return milliseconds(n * per);
}

// "failed,cancelled,returned": names as payouts::to_string prints them.
payouts::status_set parse_statuses(std::string const& text) {
    payouts::status_set set;
    std::string_view rest = text;
    for (;;) {
        auto const comma = rest.find(',');
        auto const name = std::string(rest.substr(0, comma));
        auto const status = payouts_cli::parse_status(name);
        if (!status)
            throw usage_error("--until: unknown status '" + name + "'; the statuses are " +
                              payouts_cli::status_names());
        set.bits |= payouts::status_set{*status}.bits;
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return set;
}

options parse_args(int argc, char** argv) {
    options o;
    std::vector<std::string> positional;
    for (int i = 1; i < argc; ++i) {
        std::string const a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw usage_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "--help" || a == "-h") {
            o.command = "help";
            return o;
        } else if (a == "--format") {
            o.format = value();
        } else if (a == "--env") {
            auto const v = value();
            if (v == "sandbox")
                o.env = payouts::environment::sandbox;
            else if (v == "production")
                o.env = payouts::environment::production;
            else
                throw usage_error("--env must be sandbox or production");
        } else if (a == "--concurrency") {
            auto const v = value();
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), o.concurrency);
            if (ec != std::errc() || p != v.data() + v.size() || o.concurrency == 0 ||
                o.concurrency > 4096)
                throw usage_error("--concurrency must be a number from 1 to 4096");
        } else if (a == "--interval") {
            o.interval = parse_duration(a, value());
        } else if (a == "--max-interval") {
            o.max_interval = parse_duration(a, value());
        } else if (a == "--timeout") {
            o.timeout = parse_duration(a, value());
        } else if (a == "--until") {
            o.until = parse_statuses(value());
        } else if (a == "--header" || a == "-H") {
            auto const v = value();
            auto const colon = v.find(':');
            if (colon == std::string::npos || colon == 0)
                throw usage_error("--header takes 'Name: value', not '" + v + "'");
            auto const b = v.find_first_not_of(" \t", colon + 1);
            o.headers.emplace_back(v.substr(0, colon),
                                   b == std::string::npos ? std::string() : v.substr(b));
        } else if (a == "--verbose" || a == "-v") {
            o.verbose = true;
        } else if (a.size() > 1 && a[0] == '-' && a != "-") {
            throw usage_error("unknown option " + a);
        } else {
            positional.push_back(a);
        }
    }
    if (positional.empty()) throw usage_error("missing command");
    o.command = positional[0];
    if (o.command != "get" && o.command != "batch" && o.command != "watch" &&
        o.command != "reconcile" && o.command != "webhook")
        throw usage_error("unknown command " + o.command);
    if (o.command != "webhook" && !o.headers.empty())
        throw usage_error("--header is for webhook only");
    if (o.command != "watch" && (o.interval || o.max_interval || o.timeout || o.until))
        throw usage_error("--interval, --max-interval, --timeout and --until are for watch only");
    if (o.command == "webhook") {
        if (positional.size() != 2)
            throw usage_error("webhook takes <provider> (the body on stdin)");
        o.provider = positional[1];
        bool known = false;
        boost::mp11::mp_for_each<payouts::all_providers>(
            [&]<class P>(P) { known = known || P::name == o.provider; });
        if (!known) throw usage_error("unknown provider " + o.provider);
        if (o.format.empty()) o.format = "table";
        if (o.format != "table" && o.format != "json")
            throw usage_error("unknown format " + o.format + " for webhook");
        return o;
    }
    if (o.command == "reconcile") {
        if (positional.size() != 2) throw usage_error("reconcile takes <ledger.csv|->");
        o.target = positional[1];
        if (o.format.empty()) o.format = "csv";
        if (o.format != "csv" && o.format != "jsonl")
            throw usage_error("unknown format " + o.format + " for reconcile");
        return o;
    }
    bool const paired = o.command != "batch";
    if (paired ? positional.size() < 3 || positional.size() % 2 == 0 : positional.size() != 3)
        throw usage_error(o.command + " takes <provider> and " +
                          (paired ? "<id> (pairs of them)" : "<ids-file|->"));
    if (o.interval && o.max_interval && *o.interval > *o.max_interval)
        throw usage_error("--interval must not be longer than --max-interval");
    for (std::size_t i = 1; i + 1 < positional.size(); i += 2) {
        bool known = false;
        boost::mp11::mp_for_each<payouts::all_providers>(
            [&]<class P>(P) { known = known || P::name == positional[i]; });
        if (!known) throw usage_error("unknown provider " + positional[i]);
        o.pairs.emplace_back(positional[i], positional[i + 1]);
    }
    o.provider = positional[1];
    o.target = positional[2];
    if (o.format.empty()) o.format = o.command == "batch" ? "jsonl" : "table";
    bool const format_ok = o.command == "get"     ? (o.format == "table" || o.format == "json")
                           : o.command == "watch" ? (o.format == "table" || o.format == "jsonl")
                                                  : (o.format == "jsonl" || o.format == "csv");
    if (!format_ok) throw usage_error("unknown format " + o.format + " for " + o.command);
    return o;
}

int exit_for(error_code ec) {
    using payouts::errc;
    if (!ec) return exit_ok;
    if (ec.category() == payouts::payouts_category()) {
        switch (static_cast<errc>(ec.value())) {
        case errc::invalid_id:
            return exit_usage;
        case errc::missing_credentials:
        case errc::invalid_config:
            return exit_config;
        case errc::unauthorized:
        case errc::forbidden:
        case errc::token_request_failed:
            return exit_auth;
        case errc::not_found:
            return exit_not_found;
        case errc::timeout:
        case errc::proxy_refused:
            return exit_network;
        case errc::rate_limited:
        case errc::provider_unavailable:
        case errc::unexpected_status:
            return exit_provider;
        case errc::invalid_response:
        case errc::body_too_large:
        case errc::unsupported_encoding:
        case errc::inexact_amount:
        case errc::amount_out_of_range:
            return exit_decode;
        case errc::invalid_signature:
            return exit_signature;
        }
    }
    return exit_network; // Asio, SSL and Beast transport errors
}

// "not_found" for our codes, "tls" for OpenSSL's (whose numbers mean nothing to a reader; the
// diagnostics name the reason), "<category>:<value>" for other transport codes.
std::string error_name(error_code ec) {
    if (ec.category() == payouts::payouts_category())
        return boost::describe::enum_to_string(static_cast<payouts::errc>(ec.value()), "error");
    if (ec.category() == boost::asio::error::get_ssl_category() ||
        ec.category() == boost::asio::ssl::error::get_stream_category())
        return "tls";
    return std::string(ec.category().name()) + ":" + std::to_string(ec.value());
}

boost::json::object error_json(error_code ec, payouts::diagnostics const& d) {
    boost::json::object e{{"code", error_name(ec)}, {"message", ec.message()}};
    if (!d.message.empty()) e["detail"] = d.message;
    if (d.http_status) e["http_status"] = d.http_status;
    if (!d.provider_code.empty()) e["provider_code"] = d.provider_code;
    if (!d.provider_message.empty()) e["provider_message"] = d.provider_message;
    if (!d.request_id.empty()) e["request_id"] = d.request_id;
    if (d.attempts) e["attempts"] = d.attempts;
    return e;
}

// What went wrong in one line: the code's message and the diagnostics (a transport failure's
// diagnostics already say what its code says, and more).
std::string error_text(error_code ec, payouts::diagnostics const& d) {
    if (d.message.empty()) return ec.message();
    if (ec.category() == payouts::payouts_category()) return ec.message() + ": " + d.message;
    return d.message;
}

void print_error(error_code ec, payouts::diagnostics const& d, std::string const& label = {}) {
    std::cerr << "payouts: " << (label.empty() ? "" : label + ": ") << error_name(ec) << ": "
              << error_text(ec, d) << '\n';
    if (d.http_status) std::cerr << "  http status: " << d.http_status << '\n';
    if (!d.provider_code.empty() || !d.provider_message.empty())
        std::cerr << "  provider said: " << d.provider_code << ' ' << d.provider_message << '\n';
    if (!d.request_id.empty()) std::cerr << "  request id: " << d.request_id << '\n';
    if (d.attempts)
        std::cerr << "  attempts: " << d.attempts << ", " << d.elapsed.count() << " ms\n";
}

payouts::client_config load_config(options const& o) {
    payouts::diagnostics d;
    // --env stands in for PAYOUTS_ENVIRONMENT (which is then not read at all).
    payouts::env_lookup const lookup = [&](std::string const& name) -> std::optional<std::string> {
        if (o.env && name == "PAYOUTS_ENVIRONMENT")
            return *o.env == payouts::environment::production ? "production" : "sandbox";
        return payouts::process_environment(name);
    };
    auto r = [&]<class... Ps>(boost::mp11::mp_list<Ps...>) {
        return payouts::config_from_environment<Ps...>(d, lookup);
    }(payouts::all_providers{});
    if (!r) {
        print_error(r.error(), d);
        std::exit(exit_config);
    }
    return std::move(*r);
}

// Prints, for --verbose, what each attempt sent and got, each line naming its payout (several
// run at once). The library hands over the request with every credential's value already
// replaced by <redacted>, and the id percent-encoded.
void verbose_hook(payouts::client_config& cfg) {
    cfg.on_event = [](payouts::fetch_event const& e) {
        using k = payouts::fetch_event_kind;
        auto const who = std::string(e.provider) + ' ' + std::string(e.id);
        switch (e.kind) {
        case k::attempt_start:
            std::cerr << "> " << who << " attempt " << e.attempt << " to " << e.host << " at "
                      << e.elapsed.count() << " ms\n";
            break;
        case k::token_wait_end:
            std::cerr << "  " << who << " OAuth token from " << e.host << ": status "
                      << e.http_status;
            if (e.error) std::cerr << " (" << e.error.message() << ")";
            std::cerr << '\n';
            break;
        case k::attempt_end: {
            std::string_view req = e.request;
            while (!req.empty()) {
                auto const nl = req.find('\n');
                std::cerr << "  | " << req.substr(0, nl) << '\n';
                req.remove_prefix(nl == req.npos ? req.size() : nl + 1);
            }
            std::cerr << "< " << who << " attempt " << e.attempt << ": status " << e.http_status
                      << " in " << e.attempt_elapsed.count() << " ms";
            if (e.error) std::cerr << " (" << e.error.message() << ")";
            if (!e.rate_limit_remaining.empty())
                std::cerr << ", rate limit remaining " << e.rate_limit_remaining;
            std::cerr << '\n';
            break;
        }
        case k::retry_scheduled:
            std::cerr << "  retry in " << e.delay.count() << " ms\n";
            break;
        case k::decode_error:
            std::cerr << "  decode error: " << e.message << '\n';
            break;
        case k::watch_wait:
            std::cerr << "  " << who << " watch: next fetch in " << e.delay.count() << " ms\n";
            break;
        }
    };
}

template <class P>
std::optional<typename P::id_type> parse_id(std::string const& text) {
    using id_t = typename P::id_type;
    if constexpr (std::is_integral_v<id_t>) {
        id_t v{};
        auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
        return v;
    } else {
        return id_t(text);
    }
}

struct get_outcome {
    error_code ec;
    payouts::payout value;
    payouts::diagnostics diag;
};

// Every pair at once over one client; results land in `out` by position.
int run_get(options const& o) {
    std::vector<get_outcome> out(o.pairs.size());
    std::vector<std::function<void(payouts::client&)>> starts;
    for (std::size_t i = 0; i < o.pairs.size(); ++i) {
        auto const& [provider, text] = o.pairs[i];
        int bad = 0;
        boost::mp11::mp_for_each<payouts::all_providers>([&]<class P>(P) {
            if (P::name != provider) return;
            auto id = parse_id<P>(text);
            if (!id) {
                std::cerr << "payouts: invalid_id: " << P::name << " ids are integers\n";
                bad = 1;
                return;
            }
            starts.push_back([&r = out[i], id = std::move(*id)](payouts::client& cl) {
                payouts::fetch<P>(cl, id, r.diag, [&r](error_code ec, payouts::payout p) {
                    r.ec = ec;
                    r.value = std::move(p);
                });
            });
        });
        if (bad) return exit_usage;
    }
    auto cfg = load_config(o);
    if (o.verbose) verbose_hook(cfg);
    net::io_context ioc;
    payouts::client cl(ioc, std::move(cfg));
    for (auto& start : starts)
        start(cl);
    ioc.run();

    int rc = exit_ok;
    bool const several = out.size() > 1;
    boost::json::array docs;
    std::vector<std::vector<std::string>> rows;
    for (std::size_t i = 0; i < out.size(); ++i) {
        auto const& r = out[i];
        if (r.ec) {
            print_error(r.ec, r.diag,
                        several ? o.pairs[i].first + " " + o.pairs[i].second : std::string());
            if (rc == exit_ok) rc = exit_for(r.ec);
            docs.push_back(boost::json::object{{"provider", o.pairs[i].first},
                                               {"id", o.pairs[i].second},
                                               {"error", error_json(r.ec, r.diag)}});
        } else {
            docs.push_back(boost::json::value_from(r.value));
            rows.push_back(payouts_tools::payout_cells(r.value));
        }
    }
    if (o.format == "json") {
        if (several)
            std::cout << boost::json::serialize(docs) << '\n';
        else if (rc == exit_ok)
            std::cout << boost::json::serialize(docs[0]) << '\n';
    } else if (!rows.empty()) {
        payouts_tools::write_table(std::cout, payouts_tools::payout_columns(), std::move(rows));
    }
    return rc;
}

// One watched pair: what the command line gave, how to stop it, how it ended.
struct watched {
    std::string provider, id;
    net::cancellation_signal stop;
    std::optional<error_code> ec; // set when the watch completed
    payouts::payout last;
    payouts::diagnostics diag; // the watch's, at completion
};

// RFC 3339 in UTC with milliseconds, always three digits ("2026-12-07T03:41:07.120Z").
std::string utc_millis(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    auto const s = floor<seconds>(t);
    char ms[8];
    std::snprintf(ms, sizeof ms, ".%03d", int(duration_cast<milliseconds>(t - s).count()));
    auto text = payouts::format_rfc3339(s); // "...:07Z": the fraction goes before the Z
    text.insert(text.size() - 1, ms);
    return text;
}

// Writes one line per change as it is seen: table columns sized up front (every provider and
// id is known before the first line), or JSON Lines.
class change_printer {
public:
    explicit change_printer(std::string const& format)
        : jsonl_(format == "jsonl") {}

    void size_for(std::vector<watched> const& pairs) {
        for (auto const& x : pairs) {
            width_[1] = std::max(width_[1], x.provider.size());
            width_[2] = std::max(width_[2], x.id.size());
        }
    }

    void header() {
        if (jsonl_) return;
        row({"time", "provider", "id", "status", "provider_status", "amount"});
        row({std::string(width_[0], '-'), std::string(width_[1], '-'), std::string(width_[2], '-'),
             std::string(width_[3], '-'), std::string(width_[4], '-'), std::string(6, '-')});
    }

    void change(watched const& x, payouts::payout const& p) {
        auto const time = utc_millis(std::chrono::system_clock::now());
        std::string const status(payouts::to_string(p.status));
        if (jsonl_) {
            boost::json::object line{{"time", time},
                                     {"provider", x.provider},
                                     {"id", x.id},
                                     {"status", status},
                                     {"provider_status", p.provider_status},
                                     {"amount", nullptr},
                                     {"currency", nullptr}};
            if (p.amount) {
                line["amount"] = p.amount->to_decimal_string();
                line["currency"] = p.amount->currency;
            }
            std::cout << boost::json::serialize(line) << '\n';
        } else {
            row({time, x.provider, x.id, status, p.provider_status,
                 payouts_tools::detail::cell(p.amount)});
        }
        std::cout.flush(); // a watch is read as it happens, often through a pipe
    }

private:
    void row(std::array<std::string, 6> const& cells) {
        for (std::size_t i = 0; i < cells.size(); ++i) {
            std::cout << cells[i];
            if (i + 1 < cells.size())
                std::cout << std::string(std::max(width_[i], cells[i].size()) - cells[i].size() + 2,
                                         ' ');
        }
        std::cout << '\n';
    }

    bool jsonl_;
    // time, provider, id, status ("processing"), provider_status: the usual widest values.
    std::array<std::size_t, 5> width_{24, 8, 2, 10, 15};
};

// "payouts: druo trx_x: not_found: <what the code means>: <what the last attempt found>".
void print_watch_error(watched const& x) {
    std::string const& detail = x.diag.message;
    std::cerr << "payouts: " << x.provider << ' ' << x.id << ": " << error_name(*x.ec) << ": "
              << x.ec->message() << (detail.empty() ? "" : ": " + detail) << '\n';
}

// Every pair watched at once on one client; SIGINT and SIGTERM cancel them all.
int run_watch(options const& o) {
    std::vector<watched> pairs(o.pairs.size());
    payouts::watch_options opt;
    if (o.interval) {
        opt.first_interval = *o.interval;
        opt.max_interval = std::max(opt.max_interval, *o.interval);
    }
    if (o.max_interval) opt.max_interval = *o.max_interval;
    if (o.timeout) opt.deadline = *o.timeout;
    if (o.until) opt.terminal = *o.until;

    change_printer printer(o.format);
    std::size_t running = pairs.size();
    int stopped_by = 0;
    net::io_context ioc;
    net::signal_set signals(ioc, SIGINT, SIGTERM);

    std::vector<std::function<void(payouts::client&)>> starts;
    for (std::size_t i = 0; i < o.pairs.size(); ++i) {
        auto& x = pairs[i];
        std::tie(x.provider, x.id) = o.pairs[i];
        int bad = 0;
        boost::mp11::mp_for_each<payouts::all_providers>([&]<class P>(P) {
            if (P::name != x.provider) return;
            auto id = parse_id<P>(x.id);
            if (!id) {
                std::cerr << "payouts: invalid_id: " << P::name << " ids are integers\n";
                bad = 1;
                return;
            }
            auto done = [&x, &running, &signals, &stopped_by](error_code ec, payouts::payout p) {
                x.ec = ec;
                x.last = std::move(p);
                if (ec && !stopped_by) print_watch_error(x);
                if (--running == 0) signals.cancel(); // nothing else keeps run() going
            };
            starts.push_back([&x, &opt, &printer, done, id = std::move(*id)](payouts::client& cl) {
                payouts::watch<P>(
                    cl, id, opt, [&x, &printer](payouts::payout const& p) { printer.change(x, p); },
                    x.diag, net::bind_cancellation_slot(x.stop.slot(), done));
            });
        });
        if (bad) return exit_usage;
    }

    printer.size_for(pairs);
    auto cfg = load_config(o);
    if (o.verbose) verbose_hook(cfg);
    payouts::client cl(ioc, std::move(cfg));
    signals.async_wait([&](error_code ec, int sig) {
        if (ec) return;
        stopped_by = sig;
        for (auto& x : pairs)
            x.stop.emit(net::cancellation_type::terminal);
    });
    printer.header();
    for (auto& start : starts)
        start(cl);
    ioc.run();

    if (stopped_by) {
        std::cerr << "payouts: stopped by " << (stopped_by == SIGINT ? "SIGINT" : "SIGTERM")
                  << '\n';
        return 128 + stopped_by;
    }
    bool deadline_passed = false;
    for (auto const& x : pairs) {
        if (!x.ec) {
            std::cerr << "payouts: internal error: the watch of " << x.provider << ' ' << x.id
                      << " never completed\n";
            return exit_internal;
        }
        if (*x.ec == payouts::errc::timeout)
            deadline_passed = true;
        else if (*x.ec)
            return exit_for(*x.ec);
    }
    return deadline_passed ? exit_watch_deadline : exit_ok;
}

std::string csv_field(std::string_view s) {
    if (s.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(s);
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

// "[#####...] 12/40" on stderr, redrawn in place.
void draw_progress(std::size_t done, std::size_t total) {
    std::size_t const width = 40, filled = total ? done * width / total : width;
    std::fprintf(stderr, "\r[%s%s] %zu/%zu", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), done, total);
}

template <class P>
int run_batch(options const& o) {
    auto cfg = load_config(o);
    std::vector<std::string> lines;
    {
        std::ifstream file;
        if (o.target != "-") {
            file.open(o.target);
            if (!file) {
                std::cerr << "payouts: cannot read " << o.target << '\n';
                return exit_usage;
            }
        }
        std::istream& in = o.target == "-" ? std::cin : file;
        for (std::string line; std::getline(in, line);) {
            auto const b = line.find_first_not_of(" \t\r");
            if (b == std::string::npos) continue;
            auto const e = line.find_last_not_of(" \t\r");
            lines.push_back(line.substr(b, e - b + 1));
        }
    }
    // Ids that do not even parse are answered in place; the rest go to fetch_many.
    std::vector<typename P::id_type> ids;
    std::vector<std::size_t> input_of; // fetch_many index -> line index
    std::vector<bool> parsed(lines.size(), false);
    for (std::size_t i = 0; i < lines.size(); ++i)
        if (auto id = parse_id<P>(lines[i])) {
            ids.push_back(std::move(*id));
            input_of.push_back(i);
            parsed[i] = true;
        }

    std::map<std::string, std::size_t> by_status;
    std::size_t failures = 0, written = 0;
    bool const tty = ::isatty(2) == 1;
    if (o.format == "csv")
        std::cout << "id,ok,status,provider_status,amount,currency,reference,reason,created_at,"
                     "updated_at,error,detail\n";

    auto emit = [&](std::string const& text, error_code ec, payouts::payout const* p,
                    payouts::diagnostics const& d) {
        ++written;
        if (ec) {
            ++failures;
            ++by_status["error:" + error_name(ec)];
        } else {
            ++by_status[std::string(payouts::to_string(p->status))];
        }
        if (o.format == "jsonl") {
            boost::json::object line{{"id", text}, {"ok", !ec}};
            if (ec) {
                line["error"] = error_json(ec, d);
            } else {
                auto v = boost::json::value_from(*p);
                v.as_object().erase("raw");
                line["payout"] = std::move(v);
            }
            std::cout << boost::json::serialize(line) << '\n';
        } else {
            auto opt = [](auto const& o2) { return o2 ? payouts_tools::detail::cell(*o2) : ""; };
            std::cout << csv_field(text) << ',' << (ec ? "false" : "true") << ',';
            if (ec) {
                std::cout << ",,,,,,,," << csv_field(error_name(ec)) << ',' << csv_field(d.message)
                          << '\n';
            } else {
                std::cout << payouts::to_string(p->status) << ',' << csv_field(p->provider_status)
                          << ',' << (p->amount ? p->amount->to_decimal_string() : "") << ','
                          << (p->amount ? p->amount->currency : "") << ','
                          << csv_field(opt(p->reference)) << ',' << csv_field(opt(p->reason)) << ','
                          << opt(p->created_at) << ',' << opt(p->updated_at) << ",,\n";
            }
        }
        if (tty) draw_progress(written, lines.size());
    };
    std::size_t next_line = 0;
    auto emit_unparsed = [&](std::size_t line) {
        payouts::diagnostics d;
        d.message = std::string(P::name) + " ids are integers";
        emit(lines[line], payouts::errc::invalid_id, nullptr, d);
    };
    auto emit_unparsed_until = [&](std::size_t line) {
        for (; next_line < line; ++next_line)
            if (!parsed[next_line]) emit_unparsed(next_line);
    };

    net::io_context ioc;
    payouts::client cl(ioc, std::move(cfg));
    payouts::batch_options bo;
    bo.concurrency = o.concurrency;
    bool finished = false;
    payouts::fetch_many<P>(
        cl, std::move(ids), bo,
        [&](payouts::batch_result&& r) {
            std::size_t const line = input_of[r.index];
            emit_unparsed_until(line);
            emit(lines[line], r.ec, r.ec ? nullptr : &r.value, r.diag);
            next_line = line + 1;
        },
        [&](error_code) { finished = true; });
    ioc.run();
    // fetch_many answers every id; should it ever end without doing so, the ids left still get
    // their line (as failures) and the run fails, rather than losing them quietly.
    std::size_t unanswered = 0;
    for (; next_line < lines.size(); ++next_line) {
        if (!parsed[next_line]) {
            emit_unparsed(next_line);
            continue;
        }
        payouts::diagnostics d;
        d.message = "the batch ended before this id was answered";
        emit(lines[next_line], net::error::operation_aborted, nullptr, d);
        ++unanswered;
    }
    std::cout.flush();
    if (tty) std::fputc('\n', stderr);
    std::cerr << "summary: " << lines.size() << " ids";
    for (auto const& [k, n] : by_status)
        std::cerr << ", " << k << " " << n;
    std::cerr << '\n';
    if (!finished || unanswered) {
        std::cerr << "payouts: internal error: the batch ended with " << unanswered
                  << " ids unanswered\n";
        return exit_internal;
    }
    return failures ? exit_batch_failures : exit_ok;
}

// One ledger row: what it expects and, once known, what the provider said.
struct ledger_entry {
    std::size_t line = 0;
    std::string provider, id; // as written, for malformed rows too
    payouts_cli::expectation want;
    std::string malformed; // non-empty: the row could not be read
    bool done = false;
    error_code ec;
    payouts::diagnostics diag;
    std::optional<payouts::payout> actual;
    std::vector<payouts_cli::difference> differences;

    std::string_view result() const {
        if (!malformed.empty()) return "error";
        if (ec == payouts::errc::not_found) return "not_found";
        if (ec) return "error";
        return differences.empty() ? "match" : "mismatch";
    }
    std::string error_class() const { return malformed.empty() ? error_name(ec) : "malformed_row"; }
};

// "amount: expected 10.50, got 10.00; status: expected paid, got failed".
std::string differences_text(std::vector<payouts_cli::difference> const& ds) {
    std::string out;
    for (auto const& d : ds)
        out += (out.empty() ? "" : "; ") + d.field + ": expected " + d.expected + ", got " +
               (d.actual.empty() ? "none" : d.actual);
    return out;
}

void write_reconciled(ledger_entry const& e, bool jsonl) {
    // A malformed row's fields are not expectations: none is reported.
    payouts_cli::expectation const want = e.malformed.empty() ? e.want : payouts_cli::expectation{};
    auto const& p = e.actual;
    auto const amount = p && p->amount ? p->amount->to_decimal_string() : std::string();
    auto const currency = p && p->amount ? p->amount->currency : std::string();
    std::string const status = p ? std::string(payouts::to_string(p->status)) : std::string();
    std::string const expected_status =
        want.status ? std::string(payouts::to_string(*want.status)) : std::string();
    if (jsonl) {
        auto text_or_null = [](std::string const& s) -> boost::json::value {
            if (s.empty()) return nullptr;
            return boost::json::string(s);
        };
        boost::json::object line{
            {"line", e.line}, {"provider", e.provider}, {"id", e.id}, {"result", e.result()}};
        if (e.malformed.empty())
            line["expected"] =
                boost::json::object{{"amount", text_or_null(want.amount_text)},
                                    {"currency", text_or_null(want.currency.value_or(""))},
                                    {"status", text_or_null(expected_status)}};
        if (p)
            line["actual"] = boost::json::object{{"status", status},
                                                 {"provider_status", p->provider_status},
                                                 {"amount", text_or_null(amount)},
                                                 {"currency", text_or_null(currency)}};
        if (!e.differences.empty()) {
            boost::json::array ds;
            for (auto const& d : e.differences)
                ds.push_back(boost::json::object{{"field", d.field},
                                                 {"expected", d.expected},
                                                 {"actual", text_or_null(d.actual)}});
            line["differences"] = std::move(ds);
        }
        if (!e.malformed.empty())
            line["error"] =
                boost::json::object{{"code", "malformed_row"}, {"message", e.malformed}};
        else if (e.ec)
            line["error"] = error_json(e.ec, e.diag);
        std::cout << boost::json::serialize(line) << '\n';
        return;
    }
    std::string const detail = !e.malformed.empty() ? e.malformed
                               : e.ec               ? error_text(e.ec, e.diag)
                                                    : differences_text(e.differences);
    std::cout << e.line << ',' << csv_field(e.provider) << ',' << csv_field(e.id) << ','
              << e.result() << ','
              << (e.result() == "match" || e.result() == "mismatch" ? std::string()
                                                                    : csv_field(e.error_class()))
              << ',' << csv_field(detail) << ',' << csv_field(want.amount_text) << ',' << amount
              << ',' << want.currency.value_or("") << ',' << currency << ',' << expected_status
              << ',' << status << ',' << (p ? csv_field(p->provider_status) : std::string())
              << '\n';
}

// Fetches every payout a ledger names (once each, per provider through fetch_many) and writes
// one line per row in ledger order as soon as every row before it is settled.
int run_reconcile(options const& o) {
    std::string text;
    {
        std::ifstream file;
        if (o.target != "-") {
            file.open(o.target, std::ios::binary);
            if (!file) {
                std::cerr << "payouts: cannot read " << o.target << '\n';
                return exit_usage;
            }
        }
        std::ostringstream ss;
        ss << (o.target == "-" ? std::cin.rdbuf() : file.rdbuf());
        text = std::move(ss).str();
    }
    auto records = payouts_cli::read_csv(text);
    if (records.empty()) {
        std::cerr << "payouts: " << o.target
                  << ": the ledger is empty; its first line names the columns "
                     "(provider,id,amount,currency,status)\n";
        return exit_usage;
    }
    std::string header_error;
    auto const columns = payouts_cli::read_header(records[0], header_error);
    if (!header_error.empty()) {
        std::cerr << "payouts: " << o.target << " line " << records[0].line << ": " << header_error
                  << '\n';
        return exit_usage;
    }

    std::vector<ledger_entry> rows(records.size() - 1);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        auto const& rec = records[i + 1];
        auto& e = rows[i];
        e.line = rec.line;
        if (rec.error.empty() && rec.fields.size() == columns.count) {
            e.provider = rec.fields[*columns.at[0]];
            e.id = rec.fields[*columns.at[1]];
        }
        e.want = payouts_cli::read_row(rec, columns, e.malformed);
    }

    auto cfg = load_config(o);
    net::io_context ioc;
    payouts::client cl(ioc, std::move(cfg));
    payouts::batch_options bo;
    bo.concurrency = o.concurrency;
    std::size_t batches = 0, finished = 0;
    // A provider's ids, each once; rows_of[k] are the rows naming the k-th.
    boost::mp11::mp_for_each<payouts::all_providers>([&]<class P>(P) {
        std::vector<typename P::id_type> ids;
        std::vector<std::vector<std::size_t>> rows_of;
        std::map<typename P::id_type, std::size_t> seen;
        for (std::size_t i = 0; i < rows.size(); ++i) {
            auto& e = rows[i];
            if (!e.malformed.empty() || e.want.provider != P::name) continue;
            auto id = parse_id<P>(e.want.id);
            if (!id) {
                e.malformed = "id: " + std::string(P::name) + " ids are integers";
                continue;
            }
            auto [at, fresh] = seen.try_emplace(*id, ids.size());
            if (fresh) {
                ids.push_back(std::move(*id));
                rows_of.emplace_back();
            }
            rows_of[at->second].push_back(i);
        }
        if (ids.empty()) return;
        ++batches;
        payouts::fetch_many<P>(
            cl, std::move(ids), bo,
            [&rows, rows_of = std::move(rows_of)](payouts::batch_result&& r) {
                r.value.raw.clear(); // the ledger may be long; the bodies are not reported
                for (auto const i : rows_of[r.index]) {
                    auto& e = rows[i];
                    e.ec = r.ec;
                    e.diag = r.diag;
                    if (!r.ec) {
                        e.differences = payouts_cli::compare(e.want, r.value);
                        e.actual = r.value;
                    }
                    e.done = true;
                }
            },
            [&finished](error_code) { ++finished; });
    });
    for (auto& e : rows)
        if (!e.malformed.empty()) {
            e.done = true;
            std::cerr << "payouts: " << o.target << " line " << e.line << ": " << e.malformed
                      << '\n';
        }

    bool const tty = ::isatty(2) == 1;
    bool const jsonl = o.format == "jsonl";
    std::map<std::string_view, std::size_t> by_result{
        {"match", 0}, {"mismatch", 0}, {"not_found", 0}, {"error", 0}};
    std::size_t written = 0;
    auto flush = [&] {
        for (; written < rows.size() && rows[written].done; ++written) {
            write_reconciled(rows[written], jsonl);
            ++by_result[rows[written].result()];
            if (tty) draw_progress(written + 1, rows.size());
        }
    };
    if (!jsonl)
        std::cout << "line,provider,id,result,error,detail,expected_amount,actual_amount,"
                     "expected_currency,actual_currency,expected_status,actual_status,"
                     "actual_provider_status\n";
    flush();
    // Rows are written as the batches answer them: run one handler at a time and flush after.
    while (ioc.run_one())
        flush();
    // fetch_many answers every id; should it ever fail to, those rows still get their line.
    std::size_t unanswered = 0;
    for (auto& e : rows)
        if (!e.done) {
            ++unanswered;
            e.ec = net::error::operation_aborted;
            e.diag.message = "the fetches ended before this row was answered";
            e.done = true;
        }
    flush();
    std::cout.flush();
    if (tty) std::fputc('\n', stderr);
    std::cerr << "summary: " << rows.size() << " rows";
    for (auto const k : {"match", "mismatch", "not_found", "error"})
        std::cerr << ", " << k << ' ' << by_result[k];
    std::cerr << '\n';
    if (finished != batches || unanswered) {
        std::cerr << "payouts: internal error: the fetches ended with " << unanswered
                  << " rows unanswered\n";
        return exit_internal;
    }
    return by_result["match"] == rows.size() ? exit_ok : exit_batch_failures;
}

// "k1,k2" (a key rotation): the non-empty secrets, in order.
std::vector<std::string> split_secrets(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        auto const comma = text.find(',');
        if (auto const s = text.substr(0, comma); !s.empty()) out.emplace_back(s);
        text.remove_prefix(comma == std::string_view::npos ? text.size() : comma + 1);
    }
    return out;
}

// Verifies and decodes one webhook body from stdin. No network: nothing but the secrets is read
// from the environment.
template <class P>
int run_webhook(options const& o) {
    if constexpr (!payouts::webhook_provider<P>) {
        std::cerr << "payouts: " << P::name << " has no webhook decoding: " << P::webhook::why
                  << "; poll it with get or watch\n";
        return exit_usage;
    } else {
        auto const variable = payouts::detail::env_name(P::name, "WEBHOOK_SECRET");
        auto const secrets = split_secrets(payouts::process_environment(variable).value_or(""));
        if (secrets.empty()) {
            std::cerr << "payouts: missing_credentials: set " << variable
                      << " (comma-separated during a key rotation)\n";
            return exit_config;
        }
        std::ostringstream body;
        body << std::cin.rdbuf();
        std::vector<payouts::header> headers;
        for (auto const& [name, value] : o.headers)
            headers.emplace_back(name, value);
        std::vector<std::string_view> const keys(secrets.begin(), secrets.end());
        payouts::diagnostics diag;
        auto const text = std::move(body).str();
        auto ev = payouts::decode_webhook<P>(text, headers, keys, diag);
        if (!ev) {
            print_error(ev.error(), diag);
            return exit_for(ev.error());
        }
        if (o.format == "json") {
            auto payout = boost::json::value_from(ev->payout);
            std::cout << boost::json::serialize(boost::json::object{{"event_id", ev->event_id},
                                                                    {"event_type", ev->event_type},
                                                                    {"payout", std::move(payout)}})
                      << '\n';
        } else {
            std::cout << "event " << ev->event_type << ' ' << ev->event_id << "\n\n";
            payouts_tools::write_table(std::cout, payouts_tools::payout_columns(),
                                       {payouts_tools::payout_cells(ev->payout)});
        }
        return exit_ok;
    }
}

} // namespace

int main(int argc, char** argv) try {
    options const o = parse_args(argc, argv);
    if (o.command == "help") {
        std::cout << help_text;
        return exit_ok;
    }
    int rc = -1;
    boost::mp11::mp_for_each<payouts::all_providers>([&]<class P>(P) {
        if (o.command == "batch" && P::name == o.provider) rc = run_batch<P>(o);
        if (o.command == "webhook" && P::name == o.provider) rc = run_webhook<P>(o);
    });
    if (o.command == "get") rc = run_get(o);
    if (o.command == "watch") rc = run_watch(o);
    if (o.command == "reconcile") rc = run_reconcile(o);
    if (rc < 0) throw usage_error("unknown provider " + o.provider);
    return rc;
} catch (usage_error const& e) {
    std::cerr << "payouts: " << e.what() << "\n\n" << help_text;
    return exit_usage;
} catch (std::exception const& e) {
    std::cerr << "payouts: internal error: " << e.what() << '\n';
    return exit_internal;
}
