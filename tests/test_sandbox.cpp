// payouts-sandbox end to end: the built executable is started as a child process on a free
// port and spoken to over TLS (trusting the CA it prints, checking the host name) by a small
// Beast client. Only 127.0.0.1 is ever contacted. Every child is stopped and reaped at the end
// (and dies with this process if it crashes: PR_SET_PDEATHSIG).
#include <doctest/doctest.h>

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
#include <unistd.h>

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

/// (status, qualifier) of every bundled payout of provider P, read as the client would.
template <class P>
std::set<std::pair<std::string, std::string>> bundled_statuses() {
    std::string_view status_ptr, qualifier_ptr;
    for (auto const& f : P::fields) {
        if (f.target == payouts::member::provider_status) status_ptr = f.pointer;
        if (f.target == payouts::member::status_qualifier) qualifier_ptr = f.pointer;
    }
    std::set<std::pair<std::string, std::string>> seen;
    for (auto const& e : fs::directory_iterator(data_dir / std::string(P::name))) {
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

} // namespace

// ------------------------------------------------------------------------------------------------

TEST_CASE("sandbox: --help lists every credential variable and its default") {
    std::string cmd = sandbox_exe() + " --help";
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p);
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p))
        out.append(buf, n);
    CHECK(::pclose(p) == 0);
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
