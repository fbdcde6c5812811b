// payouts-sandbox end to end: the built executable is started as a child process on a free
// port and spoken to over TLS (trusting the CA it prints, checking the host name) by a small
// Beast client. Only 127.0.0.1 is ever contacted. Every child is stopped and reaped at the end
// (and dies with this process if it crashes: PR_SET_PDEATHSIG).
#include <doctest/doctest.h>

#include <payouts/decode.hpp>
#include <payouts/providers/checkout.hpp>
#include <payouts/providers/druo.hpp>
#include <payouts/providers/introw.hpp>
#include <payouts/providers/truust.hpp>
#include <payouts/providers/yuno.hpp>

#if __has_include("sandbox_path.hpp")
#include "sandbox_path.hpp" // from tools/sandbox/meson.build, via sandbox_info_dep

#include "../tools/common/tls_certs.hpp"
#include "support/child_process.hpp"
#endif

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace json = boost::json;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using headers = std::vector<std::pair<std::string, std::string>>;

std::string sandbox_exe() {
    if (char const* e = std::getenv("PAYOUTS_SANDBOX_EXE"); e && *e) return e;
#ifdef PAYOUTS_SANDBOX_EXE
    return PAYOUTS_SANDBOX_EXE;
#else
    // <build>/tests/test_sandbox -> <build>/tools/sandbox/payouts-sandbox
    return (fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "tools" / "sandbox" /
            "payouts-sandbox")
        .string();
#endif
}

fs::path const data_dir = fs::path(PAYOUTS_SOURCE_DIR) / "tools" / "sandbox" / "data";
fs::path const fixtures_dir = PAYOUTS_FIXTURES_DIR;

std::string read_file(fs::path const& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

fs::path make_temp_dir() {
    std::string t = (fs::temp_directory_path() / "test-sandbox-XXXXXX").string();
    if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
    return t;
}

// Credentials given to the main sandbox: unusual values, so the log check means something.
std::map<std::string, std::string> const test_credentials{
    {"PAYOUTS_TRUUST_SECRET_KEY", "sk_stage_tEsT-truust-1b7c9e"},
    {"PAYOUTS_DRUO_ACCESS_TOKEN", "druo-static-tOkEn-5f2a61"},
    {"PAYOUTS_DRUO_CLIENT_ID", "druo-client-9d41"},
    {"PAYOUTS_DRUO_CLIENT_SECRET", "druo-client-sEcReT-77aa02"},
    {"PAYOUTS_CHECKOUT_SECRET_KEY", "sk_sbox_tEsTcheckoutkey3c8d5e"},
    {"PAYOUTS_CHECKOUT_CLIENT_ID", "ack_tEsTclient4411"},
    {"PAYOUTS_CHECKOUT_CLIENT_SECRET", "checkout-client-sEcReT-0e93bd"},
    {"PAYOUTS_YUNO_PUBLIC_API_KEY", "sandbox_pUbLiC-yuno-62f1"},
    {"PAYOUTS_YUNO_PRIVATE_SECRET_KEY", "sandbox_pRiVaTe-yuno-a93c"},
    {"PAYOUTS_INTROW_API_KEY", "introw-kEy-c0ffee-1234"},
};

// --- the child process ----------------------------------------------------------------------

class sandbox_process {
public:
    sandbox_process(std::vector<std::string> args, std::map<std::string, std::string> const& env)
        : log_dir_(make_temp_dir())
        , log_file_(log_dir_ / "sandbox.log")
        , child_(command(std::move(args)), env, log_dir_ / "out", log_file_) {
        auto lines = test_support::first_two_lines(log_dir_ / "out", 400);
        REQUIRE_MESSAGE(lines, "sandbox printed no base URL; log:\n" << log());
        base_url_ = std::move(lines->first);
        ca_file_ = std::move(lines->second);
        auto colon = base_url_.rfind(':');
        port_ = static_cast<std::uint16_t>(std::stoi(base_url_.substr(colon + 1)));
        tls_ = base_url_.starts_with("https://");
    }

    sandbox_process(sandbox_process const&) = delete;
    sandbox_process& operator=(sandbox_process const&) = delete;

    ~sandbox_process() {
        stop(SIGTERM);
        std::error_code ignored;
        fs::remove_all(log_dir_, ignored);
    }

    /// Sends `sig` and reaps the child (SIGKILL after 10 s); its exit code, -1 for death by a
    /// signal (or the earlier result).
    int stop(int sig = SIGTERM) { return child_.stop(sig); }

    std::string log() const { return test_support::slurp(log_file_); }

    std::string const& base_url() const { return base_url_; }
    std::string const& ca_file() const { return ca_file_; }
    std::uint16_t port() const { return port_; }
    bool tls() const { return tls_; }

private:
    static std::vector<std::string> command(std::vector<std::string> args) {
        std::string exe = sandbox_exe();
        REQUIRE_MESSAGE(fs::exists(exe), "payouts-sandbox not built at " << exe);
        args.insert(args.begin(), std::move(exe));
        return args;
    }

    fs::path log_dir_, log_file_;
    test_support::child_process child_;
    std::string base_url_, ca_file_;
    std::uint16_t port_ = 0;
    bool tls_ = true;
};

/// The sandbox most tests share: TLS, bundled data, the test credentials.
sandbox_process& main_sandbox() {
    static sandbox_process s({}, test_credentials);
    return s;
}

// --- a small client ---------------------------------------------------------------------------

struct request {
    request(std::string target, headers fields = {}, http::verb method = http::verb::get,
            std::string body = {})
        : target(std::move(target))
        , fields(std::move(fields))
        , method(method)
        , body(std::move(body)) {}
    std::string target;
    headers fields;
    http::verb method;
    std::string body;
};

struct response {
    response() = default;
    explicit response(boost::system::error_code e)
        : ec(e) {}

    boost::system::error_code ec; ///< connect, handshake, write or read failure
    unsigned status = 0;
    std::map<std::string, std::string> fields; ///< lower-case names
    std::string body;
    std::chrono::milliseconds elapsed{};

    bool has(std::string const& name) const { return fields.contains(name); }
    std::string field(std::string const& name) const {
        auto it = fields.find(name);
        return it == fields.end() ? std::string{} : it->second;
    }
    json::value json() const { return json::parse(body); }
};

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

/// Sends `requests` in order on ONE connection (fresh per call) and collects the responses;
/// stops at the first failure, which the last response records. `timeout` bounds the wait for
/// each response; connecting, the handshake and writing get `step_timeout`.
class client {
public:
    explicit client(sandbox_process const& s, std::string verify_host = "127.0.0.1")
        : port_(s.port())
        , tls_(s.tls())
        , verify_host_(std::move(verify_host)) {
        if (tls_) {
            ctx_.load_verify_file(s.ca_file());
            ctx_.set_verify_mode(ssl::verify_peer);
        }
    }

    std::vector<response> exchange(std::vector<request> const& requests,
                                   std::chrono::milliseconds timeout = 10s) {
        std::vector<response> out;
        asio::io_context ioc;
        if (tls_)
            asio::co_spawn(ioc, run_tls(ioc, requests, out, timeout), asio::detached);
        else
            asio::co_spawn(ioc, run_plain(ioc, requests, out, timeout), asio::detached);
        ioc.run();
        return out;
    }

    response get(request const& r, std::chrono::milliseconds timeout = 10s) {
        auto all = exchange({r}, timeout);
        return all.empty() ? response{} : all.back();
    }

private:
    template <class Stream>
    asio::awaitable<void> talk(Stream& stream, std::vector<request> const& requests,
                               std::vector<response>& out, std::chrono::milliseconds timeout) {
        beast::flat_buffer buffer;
        for (auto const& r : requests) {
            response resp;
            auto start = std::chrono::steady_clock::now();
            try {
                http::request<http::string_body> req{r.method, r.target, 11};
                req.set(http::field::host, "127.0.0.1:" + std::to_string(port_));
                for (auto const& [k, v] : r.fields)
                    req.set(k, v);
                if (r.method == http::verb::post) {
                    req.body() = r.body;
                    req.prepare_payload();
                }
                beast::get_lowest_layer(stream).expires_after(step_timeout);
                co_await http::async_write(stream, req, asio::use_awaitable);
                http::response_parser<http::string_body> parser;
                parser.body_limit(16 * 1024 * 1024);
                beast::get_lowest_layer(stream).expires_after(timeout);
                co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
                auto const& m = parser.get();
                resp.status = m.result_int();
                for (auto const& f : m)
                    resp.fields[lower(f.name_string())] = std::string(f.value());
                resp.body = m.body();
            } catch (boost::system::system_error const& e) {
                resp.ec = e.code();
            }
            resp.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start);
            bool failed = bool(resp.ec);
            out.push_back(std::move(resp));
            if (failed) co_return;
        }
    }

    asio::awaitable<void> run_tls(asio::io_context& ioc, std::vector<request> const& requests,
                                  std::vector<response>& out, std::chrono::milliseconds timeout) {
        beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx_);
        try {
            // The host name check (an IP address is matched against the IP SANs) and SNI.
            stream.set_verify_callback(ssl::host_name_verification(verify_host_));
            boost::system::error_code ec;
            asio::ip::make_address(verify_host_, ec);
            if (ec) SSL_set_tlsext_host_name(stream.native_handle(), verify_host_.c_str());
            beast::get_lowest_layer(stream).expires_after(step_timeout);
            co_await beast::get_lowest_layer(stream).async_connect(
                tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port_), asio::use_awaitable);
            co_await stream.async_handshake(ssl::stream_base::client, asio::use_awaitable);
        } catch (boost::system::system_error const& e) {
            out.push_back(response{e.code()});
            co_return;
        }
        co_await talk(stream, requests, out, timeout);
    }

    asio::awaitable<void> run_plain(asio::io_context& ioc, std::vector<request> const& requests,
                                    std::vector<response>& out, std::chrono::milliseconds timeout) {
        beast::tcp_stream stream(ioc);
        try {
            stream.expires_after(step_timeout);
            co_await stream.async_connect(
                tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port_), asio::use_awaitable);
        } catch (boost::system::system_error const& e) {
            out.push_back(response{e.code()});
            co_return;
        }
        co_await talk(stream, requests, out, timeout);
    }

    static constexpr std::chrono::seconds step_timeout{10};
    std::uint16_t port_;
    bool tls_;
    std::string verify_host_;
    ssl::context ctx_{ssl::context::tls_client};
};

// --- the five providers, as the tests see them ------------------------------------------------

struct provider_case {
    std::string name;
    std::string prefix, suffix; ///< path = prefix + id + suffix
    headers good;               ///< right credentials (and DRUO-Version)
    headers wrong;              ///< wrong credentials
    headers missing;            ///< no credentials (DRUO-Version kept)
    std::string known_id;
    std::string fixture; ///< the documented example the known id is a byte copy of
    std::string unknown_id;
    unsigned not_found_status;

    std::string path(std::string_view id) const { return prefix + std::string(id) + suffix; }
    request get(std::string_view id) const { return {path(id), good}; }
};

std::vector<provider_case> providers(std::map<std::string, std::string> const& c) {
    auto const at = [&](char const* k) { return c.at(k); };
    headers const druo_version{{"DRUO-Version", "2021-11-22"}};
    return {
        {"truust",
         "/truust/2.0/orders/",
         "/payout",
         {{"Authorization", "Bearer " + at("PAYOUTS_TRUUST_SECRET_KEY")},
          {"Accept", "application/json"}},
         {{"Authorization", "Bearer sk_stage_wrong"}},
         {},
         "456",
         "truust/get-order-payout-200-from-schema.json",
         "999999",
         404},
        {"druo",
         "/druo/payouts/",
         "",
         {{"Authorization", "Bearer " + at("PAYOUTS_DRUO_ACCESS_TOKEN")}, druo_version[0]},
         {{"Authorization", "Bearer wrong-token"}, druo_version[0]},
         druo_version,
         "trx_1f4dc72b-5b76-432c-8f4f-e0919aaff3f5",
         "druo/get-payout-200-successful.json",
         "trx_00000000-0000-4000-8000-000000000000",
         404},
        {"checkout",
         "/checkout/payments/",
         "",
         {{"Authorization", "Bearer " + at("PAYOUTS_CHECKOUT_SECRET_KEY")}},
         {{"Authorization", "Bearer sk_sbox_wrong"}},
         {},
         "pay_gwlowf7eap7uzm4cyaaqoq62au",
         "checkout/get-payout-200-returned-gbp.json",
         "pay_aaaaaaaaaaaaaaaaaaaaaaaaaa",
         404},
        {"yuno",
         "/yuno/v1/payouts/",
         "",
         {{"public-api-key", at("PAYOUTS_YUNO_PUBLIC_API_KEY")},
          {"private-secret-key", at("PAYOUTS_YUNO_PRIVATE_SECRET_KEY")}},
         {{"public-api-key", at("PAYOUTS_YUNO_PUBLIC_API_KEY")},
          {"private-secret-key", "sandbox_wrong"}},
         {},
         "1c58426d-2c1b-4476-b3c0-447a8c683466",
         "yuno/get-payout-200-succeeded-usd.json",
         "00000000-0000-4000-8000-000000000000",
         400},
        {"introw",
         "/introw/api/v1/payouts/",
         "",
         {{"x-api-key", at("PAYOUTS_INTROW_API_KEY")}},
         {{"x-api-key", "wrong-key"}},
         {},
         "pay_2x7n4q8z0w1a2b3c4d5e6f7g",
         "introw/get-payout-200-pending-review.json",
         "pay_000000000000000000000000",
         404},
    };
}

std::map<std::string, std::string> default_credentials() {
    return {{"PAYOUTS_TRUUST_SECRET_KEY", "sandbox_truust_secret"},
            {"PAYOUTS_DRUO_ACCESS_TOKEN", "sandbox_druo_access_token"},
            {"PAYOUTS_CHECKOUT_SECRET_KEY", "sandbox_checkout_secret_key"},
            {"PAYOUTS_YUNO_PUBLIC_API_KEY", "sandbox_yuno_public_api_key"},
            {"PAYOUTS_YUNO_PRIVATE_SECRET_KEY", "sandbox_yuno_private_secret_key"},
            {"PAYOUTS_INTROW_API_KEY", "sandbox_introw_api_key"}};
}

/// The provider's own error shape, as its documentation gives it.
void check_error_shape(std::string const& provider, response const& r, std::string_view code) {
    INFO(provider << " " << r.status << " " << r.body);
    if (provider == "checkout") {
        CHECK(r.body.empty());
        CHECK(!r.field("cko-request-id").empty());
        return;
    }
    CHECK(r.field("content-type") == "application/json");
    json::value v = r.json();
    if (provider == "truust") {
        CHECK(v.as_object().size() == 1);
        CHECK(v.at("message").is_string());
    } else if (provider == "druo") {
        auto const& e = v.at("errors").as_array().at(0);
        CHECK(e.at("category").is_string());
        if (!code.empty()) CHECK(e.at("code").as_string() == code);
    } else if (provider == "yuno") {
        CHECK(v.at("messages").as_array().at(0).is_string());
        if (!code.empty()) CHECK(v.at("code").as_string() == code);
    } else if (provider == "introw") {
        CHECK(v.as_object().size() == 1);
        CHECK(v.at("error").at("message").is_string());
        if (!code.empty()) CHECK(v.at("error").at("code").as_string() == code);
    }
}

/// The value at a JSON pointer where "*" means the LAST element of an array, or nullptr.
json::value const* at_pointer(json::value const& v, std::string_view pointer) {
    json::value const* cur = &v;
    while (!pointer.empty() && cur) {
        pointer.remove_prefix(1);
        std::string_view seg = pointer.substr(0, pointer.find('/'));
        pointer.remove_prefix(seg.size());
        if (seg == "*") {
            auto const* a = cur->if_array();
            cur = a && !a->empty() ? &a->back() : nullptr;
        } else if (auto const* o = cur->if_object()) {
            auto it = o->find(seg);
            cur = it == o->end() ? nullptr : &it->value();
        } else {
            cur = nullptr;
        }
    }
    return cur;
}

/// The stage files of the moving payout in `dir`, in order (0.json, 1.json, ...).
std::vector<fs::path> stage_files(fs::path const& dir) {
    std::vector<fs::path> out;
    for (std::size_t i = 0; fs::exists(dir / (std::to_string(i) + ".json")); ++i)
        out.push_back(dir / (std::to_string(i) + ".json"));
    return out;
}

/// Every body the bundled data has for a provider: the static files and every stage of every
/// moving payout.
std::vector<fs::path> bundled_bodies(std::string_view provider) {
    std::vector<fs::path> out;
    for (auto const& e : fs::directory_iterator(data_dir / std::string(provider))) {
        if (e.is_directory()) {
            auto stages = stage_files(e.path());
            REQUIRE_MESSAGE(!stages.empty(), e.path());
            out.insert(out.end(), stages.begin(), stages.end());
        } else if (e.path().extension() == ".json") {
            out.push_back(e.path());
        }
    }
    return out;
}

/// (status, qualifier) of every bundled payout of provider P, read as the client would.
template <class P>
std::set<std::pair<std::string, std::string>> bundled_statuses() {
    std::string_view status_ptr, qualifier_ptr;
    for (auto const& f : P::fields) {
        if (f.target == payouts::member::provider_status) status_ptr = f.pointer;
        if (f.target == payouts::member::status_qualifier) qualifier_ptr = f.pointer;
    }
    std::set<std::pair<std::string, std::string>> seen;
    for (auto const& path : bundled_bodies(P::name)) {
        fs::directory_entry const e(path);
        std::string body = read_file(e.path());
        std::string_view text = body;
        if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
        json::value doc = json::parse(text);
        json::value const* obj = at_pointer(doc, P::envelope);
        if (!obj && P::envelope_optional) obj = &doc;
        REQUIRE_MESSAGE(obj, e.path());
        json::value const* s = at_pointer(*obj, status_ptr);
        REQUIRE_MESSAGE((s && s->is_string()), e.path());
        std::string q;
        if (!qualifier_ptr.empty())
            if (auto const* qv = at_pointer(*obj, qualifier_ptr); qv && qv->is_string())
                q = std::string(qv->get_string());
        seen.emplace(std::string(s->get_string()), q);
    }
    return seen;
}

template <class P>
void check_every_status_covered() {
    auto seen = bundled_statuses<P>();
    for (auto const& entry : P::statuses) {
        bool found = false;
        for (auto const& [status, qualifier] : seen)
            found = found || (status == entry.wire &&
                              (entry.qualifier.empty() || qualifier == entry.qualifier));
        CHECK_MESSAGE(found, P::name << ": no bundled payout with status " << entry.wire
                                     << (entry.qualifier.empty() ? "" : " + ") << entry.qualifier);
    }
}

// --- moving payouts ---------------------------------------------------------------------------

/// A shipped moving payout pair: `id` steps per answer, `timed_id` per second.
struct moving_case {
    std::size_t provider; ///< index into providers()
    std::string id, timed_id;
    std::vector<std::string> statuses;           ///< the lifecycle, as the provider spells it
    std::vector<payouts::payout_status> unified; ///< what the library makes of each stage
};

std::vector<moving_case> moving_cases() {
    using enum payouts::payout_status;
    return {
        {0, "470", "471", {"CREATED", "CONFIRMED"}, {pending, paid}},
        {1,
         "trx_moving-1",
         "trx_moving-timed",
         {"PENDING", "PROCESSING", "SUCCESSFUL", "REVERSED"},
         {pending, processing, paid, returned}},
        {2,
         "pay_moving1",
         "pay_movingtimed",
         {"Pending", "Paid", "Returned"},
         {processing, paid, returned}},
        {3,
         "moving-1",
         "moving-timed",
         {"CREATED", "PENDING", "SUCCEEDED"},
         {pending, processing, paid}},
        {4,
         "pay_moving1",
         "pay_movingtimed",
         {"PENDING_REVIEW", "APPROVED", "SCHEDULED", "PENDING_PAYMENT", "PAID"},
         {pending, pending, pending, processing, paid}},
    };
}

boost::system::result<payouts::payout> decode_as(std::string_view provider, std::string_view body) {
    if (provider == "truust") return payouts::decode<payouts::Truust>(body);
    if (provider == "druo") return payouts::decode<payouts::Druo>(body);
    if (provider == "checkout") return payouts::decode<payouts::Checkout>(body);
    if (provider == "yuno") return payouts::decode<payouts::Yuno>(body);
    return payouts::decode<payouts::Introw>(body);
}

/// The provider status a response carries, as the library reads it; otherwise what went wrong.
std::string status_of(std::string_view provider, response const& r) {
    if (r.ec) return "error: " + r.ec.message();
    if (r.status != 200) return "HTTP " + std::to_string(r.status);
    auto p = decode_as(provider, r.body);
    return p.has_value() ? p->provider_status : "undecodable";
}

std::string join(std::vector<std::string> const& v) {
    std::string out;
    for (auto const& s : v)
        out += (out.empty() ? "" : " ") + s;
    return out;
}

fs::path moving_dir(std::string_view provider, std::string_view id) {
    return data_dir / std::string(provider) / std::string(id);
}

std::string stage_body(std::string_view provider, std::string_view id, std::size_t stage) {
    return read_file(moving_dir(provider, id) / (std::to_string(stage) + ".json"));
}

/// Runs `cmd` through the shell: its exit status (-1: killed) and its stdout.
std::pair<int, std::string> run_command(std::string const& cmd) {
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p);
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p))
        out.append(buf, n);
    int const st = ::pclose(p);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

/// Runs the sandbox on a --data directory that must be refused; its exit status and output.
std::pair<int, std::string> run_refused(fs::path const& data) {
    // `timeout`: should the sandbox start after all, the test fails instead of hanging.
    return run_command("timeout 30 '" + sandbox_exe() + "' --http --data '" + data.string() +
                       "' 2>&1");
}

} // namespace

// ------------------------------------------------------------------------------------------------

TEST_CASE("sandbox: --help lists every credential variable and its default") {
    auto const [status, out] = run_command(sandbox_exe() + " --help");
    CHECK(status == 0);
    for (auto const& name :
         {"PAYOUTS_TRUUST_SECRET_KEY", "PAYOUTS_DRUO_ACCESS_TOKEN", "PAYOUTS_DRUO_CLIENT_ID",
          "PAYOUTS_DRUO_CLIENT_SECRET", "PAYOUTS_CHECKOUT_SECRET_KEY", "PAYOUTS_CHECKOUT_CLIENT_ID",
          "PAYOUTS_CHECKOUT_CLIENT_SECRET", "PAYOUTS_YUNO_PUBLIC_API_KEY",
          "PAYOUTS_YUNO_PRIVATE_SECRET_KEY", "PAYOUTS_INTROW_API_KEY", "sandbox_truust_secret"})
        CHECK_MESSAGE(out.find(name) != std::string::npos, name);
}

TEST_CASE("sandbox: the bundled data covers every status of every provider's table") {
    check_every_status_covered<payouts::Truust>();
    check_every_status_covered<payouts::Druo>();
    check_every_status_covered<payouts::Checkout>();
    check_every_status_covered<payouts::Yuno>();
    check_every_status_covered<payouts::Introw>();

    // ...and Checkout also has statuses of non-payout payments, which the client must keep.
    bool non_payout = false;
    for (auto const& [status, q] : bundled_statuses<payouts::Checkout>()) {
        bool in_table = false;
        for (auto const& e : payouts::Checkout::statuses)
            in_table = in_table || e.wire == status;
        non_payout = non_payout || !in_table;
    }
    CHECK(non_payout);
}

TEST_CASE("sandbox: first lines are the base URL and the CA; TLS verifies for 127.0.0.1 and "
          "localhost only") {
    auto& s = main_sandbox();
    CHECK(s.base_url().starts_with("https://127.0.0.1:"));
    CHECK(s.port() != 0);
    CHECK(fs::exists(s.ca_file()));
    auto const t = providers(test_credentials).front();

    CHECK(client(s, "127.0.0.1").get(t.get(t.known_id)).status == 200);
    CHECK(client(s, "localhost").get(t.get(t.known_id)).status == 200); // with SNI

    response bad = client(s, "example.com").get(t.get(t.known_id));
    CHECK(bad.ec);
    CHECK(bad.status == 0);
}

TEST_CASE("sandbox: every provider serves its documented body for a known id") {
    auto& s = main_sandbox();
    client c(s);
    for (auto const& p : providers(test_credentials)) {
        INFO(p.name);
        response r = c.get(p.get(p.known_id));
        REQUIRE(!r.ec);
        CHECK(r.status == 200);
        CHECK(r.field("content-type") == "application/json");
        CHECK(r.body == read_file(fixtures_dir / p.fixture)); // the documented example, unedited
        if (p.name == "checkout") CHECK(!r.field("cko-request-id").empty());
        if (p.name == "introw") CHECK(r.field("x-ratelimit-limit-minute") == "600");
    }
}

TEST_CASE("sandbox: every bundled payout is served byte for byte") {
    auto& s = main_sandbox();
    for (auto const& p : providers(test_credentials)) {
        std::vector<request> all;
        std::vector<std::string> expected;
        for (auto const& e : fs::directory_iterator(data_dir / p.name)) {
            if (!e.is_regular_file()) continue; // moving payouts: their own tests below
            all.push_back(p.get(e.path().stem().string()));
            expected.push_back(read_file(e.path()));
        }
        auto got = client(s).exchange(all); // one keep-alive connection per provider
        REQUIRE(got.size() == all.size());
        for (std::size_t i = 0; i < got.size(); ++i) {
            INFO(all[i].target);
            CHECK(got[i].status == 200);
            CHECK(got[i].body == expected[i]);
        }
    }
}

TEST_CASE("sandbox: wrong or missing credentials get each provider's own 401") {
    auto& s = main_sandbox();
    client c(s);
    for (auto const& p : providers(test_credentials)) {
        for (auto const* creds : {&p.wrong, &p.missing}) {
            INFO(p.name << (creds == &p.wrong ? " wrong" : " missing"));
            response r = c.get({p.path(p.known_id), *creds});
            CHECK(r.status == 401);
            check_error_shape(p.name, r,
                              p.name == "druo"   ? "UNAUTHORIZED"
                              : p.name == "yuno" ? "INVALID_CREDENTIALS"
                                                 : "");
        }
    }
    // Exact bodies where the providers' documentation gives them.
    auto ps = providers(test_credentials);
    CHECK(c.get({ps[0].path("456"), ps[0].wrong}).body == R"({"message":"Unauthenticated."})");
    json::value druo = c.get({ps[1].path(ps[1].known_id), ps[1].wrong}).json();
    CHECK(druo.at("errors").at(0).at("category").as_string() == "AUTHORIZATION_ERROR");
    // Yuno wants both keys.
    CHECK(c.get({ps[3].path(ps[3].known_id), {ps[3].good[0]}}).status == 401);
    // A default credential is not accepted when the environment sets another.
    CHECK(c.get({ps[4].path(ps[4].known_id), {{"x-api-key", "sandbox_introw_api_key"}}}).status ==
          401);
}

TEST_CASE("sandbox: DRUO refuses a request without the right DRUO-Version") {
    auto& s = main_sandbox();
    client c(s);
    auto const p = providers(test_credentials)[1];
    headers no_version{p.good[0]};
    response r = c.get({p.path(p.known_id), no_version});
    CHECK(r.status == 400);
    json::value const body = r.json();
    auto const& e = body.at("errors").at(0);
    CHECK(e.at("code").as_string() == "MISSING_REQUIRED_PARAMETER");
    CHECK(e.at("field").as_string() == "DRUO-Version");

    headers old_version{p.good[0], {"DRUO-Version", "2020-01-01"}};
    response r2 = c.get({p.path(p.known_id), old_version});
    CHECK(r2.status == 400);
    CHECK(r2.json().at("errors").at(0).at("code").as_string() == "UNEXPECTED_VALUE");
}

TEST_CASE("sandbox: each provider's not-found, and the id validation errors") {
    auto& s = main_sandbox();
    client c(s);
    auto ps = providers(test_credentials);
    for (auto const& p : ps) {
        INFO(p.name);
        response r = c.get(p.get(p.unknown_id));
        CHECK(r.status == p.not_found_status);
        check_error_shape(p.name, r, p.name == "yuno" ? "NOT_FOUND" : "");
    }
    CHECK(c.get(ps[0].get("999999")).body == R"({"message":"Not found"})");
    CHECK(c.get(ps[0].get("not-a-number")).status == 404);
    CHECK(c.get(ps[2].get(ps[2].unknown_id)).body.empty());

    // Checkout: an id that cannot be a payment id is a 422 in Checkout's error shape.
    response cko = c.get(ps[2].get("foo"));
    CHECK(cko.status == 422);
    json::value v = cko.json();
    CHECK(v.at("error_type").as_string() == "request_invalid");
    CHECK(v.at("error_codes").at(0).is_string());
    CHECK(v.at("request_id").as_string() == cko.field("cko-request-id"));

    // Introw: a whitespace-only or empty id fails path validation with 422.
    for (std::string id : {"%20%20", "%09", ""}) {
        INFO("introw id '" << id << "'");
        response r = c.get(ps[4].get(id));
        CHECK(r.status == 422);
        check_error_shape("introw", r, "VALIDATION_ERROR");
    }

    // Unknown routes and methods.
    CHECK(c.get({"/nowhere", {}}).status == 404);
    response post = c.get({ps[0].path("456"), ps[0].good, http::verb::post, "{}"});
    CHECK(post.status == 405);
    CHECK(post.field("allow") == "GET");
}

TEST_CASE("sandbox: the DRUO and Checkout OAuth endpoints issue tokens that work") {
    auto& s = main_sandbox();
    client c(s);
    auto ps = providers(test_credentials);
    auto const& creds = test_credentials;

    SUBCASE("DRUO") {
        auto token_request = [&](std::string secret, std::string audience) {
            json::object body{{"client_id", creds.at("PAYOUTS_DRUO_CLIENT_ID")},
                              {"client_secret", secret},
                              {"audience", audience},
                              {"grant_type", "client_credentials"}};
            return request{"/druo-auth/oauth/token",
                           {{"Content-Type", "application/json"}},
                           http::verb::post,
                           json::serialize(body)};
        };
        response t = c.get(
            token_request(creds.at("PAYOUTS_DRUO_CLIENT_SECRET"), "https://druo-merchant-api.com"));
        REQUIRE(t.status == 200);
        json::value v = t.json();
        CHECK(v.at("token_type").as_string() == "Bearer");
        CHECK(v.at("expires_in").is_number());
        CHECK(v.at("scope").is_string());
        std::string token(v.at("access_token").as_string());

        headers with_token{{"Authorization", "Bearer " + token}, {"DRUO-Version", "2021-11-22"}};
        response r = c.get({ps[1].path(ps[1].known_id), with_token});
        CHECK(r.status == 200);
        CHECK(r.body == read_file(fixtures_dir / ps[1].fixture));
        // A DRUO token is not a Checkout token.
        CHECK(c.get({ps[2].path(ps[2].known_id), {{"Authorization", "Bearer " + token}}}).status ==
              401);

        CHECK(c.get(token_request("wrong", "https://druo-merchant-api.com")).status == 401);
        CHECK(c.get(token_request(creds.at("PAYOUTS_DRUO_CLIENT_SECRET"), "https://elsewhere"))
                  .status == 403);
        CHECK(c.get({"/druo-auth/oauth/token", {}, http::verb::post, "not json"}).status == 400);
    }
    SUBCASE("Checkout") {
        auto form = [&](std::string secret, std::string scope) {
            return request{"/checkout-access/connect/token",
                           {{"Content-Type", "application/x-www-form-urlencoded"}},
                           http::verb::post,
                           "grant_type=client_credentials&client_id=" +
                               creds.at("PAYOUTS_CHECKOUT_CLIENT_ID") + "&client_secret=" + secret +
                               "&scope=" + scope};
        };
        response t =
            c.get(form(creds.at("PAYOUTS_CHECKOUT_CLIENT_SECRET"), "gateway%3Apayment-details"));
        REQUIRE(t.status == 200);
        json::value v = t.json();
        CHECK(v.at("token_type").as_string() == "Bearer");
        CHECK(v.at("expires_in").is_number());
        std::string token(v.at("access_token").as_string());

        response r = c.get({ps[2].path(ps[2].known_id), {{"Authorization", "Bearer " + token}}});
        CHECK(r.status == 200);
        CHECK(r.body == read_file(fixtures_dir / ps[2].fixture));

        CHECK(c.get(form("wrong", "gateway")).json().at("error").as_string() == "invalid_client");
        CHECK(c.get(form(creds.at("PAYOUTS_CHECKOUT_CLIENT_SECRET"), "no-such-scope"))
                  .json()
                  .at("error")
                  .as_string() == "invalid_scope");
        // A token without a payments-read scope may not read payments.
        response vault = c.get(form(creds.at("PAYOUTS_CHECKOUT_CLIENT_SECRET"), "vault"));
        REQUIRE(vault.status == 200);
        std::string vault_token(vault.json().at("access_token").as_string());
        response denied =
            c.get({ps[2].path(ps[2].known_id), {{"Authorization", "Bearer " + vault_token}}});
        CHECK(denied.status == 403);
        CHECK(denied.body.empty());
    }
}

TEST_CASE("sandbox: faults by id prefix, seen from the client, for every provider") {
    auto& s = main_sandbox();
    client c(s);
    for (auto const& p : providers(test_credentials)) {
        INFO(p.name);
        std::string const expected = read_file(fixtures_dir / p.fixture);
        std::string const id = p.known_id;

        // 429 with Retry-After, n times, then the payout.
        auto rl = c.exchange(
            {p.get("ratelimit-2-" + id), p.get("ratelimit-2-" + id), p.get("ratelimit-2-" + id)});
        REQUIRE(rl.size() == 3);
        CHECK(rl[0].status == 429);
        CHECK(rl[0].field("retry-after") == "1");
        check_error_shape(p.name, rl[0], "");
        CHECK(rl[1].status == 429);
        CHECK(rl[2].status == 200);
        CHECK(rl[2].body == expected);

        // A burst of 503s, then the payout (fresh connections, same per-id counter).
        CHECK(c.get(p.get("flaky-2-" + id)).status == 503);
        response second = c.get(p.get("flaky-2-" + id));
        CHECK(second.status == 503);
        check_error_shape(p.name, second, "");
        CHECK(c.get(p.get("flaky-2-" + id)).body == expected);
        CHECK(c.get(p.get("flaky-2-" + id)).status == 200);

        // Latency.
        response slow = c.get(p.get("slow-250-" + id));
        CHECK(slow.status == 200);
        CHECK(slow.elapsed >= 250ms);
        CHECK(slow.body == expected);

        // Truncated body: Content-Length promises more than arrives, then the server closes.
        response cut = c.get(p.get("truncate-" + id));
        CHECK(cut.ec == http::error::partial_message);

        // Connection reset instead of an answer.
        response reset = c.get(p.get("reset-" + id));
        CHECK(reset.ec);
        CHECK(reset.status == 0);
        CHECK(reset.ec == asio::error::connection_reset);

        // Stall: no answer ever; the client's own timeout fires.
        response stall = c.get(p.get("stall-" + id), 300ms);
        CHECK(stall.ec == beast::error::timeout);
        CHECK(stall.elapsed >= 300ms);

        // Malformed JSON with a matching length.
        response bad = c.get(p.get("malformed-" + id));
        CHECK(bad.status == 200);
        CHECK(!bad.body.empty());
        CHECK(expected.starts_with(bad.body));
        boost::system::error_code jec;
        json::parse(bad.body, jec);
        CHECK(jec);

        // Oversized: 2 MiB, still the payout followed by white space.
        response big = c.get(p.get("oversized-" + id));
        CHECK(big.status == 200);
        CHECK(big.body.size() == 2 * 1024 * 1024);
        CHECK(big.body.starts_with(expected));

        // Tags make distinct ids with their own counters.
        CHECK(c.get(p.get("flaky-1-tag-a-" + id)).status == 503);
        CHECK(c.get(p.get("flaky-1-tag-b-" + id)).status == 503);
        CHECK(c.get(p.get("flaky-1-tag-a-" + id)).status == 200);
    }
}

TEST_CASE("sandbox: faults nest, and integer ids have a numeric fault form") {
    auto& s = main_sandbox();
    client c(s);
    auto const t = providers(test_credentials)[0];
    std::string const expected = read_file(fixtures_dir / t.fixture);

    // ratelimit outside flaky: 429, then 503, then the payout.
    CHECK(c.get(t.get("ratelimit-1-flaky-1-456")).status == 429);
    CHECK(c.get(t.get("ratelimit-1-flaky-1-456")).status == 503);
    CHECK(c.get(t.get("ratelimit-1-flaky-1-456")).status == 200);
    // slow outside a 404.
    response slow404 = c.get(t.get("slow-100-999999"));
    CHECK(slow404.status == 404);
    CHECK(slow404.elapsed >= 100ms);

    // 99 M PPPPP NNNNNNNNN: mode 4 (flaky) x2 for order 456, then mode 1 (slow) 150 ms.
    CHECK(c.get(t.get("99400002000000456")).status == 503);
    CHECK(c.get(t.get("99400002000000456")).status == 503);
    CHECK(c.get(t.get("99400002000000456")).body == expected);
    response slow = c.get(t.get("99100150000000456"));
    CHECK(slow.status == 200);
    CHECK(slow.elapsed >= 150ms);
    CHECK(c.get(t.get("99300001000000456")).field("retry-after") == "1");
    CHECK(c.get(t.get("99600000000000456")).ec == asio::error::connection_reset);
    CHECK(c.get(t.get("99000007000000456")).body == expected); // mode 0: a plain alias
}

TEST_CASE("sandbox: many requests held open at once are all answered") {
    auto& s = main_sandbox();
    auto const p = providers(test_credentials)[3];
    std::string const expected = read_file(fixtures_dir / p.fixture);
    // 50 connections, each held 300 ms by the server, answered together: one thread, no
    // blocking.
    std::vector<std::thread> threads;
    std::vector<response> results(50);
    auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < results.size(); ++i)
        threads.emplace_back(
            [&, i] { results[i] = client(s).get(p.get("slow-300-" + p.known_id)); });
    for (auto& t : threads)
        t.join();
    auto took = std::chrono::steady_clock::now() - start;
    for (auto const& r : results) {
        CHECK(r.status == 200);
        CHECK(r.body == expected);
    }
    CHECK(took < 3s);
}

TEST_CASE("sandbox: keep-alive serves many requests on one connection") {
    auto& s = main_sandbox();
    auto const p = providers(test_credentials)[1];
    std::vector<request> reqs(10, p.get(p.known_id));
    auto got = client(s).exchange(reqs);
    REQUIRE(got.size() == 10);
    for (auto const& r : got) {
        CHECK(r.status == 200);
        CHECK(!r.has("connection"));
    }
}

TEST_CASE("sandbox: Introw's per-minute budget, --close-after, --data, --http, --token-ttl") {
    fs::path dir = make_temp_dir();
    fs::create_directories(dir / "introw");
    fs::create_directories(dir / "truust");
    std::string const custom = "{\"data\":{\"id\":\"pay_mine\",\"stage\":\"PAID\"}}\n";
    std::ofstream(dir / "introw" / "pay_mine.json", std::ios::binary) << custom;
    std::ofstream(dir / "truust" / "1.json", std::ios::binary) << "{\"custom\":1}";

    sandbox_process s({"--http", "--data", dir.string(), "--introw-rate-limit", "3",
                       "--close-after", "2", "--token-ttl", "1"},
                      {{"PAYOUTS_DRUO_CLIENT_ID", "id"}, {"PAYOUTS_DRUO_CLIENT_SECRET", "secret"}});
    CHECK(s.base_url().starts_with("http://127.0.0.1:"));
    CHECK(s.ca_file() == "-");
    auto ps = providers(default_credentials());
    client c(s);

    SUBCASE("budget") {
        auto const& intr = ps[4];
        for (int i = 0; i < 3; ++i) {
            response r = c.get(intr.get("pay_mine"));
            CHECK(r.status == 200);
            CHECK(r.body == custom);
            CHECK(r.field("x-ratelimit-limit-minute") == "3");
            CHECK(r.field("x-ratelimit-remaining-minute") == std::to_string(2 - i));
        }
        response over = c.get(intr.get("pay_mine"));
        CHECK(over.status == 429);
        CHECK(over.field("x-ratelimit-remaining-minute") == "0");
        check_error_shape("introw", over, "RATE_LIMITED");
        // Other providers have their own (no) limits.
        CHECK(c.get(ps[0].get("1")).status == 200);
    }
    SUBCASE("--data replaces the bundled payouts") {
        CHECK(c.get(ps[0].get("1")).body == "{\"custom\":1}");
        CHECK(c.get(ps[0].get("456")).status == 404);
        CHECK(c.get(ps[1].get(ps[1].known_id)).status == 404); // no druo folder at all
    }
    SUBCASE("--close-after 2 closes the connection after two answers, unannounced") {
        auto got = c.exchange({ps[0].get("1"), ps[0].get("1"), ps[0].get("1")});
        REQUIRE(got.size() == 3);
        CHECK(got[0].status == 200);
        CHECK(got[1].status == 200);
        CHECK(!got[1].has("connection")); // it said keep-alive...
        CHECK(got[2].ec);                 // ...and closed anyway
    }
    SUBCASE("issued tokens expire after --token-ttl") {
        response t = c.get({"/druo-auth/oauth/token",
                            {{"Content-Type", "application/json"}},
                            http::verb::post,
                            R"({"client_id":"id","client_secret":"secret",)"
                            R"("audience":"https://druo-merchant-api.com",)"
                            R"("grant_type":"client_credentials"})"});
        REQUIRE(t.status == 200);
        CHECK(t.json().at("expires_in").as_int64() == 1);
        headers h{
            {"Authorization", "Bearer " + std::string(t.json().at("access_token").as_string())},
            {"DRUO-Version", "2021-11-22"}};
        CHECK(c.get({ps[1].path("x"), h}).status == 404); // accepted: not found, not 401
        std::this_thread::sleep_for(1100ms);
        CHECK(c.get({ps[1].path("x"), h}).status == 401);
    }

    CHECK(s.stop(SIGINT) == 0); // a clean exit
    fs::remove_all(dir);
}

TEST_CASE("sandbox: the request log names every request and never a credential; SIGTERM is a "
          "clean exit") {
    auto creds = test_credentials;
    sandbox_process s({}, creds);
    client c(s);
    std::vector<std::string> secrets;
    for (auto const& [k, v] : creds)
        secrets.push_back(v);

    for (auto const& p : providers(creds)) {
        CHECK(c.get(p.get(p.known_id)).status == 200);
        CHECK(c.get({p.path(p.known_id), p.wrong}).status == 401);
    }
    // Tokens issued (and their secrets sent) must not show up either; nor a query string.
    response druo = c.get(
        {"/druo-auth/oauth/token",
         {{"Content-Type", "application/json"}},
         http::verb::post,
         json::serialize(json::object{{"client_id", creds.at("PAYOUTS_DRUO_CLIENT_ID")},
                                      {"client_secret", creds.at("PAYOUTS_DRUO_CLIENT_SECRET")},
                                      {"audience", "https://druo-merchant-api.com"},
                                      {"grant_type", "client_credentials"}})});
    REQUIRE(druo.status == 200);
    secrets.emplace_back(druo.json().at("access_token").as_string());
    response cko =
        c.get({"/checkout-access/connect/token",
               {},
               http::verb::post,
               "grant_type=client_credentials&client_id=" + creds.at("PAYOUTS_CHECKOUT_CLIENT_ID") +
                   "&client_secret=" + creds.at("PAYOUTS_CHECKOUT_CLIENT_SECRET")});
    REQUIRE(cko.status == 200);
    secrets.emplace_back(cko.json().at("access_token").as_string());
    auto ps = providers(creds);
    CHECK(c.get({ps[4].path(ps[4].known_id) + "?api_key=querysecret-9911", ps[4].good}).status ==
          200);
    secrets.emplace_back("querysecret-9911");
    std::string const ca_dir = fs::path(s.ca_file()).parent_path().string();

    CHECK(s.stop(SIGTERM) == 0); // a clean exit
    CHECK(!fs::exists(ca_dir));  // the temporary state directory is gone

    std::string log = s.log();
    INFO(log);
    CHECK(log.find("GET /truust/2.0/orders/456/payout 200") != std::string::npos);
    CHECK(log.find("GET /yuno/v1/payouts/" + ps[3].known_id + " 401") != std::string::npos);
    CHECK(log.find("POST /druo-auth/oauth/token 200") != std::string::npos);
    CHECK(log.find("[redacted]") != std::string::npos);
    CHECK(log.find("stopping on SIGTERM") != std::string::npos);
    for (auto const& secret : secrets)
        CHECK_MESSAGE(log.find(secret) == std::string::npos, "log leaks " << secret);
    CHECK(log.find("Bearer") == std::string::npos);
}

TEST_CASE("sandbox: --cert, --key and --ca serve the given certificate and print the given CA") {
    auto const dir = make_temp_dir();
    auto const pki = payouts_tools::make_test_pki();
    auto const write = [&](char const* name, std::string const& text) {
        std::ofstream(dir / name, std::ios::binary) << text;
        return (dir / name).string();
    };
    auto const cert = write("leaf.pem", pki.leaf.cert_pem);
    auto const key = write("leaf-key.pem", pki.leaf.key_pem);
    auto const ca = write("ca.pem", pki.ca.cert_pem);
    {
        sandbox_process s({"--cert", cert, "--key", key, "--ca", ca, "--quiet"}, test_credentials);
        CHECK(s.ca_file() == ca); // line 2 is the CA given
        auto const t = providers(test_credentials).front();
        CHECK(client(s, "127.0.0.1").get(t.get(t.known_id)).status == 200);
        CHECK(read_file(ca) == pki.ca.cert_pem); // used, not replaced
    }
    {
        auto const other = payouts_tools::make_test_pki();
        auto const wrong_ca = write("other-ca.pem", other.ca.cert_pem);
        sandbox_process s({"--cert", cert, "--key", key, "--ca", wrong_ca, "--quiet"},
                          test_credentials);
        auto const t = providers(test_credentials).front();
        response r = client(s, "127.0.0.1").get(t.get(t.known_id));
        CHECK(r.ec); // the printed CA does not match the served certificate
        CHECK(r.status == 0);
    }
    std::error_code ignored;
    fs::remove_all(dir, ignored);
}

// --- moving payouts ---------------------------------------------------------------------------

TEST_CASE("sandbox: every stage of every moving payout decodes, along its provider's lifecycle") {
    for (auto const& mc : moving_cases()) {
        std::string const provider = providers(test_credentials)[mc.provider].name;
        for (auto const& [id, mode] :
             {std::pair{mc.id, "request"}, std::pair{mc.timed_id, "time"}}) {
            INFO(provider << " " << id);
            fs::path const dir = moving_dir(provider, id);
            json::value const steps = json::parse(read_file(dir / "steps.json"));
            CHECK(steps.at("advance").as_string() == mode);
            if (std::string_view(mode) == "request")
                CHECK(steps.at("every").as_int64() == 1);
            else
                CHECK(steps.at("every_ms").as_int64() == 1000);

            auto const files = stage_files(dir);
            REQUIRE(files.size() == mc.statuses.size());
            std::optional<payouts::payout> first;
            std::optional<payouts::timestamp> last_update;
            for (std::size_t i = 0; i < files.size(); ++i) {
                INFO(files[i]);
                std::string const body = read_file(files[i]);
                auto const p = decode_as(provider, body);
                REQUIRE(p.has_value());
                CHECK(p->provider_status == mc.statuses[i]);
                CHECK(p->status == mc.unified[i]);
                if (!first) first = *p;
                // One payout: same id, amount and creation time at every stage; time moves on.
                CHECK(p->id == first->id);
                if (provider != "truust") CHECK(p->id == id); // Truust's is the payout id
                CHECK(p->amount == first->amount);
                CHECK(p->created_at == first->created_at);
                if (p->updated_at) {
                    if (last_update) CHECK(*p->updated_at >= *last_update);
                    last_update = p->updated_at;
                }
            }
            if (provider != "checkout") CHECK(last_update); // Checkout has no update time
        }
    }
    // And every bundled body, static or a stage, is a payout to the library.
    for (auto const& p : providers(test_credentials))
        for (auto const& path : bundled_bodies(p.name)) {
            INFO(path);
            CHECK(decode_as(p.name, read_file(path)).has_value());
        }
}

TEST_CASE("sandbox: a request-stepped moving payout serves its stages in order, then keeps the "
          "last") {
    sandbox_process s({}, test_credentials); // fresh state
    auto const ps = providers(test_credentials);
    for (auto const& mc : moving_cases()) {
        auto const& p = ps[mc.provider];
        INFO(p.name << " " << mc.id);
        std::size_t const n = mc.statuses.size();
        auto got = client(s).exchange(std::vector<request>(n + 2, p.get(mc.id)));
        REQUIRE(got.size() == n + 2);
        std::vector<std::string> seen, expected = mc.statuses;
        expected.push_back(mc.statuses.back());
        expected.push_back(mc.statuses.back());
        for (std::size_t i = 0; i < got.size(); ++i) {
            seen.push_back(status_of(p.name, got[i]));
            CHECK(got[i].body == stage_body(p.name, mc.id, std::min(i, n - 1)));
            CHECK(got[i].field("content-type") == "application/json");
        }
        CHECK(join(seen) == join(expected));
        // The state is the id's, not the connection's.
        CHECK(status_of(p.name, client(s).get(p.get(mc.id))) == mc.statuses.back());
    }
}

TEST_CASE("sandbox: only answers that serve a moving payout advance it") {
    sandbox_process s({}, test_credentials);
    auto const ps = providers(test_credentials);
    client c(s);
    for (auto const& mc : moving_cases()) {
        auto const& p = ps[mc.provider];
        INFO(p.name << " " << mc.id);
        std::string const& id = mc.id;
        // Refused, faulted and unknown requests first...
        CHECK(c.get({p.path(id), p.wrong}).status == 401);
        CHECK(c.get({p.path(id), p.missing}).status == 401);
        CHECK(c.get(p.get(p.unknown_id)).status == p.not_found_status);
        CHECK(c.get({p.prefix + id + "/x" + p.suffix, p.good}).status == 404); // no such route
        if (p.name == "druo") CHECK(c.get({p.path(id), {p.good[0]}}).status == 400);
        // Body faults show the current stage but do not count: malformed- stays at stage 0.
        for (int i = 0; i < 3; ++i) {
            response bad = c.get(p.get("malformed-" + id));
            CHECK(bad.status == 200);
            std::string const stage0 = stage_body(p.name, id, 0);
            CHECK(bad.body == stage0.substr(0, stage0.size() / 2));
        }
        CHECK(c.get(p.get("truncate-" + id)).ec == http::error::partial_message);
        // ...then the payout starts at its first stage.
        CHECK(status_of(p.name, c.get(p.get(id))) == mc.statuses[0]);
        CHECK(status_of(p.name, c.get({p.path(id), p.wrong})) == "HTTP 401");
        CHECK(status_of(p.name, c.get(p.get(id))) == mc.statuses[1]);

        // flaky-1-<id>: its own lifecycle, behind one 503 that does not count.
        CHECK(c.get(p.get("flaky-1-" + id)).status == 503);
        CHECK(status_of(p.name, c.get(p.get("flaky-1-" + id))) == mc.statuses[0]);
        CHECK(status_of(p.name, c.get(p.get("flaky-1-" + id))) == mc.statuses[1]);
        // ratelimit- likewise; slow- answers count (they serve the payout, late).
        CHECK(c.get(p.get("ratelimit-2-" + id)).status == 429);
        CHECK(c.get(p.get("ratelimit-2-" + id)).status == 429);
        CHECK(status_of(p.name, c.get(p.get("ratelimit-2-" + id))) == mc.statuses[0]);
        CHECK(status_of(p.name, c.get(p.get("slow-50-" + id))) == mc.statuses[0]);
        CHECK(status_of(p.name, c.get(p.get("slow-50-" + id))) == mc.statuses[1]);
        // stall- and reset- never answer, so they cannot count either.
        CHECK(c.get(p.get("reset-" + id)).ec);
    }
    // Truust's numeric fault form: 99 4 00001 000000470 is flaky-1-470, with its own state.
    auto const& t = ps[0];
    CHECK(c.get(t.get("99400001000000470")).status == 503);
    CHECK(status_of("truust", c.get(t.get("99400001000000470"))) == "CREATED");
    CHECK(status_of("truust", c.get(t.get("99400001000000470"))) == "CONFIRMED");
}

TEST_CASE("sandbox: tag- prefixes (and Truust's numeric aliases) give a moving payout a fresh "
          "lifecycle") {
    sandbox_process s({}, test_credentials);
    auto const ps = providers(test_credentials);
    client c(s);
    for (auto const& mc : moving_cases()) {
        auto const& p = ps[mc.provider];
        INFO(p.name << " " << mc.id);
        for (std::size_t i = 0; i < mc.statuses.size(); ++i)
            CHECK(status_of(p.name, c.get(p.get(mc.id))) == mc.statuses[i]);
        CHECK(status_of(p.name, c.get(p.get("tag-a-" + mc.id))) == mc.statuses[0]);
        CHECK(status_of(p.name, c.get(p.get("tag-b-" + mc.id))) == mc.statuses[0]);
        CHECK(status_of(p.name, c.get(p.get("tag-a-" + mc.id))) == mc.statuses[1]);
        CHECK(status_of(p.name, c.get(p.get(mc.id))) == mc.statuses.back());
    }
    // 99 0 PPPPP 000000470: mode 0 is a plain alias; each parameter is a fresh id.
    auto const& t = ps[0];
    CHECK(status_of("truust", c.get(t.get("99000001000000470"))) == "CREATED");
    CHECK(status_of("truust", c.get(t.get("99000002000000470"))) == "CREATED");
    CHECK(status_of("truust", c.get(t.get("99000001000000470"))) == "CONFIRMED");
}

TEST_CASE("sandbox: a timed moving payout advances with time, in lifecycle order") {
    sandbox_process s({"--quiet"}, test_credentials);
    auto const ps = providers(test_credentials);
    auto const cases = moving_cases();
    // Every timed payout is polled until it shows its last stage (1 s per stage; the cap is
    // generous for loaded or sanitized builds). Never a duration assertion.
    std::vector<std::vector<std::size_t>> seen(cases.size());
    auto const deadline = std::chrono::steady_clock::now() + 60s;
    auto done = [&](std::size_t i) {
        return !seen[i].empty() && seen[i].back() == cases[i].statuses.size() - 1;
    };
    for (;;) {
        std::vector<request> round;
        std::vector<std::size_t> which;
        for (std::size_t i = 0; i < cases.size(); ++i)
            if (!done(i)) {
                round.push_back(ps[cases[i].provider].get(cases[i].timed_id));
                which.push_back(i);
            }
        if (round.empty() || std::chrono::steady_clock::now() > deadline) break;
        auto got = client(s).exchange(round);
        REQUIRE(got.size() == round.size());
        for (std::size_t k = 0; k < got.size(); ++k) {
            auto const& mc = cases[which[k]];
            std::string const name = ps[mc.provider].name;
            std::string const status = status_of(name, got[k]);
            auto const it = std::find(mc.statuses.begin(), mc.statuses.end(), status);
            REQUIRE_MESSAGE(it != mc.statuses.end(), name << " served " << status);
            std::size_t const stage = static_cast<std::size_t>(it - mc.statuses.begin());
            CHECK(got[k].body == stage_body(name, mc.timed_id, stage));
            seen[which[k]].push_back(stage);
        }
        std::this_thread::sleep_for(50ms); // polling pace, not a wait for an outcome
    }
    for (std::size_t i = 0; i < cases.size(); ++i) {
        auto const& mc = cases[i];
        INFO(ps[mc.provider].name << " " << mc.timed_id);
        REQUIRE(!seen[i].empty());
        CHECK(seen[i].front() == 0);                           // the first answer starts the clock
        CHECK(std::is_sorted(seen[i].begin(), seen[i].end())); // never backwards
        CHECK(done(i));                                        // and it got to the end
        // The last stage is kept; a tag- is a fresh clock.
        auto const& p = ps[mc.provider];
        CHECK(status_of(p.name, client(s).get(p.get(mc.timed_id))) == mc.statuses.back());
        CHECK(status_of(p.name, client(s).get(p.get("tag-late-" + mc.timed_id))) ==
              mc.statuses.front());
    }
}

TEST_CASE("sandbox: --data serves moving payouts, with their own steps") {
    fs::path dir = make_temp_dir();
    fs::path const m = dir / "introw" / "pay_mine";
    fs::create_directories(m);
    std::ofstream(m / "steps.json") << R"({"advance": "request", "every": 2})";
    std::string const a = "{\"data\":{\"id\":\"pay_mine\",\"stage\":\"APPROVED\"}}\n";
    std::string const b = "not json at all";
    std::ofstream(m / "0.json", std::ios::binary) << a;
    std::ofstream(m / "1.json", std::ios::binary) << b;
    std::ofstream(m / "notes.txt") << "ignored: not .json";

    sandbox_process s({"--http", "--data", dir.string()}, {});
    auto const p = providers(default_credentials())[4];
    auto got = client(s).exchange(std::vector<request>(5, p.get("pay_mine")));
    REQUIRE(got.size() == 5);
    std::vector<std::string> const expected{a, a, b, b, b}; // every 2: two answers per stage
    for (std::size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].status == 200);
        CHECK(got[i].body == expected[i]);
    }
    CHECK(s.stop(SIGTERM) == 0);
    std::string const log = s.log();
    INFO(log);
    // A stage that is not JSON is served anyway, with the warning static files get.
    CHECK(log.find((m / "1.json").string() + " is not valid JSON") != std::string::npos);
    CHECK(log.find("stage=1") != std::string::npos);
    fs::remove_all(dir);
}

TEST_CASE("sandbox: a malformed moving payout is refused at start, naming the file") {
    struct bad_case {
        std::string what;
        std::map<std::string, std::string> files; ///< relative to <dir>/druo/trx_bad/
        std::string named;                        ///< the file the message must name
        std::string says;
    };
    std::string const ok_steps = R"({"advance": "request", "every": 1})";
    std::string const body = R"({"payout":{"uuid":"trx_bad","status":"PENDING"}})";
    std::vector<bad_case> const cases{
        {"steps.json not JSON",
         {{"steps.json", "{advance: request"}, {"0.json", body}},
         "steps.json",
         "not valid JSON"},
        {"steps.json not an object",
         {{"steps.json", "[1]"}, {"0.json", body}},
         "steps.json",
         "not a JSON object"},
        {"unknown advance",
         {{"steps.json", R"({"advance": "sometimes"})"}, {"0.json", body}},
         "steps.json",
         R"("advance" must be "request" or "time")"},
        {"time without every_ms",
         {{"steps.json", R"({"advance": "time"})"}, {"0.json", body}},
         "steps.json",
         "every_ms"},
        {"every 0",
         {{"steps.json", R"({"advance": "request", "every": 0})"}, {"0.json", body}},
         "steps.json",
         R"("every" must be a positive integer)"},
        {"every 1.5",
         {{"steps.json", R"({"advance": "request", "every": 1.5})"}, {"0.json", body}},
         "steps.json",
         R"("every" must be a positive integer)"},
        {"a key of the other mode",
         {{"steps.json", R"({"advance": "request", "every_ms": 1000})"}, {"0.json", body}},
         "steps.json",
         R"(unexpected key "every_ms")"},
        {"no steps.json", {{"0.json", body}}, "steps.json", "missing"},
        {"no 0.json", {{"steps.json", ok_steps}, {"1.json", body}}, "0.json", "missing"},
        {"no stages at all", {{"steps.json", ok_steps}}, "0.json", "missing"},
        {"a gap",
         {{"steps.json", ok_steps}, {"0.json", body}, {"1.json", body}, {"3.json", body}},
         "2.json",
         "without gaps"},
        {"not a stage name",
         {{"steps.json", ok_steps}, {"0.json", body}, {"01.json", body}},
         "01.json",
         "not a stage file"},
    };
    for (auto const& bc : cases) {
        INFO(bc.what);
        fs::path const dir = make_temp_dir();
        fs::path const m = dir / "druo" / "trx_bad";
        fs::create_directories(m);
        for (auto const& [name, text] : bc.files)
            std::ofstream(m / name, std::ios::binary) << text;
        auto const [status, out] = run_refused(dir);
        INFO(out);
        CHECK(status == 1);
        CHECK(out.find((m / bc.named).string() + ": ") != std::string::npos);
        CHECK(out.find(bc.says) != std::string::npos);
        fs::remove_all(dir);
    }
    // A moving payout and a static file with the same id: which would answer is ambiguous.
    fs::path const dir = make_temp_dir();
    fs::create_directories(dir / "yuno" / "p1");
    std::ofstream(dir / "yuno" / "p1" / "steps.json") << ok_steps;
    std::ofstream(dir / "yuno" / "p1" / "0.json") << "{}";
    std::ofstream(dir / "yuno" / "p1.json") << "{}";
    auto const [status, out] = run_refused(dir);
    INFO(out);
    CHECK(status == 1);
    CHECK(out.find((dir / "yuno" / "p1.json").string() + ": ") != std::string::npos);
    fs::remove_all(dir);
}
