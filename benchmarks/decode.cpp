// bench_decode: payouts::decode<P> beside the ways a user would otherwise read the same
// Get-Payout body, all timed in one run so every number sits next to its baseline.
//
//   bench_decode [--seconds S] [--reps N] [--wall]
//                                            the tables (default: 30 s, 15 samples per cell,
//                                            timed in the thread's CPU time; --wall: wall time)
//   bench_decode --smoke                     the same tables in about one second (CI)
//   bench_decode --only IMPL --body NAME --iterations N
//                                            N calls of one implementation on one body and
//                                            nothing else, for instruction counts under
//                                            callgrind (see benchmarks/callgrind-decode)
//   bench_decode --list                      the implementation and body names
//
// Implementations, each handed the body as a std::string_view and returning a digest of what it
// produced (so the optimiser must do the work):
//   decode       payouts::decode<P>(body): the unified payout, exact amount, times, raw copy
//   dom          boost::json::parse(body) alone, default allocator
//   dom_reuse    a reused boost::json::parser over a monotonic_resource on a stack buffer: the
//                fastest way to build a Boost.JSON DOM
//   value_to     boost::json::parse + a tolerant Boost.Describe walk that value_to's each field
//                into a described struct of the provider's payout fields
//   nlohmann     nlohmann::json::parse + the same walk with get_to (when nlohmann_json is found)
//   null_handler boost::json::basic_parser with a handler that does nothing: the tokenizer's floor
#include "common.hpp"

#include <payouts/decode.hpp>
#include <payouts/providers/checkout.hpp>
#include <payouts/providers/druo.hpp>
#include <payouts/providers/introw.hpp>
#include <payouts/providers/truust.hpp>
#include <payouts/providers/yuno.hpp>

#include <boost/describe/class.hpp>
#include <boost/describe/members.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_to.hpp>
#include <boost/mp11/algorithm.hpp>
#include <boost/version.hpp>

#if PAYOUTS_BENCH_NLOHMANN
#include <nlohmann/json.hpp>
#endif

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#ifndef PAYOUTS_FIXTURES_DIR
#error "PAYOUTS_FIXTURES_DIR must name tests/fixtures (benchmarks/meson.build defines it)"
#endif
#ifndef PAYOUTS_BENCH_BUILDTYPE
#define PAYOUTS_BENCH_BUILDTYPE "unknown"
#endif

namespace {

using bench::load_average;
using bench::median;

// ---------------------------------------------------------------------------------------------
// Keeping the optimiser honest.

// Tells the compiler that `p` (and all memory) may be read and written here, so work on the
// body can be neither hoisted out of a loop nor dropped.
inline void escape(void const* p) {
    asm volatile("" : : "g"(p) : "memory");
}

// ---------------------------------------------------------------------------------------------
// The baselines' target types: each provider's payout fields as a described struct, the way a
// user without this library would write them. Times stay text, amounts are what the JSON type
// suggests (Yuno's value a double), statuses the raw string — the baselines do less than decode.

struct truust_payout {
    std::int64_t id = 0;
    std::string status;
    std::optional<std::string> reference;
    std::optional<std::string> created_at;
    std::optional<std::string> confirmed_at;
    std::optional<std::string> denied_at;
};
BOOST_DESCRIBE_STRUCT(truust_payout, (),
                      (id, status, reference, created_at, confirmed_at, denied_at))

struct druo_currency {
    std::string code;
};
BOOST_DESCRIBE_STRUCT(druo_currency, (), (code))

struct druo_payout {
    std::string uuid;
    std::string status;
    std::int64_t amount = 0;
    druo_currency currency;
    std::optional<std::string> primary_reference;
    std::optional<std::string> decline_reason;
    std::optional<std::string> remarks;
    std::optional<std::string> date_created_gmt;
    std::optional<std::string> date_updated_gmt;
};
BOOST_DESCRIBE_STRUCT(druo_payout, (),
                      (uuid, status, amount, currency, primary_reference, decline_reason, remarks,
                       date_created_gmt, date_updated_gmt))

struct checkout_payout {
    std::string id;
    std::string status;
    std::int64_t amount = 0;
    std::string currency;
    std::optional<std::string> reference;
    std::optional<std::string> response_summary;
    std::optional<std::string> requested_on;
};
BOOST_DESCRIBE_STRUCT(checkout_payout, (),
                      (id, status, amount, currency, reference, response_summary, requested_on))

struct yuno_amount {
    double value = 0;
    std::string currency;
};
BOOST_DESCRIBE_STRUCT(yuno_amount, (), (value, currency))

struct yuno_provider_data {
    std::optional<std::string> status_detail;
};
BOOST_DESCRIBE_STRUCT(yuno_provider_data, (), (status_detail))

struct yuno_transaction {
    std::optional<std::string> response_code;
    std::optional<yuno_provider_data> provider_data;
};
BOOST_DESCRIBE_STRUCT(yuno_transaction, (), (response_code, provider_data))

struct yuno_payout {
    std::string id;
    std::string status;
    yuno_amount amount;
    std::optional<std::string> merchant_reference;
    std::optional<std::string> created_at;
    std::optional<std::string> updated_at;
    std::vector<yuno_transaction> transactions;
};
BOOST_DESCRIBE_STRUCT(yuno_payout, (),
                      (id, status, amount, merchant_reference, created_at, updated_at,
                       transactions))

struct introw_amount {
    std::string value;
    std::string currency;
};
BOOST_DESCRIBE_STRUCT(introw_amount, (), (value, currency))

struct introw_payout {
    std::string id;
    std::string stage;
    introw_amount amount;
    std::optional<std::string> poNumber; // NOLINT: the wire's name
    std::optional<std::string> createdAt;
    std::optional<std::string> updatedAt;
};
BOOST_DESCRIBE_STRUCT(introw_payout, (), (id, stage, amount, poNumber, createdAt, updatedAt))

// Per provider: the struct, the envelope key holding the payout object, and the id and status
// as text (for the cross-check before timing).
template <class P>
struct wire;

template <>
struct wire<payouts::Truust> {
    using type = truust_payout;
    static constexpr std::string_view envelope = "data";
    static constexpr bool envelope_optional = true;
    static std::string id(type const& p) { return std::to_string(p.id); }
    static std::string status(type const& p) { return p.status; }
};
template <>
struct wire<payouts::Druo> {
    using type = druo_payout;
    static constexpr std::string_view envelope = "payout";
    static constexpr bool envelope_optional = false;
    static std::string id(type const& p) { return p.uuid; }
    static std::string status(type const& p) { return p.status; }
};
template <>
struct wire<payouts::Checkout> {
    using type = checkout_payout;
    static constexpr std::string_view envelope = "";
    static constexpr bool envelope_optional = false;
    static std::string id(type const& p) { return p.id; }
    static std::string status(type const& p) { return p.status; }
};
template <>
struct wire<payouts::Yuno> {
    using type = yuno_payout;
    static constexpr std::string_view envelope = "";
    static constexpr bool envelope_optional = false;
    static std::string id(type const& p) { return p.id; }
    static std::string status(type const& p) { return p.status; }
};
template <>
struct wire<payouts::Introw> {
    using type = introw_payout;
    static constexpr std::string_view envelope = "data";
    static constexpr bool envelope_optional = false;
    static std::string id(type const& p) { return p.id; }
    static std::string status(type const& p) { return p.stage; }
};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};
template <class T>
constexpr bool is_described = boost::describe::has_describe_members<T>::value;
template <class T>
using members_of = boost::describe::describe_members<T, boost::describe::mod_public>;

// A digest of everything a baseline produced: string sizes, integers, element counts.
template <class T>
std::uint64_t digest(T const& v) {
    if constexpr (is_described<T>) {
        std::uint64_t d = 0;
        boost::mp11::mp_for_each<members_of<T>>([&](auto m) { d += digest(v.*m.pointer); });
        return d;
    } else if constexpr (is_optional<T>::value) {
        return v ? 1 + digest(*v) : 0;
    } else if constexpr (is_vector<T>::value) {
        std::uint64_t d = v.size();
        for (auto const& e : v)
            d += digest(e);
        return d;
    } else if constexpr (std::is_same_v<T, std::string>) {
        return v.size();
    } else {
        return static_cast<std::uint64_t>(v);
    }
}

[[noreturn]] void bad_body(std::string_view what) {
    throw std::runtime_error("baseline: " + std::string(what));
}

// The tolerant walk over a Boost.JSON DOM: Boost 1.81's value_to on a described struct refuses
// any object whose key count differs from the struct's, so descend member by member and
// value_to only the leaves. Missing optional members stay empty, missing arrays stay empty,
// a missing required member throws; unknown keys are ignored.
template <class T>
void read(boost::json::value const& v, T& out) {
    if constexpr (is_described<T>) {
        auto const* obj = v.if_object();
        if (!obj) bad_body("expected an object");
        boost::mp11::mp_for_each<members_of<T>>([&](auto m) {
            using M = std::remove_cvref_t<decltype(out.*m.pointer)>;
            if (auto const* f = obj->if_contains(m.name))
                read(*f, out.*m.pointer);
            else if constexpr (!is_optional<M>::value && !is_vector<M>::value)
                bad_body(m.name);
        });
    } else if constexpr (is_optional<T>::value) {
        if (v.is_null()) {
            out.reset();
        } else {
            read(v, out.emplace());
        }
    } else if constexpr (is_vector<T>::value) {
        auto const* arr = v.if_array();
        if (!arr) bad_body("expected an array");
        out.resize(arr->size());
        for (std::size_t i = 0; i < arr->size(); ++i)
            read((*arr)[i], out[i]);
    } else {
        out = boost::json::value_to<T>(v);
    }
}

boost::json::value const& payout_object(boost::json::value const& root, std::string_view envelope,
                                        bool envelope_optional) {
    if (envelope.empty()) return root;
    auto const* obj = root.if_object();
    if (!obj) bad_body("expected an object at the root");
    if (auto const* inner = obj->if_contains(envelope)) return *inner;
    if (!envelope_optional) bad_body(envelope);
    return root;
}

template <class P>
typename wire<P>::type parse_value_to(std::string_view body) {
    boost::json::value const root = boost::json::parse(body);
    typename wire<P>::type out;
    read(payout_object(root, wire<P>::envelope, wire<P>::envelope_optional), out);
    return out;
}

#if PAYOUTS_BENCH_NLOHMANN
// The same tolerant walk over nlohmann::json.
template <class T>
void read_nl(nlohmann::json const& j, T& out) {
    if constexpr (is_described<T>) {
        if (!j.is_object()) bad_body("expected an object");
        boost::mp11::mp_for_each<members_of<T>>([&](auto m) {
            using M = std::remove_cvref_t<decltype(out.*m.pointer)>;
            if (auto const f = j.find(m.name); f != j.end())
                read_nl(*f, out.*m.pointer);
            else if constexpr (!is_optional<M>::value && !is_vector<M>::value)
                bad_body(m.name);
        });
    } else if constexpr (is_optional<T>::value) {
        if (j.is_null()) {
            out.reset();
        } else {
            read_nl(j, out.emplace());
        }
    } else if constexpr (is_vector<T>::value) {
        if (!j.is_array()) bad_body("expected an array");
        out.resize(j.size());
        for (std::size_t i = 0; i < j.size(); ++i)
            read_nl(j[i], out[i]);
    } else {
        j.get_to(out);
    }
}

template <class P>
typename wire<P>::type parse_nlohmann(std::string_view body) {
    nlohmann::json const root = nlohmann::json::parse(body);
    nlohmann::json const* obj = &root;
    if (!wire<P>::envelope.empty()) {
        if (!root.is_object()) bad_body("expected an object at the root");
        if (auto const f = root.find(wire<P>::envelope); f != root.end())
            obj = &*f;
        else if (!wire<P>::envelope_optional)
            bad_body(wire<P>::envelope);
    }
    typename wire<P>::type out;
    read_nl(*obj, out);
    return out;
}
#endif

// A basic_parser handler that accepts everything and only counts events.
struct null_handler {
    using sv = boost::json::string_view;
    using ec_t = boost::system::error_code;
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);
    std::uint64_t events = 0;

    bool on_document_begin(ec_t&) { return ++events; }
    bool on_document_end(ec_t&) { return ++events; }
    bool on_object_begin(ec_t&) { return ++events; }
    bool on_object_end(std::size_t, ec_t&) { return ++events; }
    bool on_array_begin(ec_t&) { return ++events; }
    bool on_array_end(std::size_t, ec_t&) { return ++events; }
    bool on_key_part(sv, std::size_t, ec_t&) { return ++events; }
    bool on_key(sv, std::size_t, ec_t&) { return ++events; }
    bool on_string_part(sv, std::size_t, ec_t&) { return ++events; }
    bool on_string(sv, std::size_t, ec_t&) { return ++events; }
    bool on_number_part(sv, ec_t&) { return ++events; }
    bool on_int64(std::int64_t, sv, ec_t&) { return ++events; }
    bool on_uint64(std::uint64_t, sv, ec_t&) { return ++events; }
    bool on_double(double, sv, ec_t&) { return ++events; }
    bool on_bool(bool, ec_t&) { return ++events; }
    bool on_null(ec_t&) { return ++events; }
    bool on_comment_part(sv, ec_t&) { return ++events; }
    bool on_comment(sv, ec_t&) { return ++events; }
};

// ---------------------------------------------------------------------------------------------
// The implementations. Each is a separate, non-inlined function (named run_<impl> in profiles)
// that returns a digest of its result.

using runner = std::uint64_t (*)(std::string_view);

template <class P>
[[gnu::noinline]] std::uint64_t run_decode(std::string_view body) {
    auto const r = payouts::decode<P>(body);
    if (!r) std::abort(); // checked before timing; never taken
    auto const& p = *r;
    return p.id.size() + p.provider_status.size() + std::uint64_t(p.status) +
           (p.amount ? std::uint64_t(p.amount->units) : 0) + (p.reference ? 1 : 0) +
           (p.reason ? 2 : 0) + (p.created_at ? 4 : 0) + (p.updated_at ? 8 : 0) + p.raw.size();
}

[[gnu::noinline]] std::uint64_t run_dom(std::string_view body) {
    boost::system::error_code ec;
    boost::json::value const v = boost::json::parse(body, ec);
    if (ec) std::abort();
    return v.as_object().size();
}

[[gnu::noinline]] std::uint64_t run_dom_reuse(std::string_view body) {
    static thread_local boost::json::parser parser;
    alignas(std::max_align_t) unsigned char buffer[4096];
    boost::json::monotonic_resource mr(buffer, sizeof buffer);
    parser.reset(&mr);
    boost::system::error_code ec;
    parser.write(body.data(), body.size(), ec);
    if (ec) std::abort();
    boost::json::value const v = parser.release();
    return v.as_object().size();
}

template <class P>
[[gnu::noinline]] std::uint64_t run_value_to(std::string_view body) {
    return digest(parse_value_to<P>(body));
}

#if PAYOUTS_BENCH_NLOHMANN
template <class P>
[[gnu::noinline]] std::uint64_t run_nlohmann(std::string_view body) {
    return digest(parse_nlohmann<P>(body));
}
#endif

[[gnu::noinline]] std::uint64_t run_null_handler(std::string_view body) {
    boost::json::basic_parser<null_handler> p(boost::json::parse_options{});
    boost::system::error_code ec;
    p.write_some(false, body.data(), body.size(), ec);
    if (ec) std::abort();
    return p.handler().events;
}

constexpr std::array<std::string_view, 6> impl_names{"decode",   "dom",      "dom_reuse",
                                                     "value_to", "nlohmann", "null_handler"};
constexpr std::size_t n_impls = impl_names.size();
constexpr std::size_t decode_i = 0, dom_i = 1;

struct body {
    std::string name;
    std::string text;
    bool documented = false; // one of the five documented bodies (the geometric mean's set)
    std::array<runner, n_impls> run{};
    // For the cross-check: what decode and the baselines say the id and status are.
    std::string (*decoded_id_status)(std::string_view) = nullptr;
    std::string (*value_to_id_status)(std::string_view) = nullptr;
    std::string (*nlohmann_id_status)(std::string_view) = nullptr;
};

template <class P>
std::string decoded_id_status(std::string_view text) {
    payouts::diagnostics diag;
    auto const r = payouts::decode<P>(text, diag);
    if (!r) return "decode failed: " + diag.message;
    return r->id + " " + r->provider_status;
}

template <class P>
std::string value_to_id_status(std::string_view text) {
    auto const p = parse_value_to<P>(text);
    return wire<P>::id(p) + " " + wire<P>::status(p);
}

#if PAYOUTS_BENCH_NLOHMANN
template <class P>
std::string nlohmann_id_status(std::string_view text) {
    auto const p = parse_nlohmann<P>(text);
    return wire<P>::id(p) + " " + wire<P>::status(p);
}
#endif

template <class P>
body make_body(std::string name, std::string text, bool documented) {
    body b;
    b.name = std::move(name);
    b.text = std::move(text);
    b.documented = documented;
    b.run = {run_decode<P>, run_dom, run_dom_reuse, run_value_to<P>, nullptr, run_null_handler};
    b.decoded_id_status = decoded_id_status<P>;
    b.value_to_id_status = value_to_id_status<P>;
#if PAYOUTS_BENCH_NLOHMANN
    b.run[4] = run_nlohmann<P>;
    b.nlohmann_id_status = nlohmann_id_status<P>;
#endif
    return b;
}

std::string read_fixture(std::string_view relative) {
    std::string const path = std::string(PAYOUTS_FIXTURES_DIR) + "/" + std::string(relative);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// A Yuno payout after `n` attempts: the documented body with its one transaction repeated,
// the earlier attempts declined and the last one succeeded. Compact, as an API sends it.
std::string yuno_many_transactions(std::string const& documented, int n) {
    boost::json::value v = boost::json::parse(documented);
    auto& txs = v.as_object().at("transactions").as_array();
    boost::json::value const first = txs.at(0);
    txs.clear();
    for (int i = 0; i < n; ++i) {
        boost::json::value t = first;
        auto& o = t.as_object();
        char suffix[16];
        std::snprintf(suffix, sizeof suffix, "%04d", i);
        o["id"] = std::string("30c91532-5777-410a-887f-ccfdcc7c") + suffix;
        o["provider_data"].as_object()["transaction_id"] = std::to_string(32375 + i);
        if (i + 1 < n) {
            o["status"] = "DECLINED";
            o["response_code"] = "DECLINED";
            o["provider_data"].as_object()["status"] = "DECLINED";
            o["provider_data"].as_object()["status_detail"] = "INSUFFICIENT_FUNDS";
        }
        txs.push_back(std::move(t));
    }
    return boost::json::serialize(v);
}

// A Checkout payout whose `metadata` holds `n` merchant keys: mostly text decode must skip.
std::string checkout_with_metadata(std::string const& documented, int n) {
    boost::json::value v = boost::json::parse(documented);
    boost::json::object meta;
    for (int i = 0; i < n; ++i) {
        char key[32];
        std::snprintf(key, sizeof key, "merchant_key_%03d", i);
        meta[key] = "value " + std::to_string(i * 7919) + " for the merchant's own bookkeeping";
    }
    v.as_object()["metadata"] = std::move(meta);
    return boost::json::serialize(v);
}

std::vector<body> load_bodies() {
    using namespace payouts;
    std::vector<body> out;
    out.push_back(make_body<Truust>(
        "truust", read_fixture("truust/get-order-payout-200-from-schema.json"), true));
    out.push_back(
        make_body<Druo>("druo", read_fixture("druo/get-payout-200-successful.json"), true));
    out.push_back(make_body<Checkout>(
        "checkout", read_fixture("checkout/get-payout-200-returned-gbp.json"), true));
    out.push_back(
        make_body<Yuno>("yuno", read_fixture("yuno/get-payout-200-succeeded-usd.json"), true));
    out.push_back(make_body<Introw>(
        "introw", read_fixture("introw/get-payout-200-pending-review.json"), true));
    out.push_back(make_body<Yuno>("yuno-50tx", yuno_many_transactions(out[3].text, 50), false));
    out.push_back(
        make_body<Checkout>("checkout-meta200", checkout_with_metadata(out[2].text, 200), false));
    return out;
}

// Every implementation must read the same body the same way before any of them is timed.
bool cross_check(std::vector<body> const& bodies) {
    bool ok = true;
    for (auto const& b : bodies) {
        std::string const d = b.decoded_id_status(b.text);
        std::vector<std::pair<char const*, std::string>> others;
        try {
            others.emplace_back("value_to", b.value_to_id_status(b.text));
            if (b.nlohmann_id_status) others.emplace_back("nlohmann", b.nlohmann_id_status(b.text));
        } catch (std::exception const& e) {
            std::printf("cross-check %s: a baseline threw: %s\n", b.name.c_str(), e.what());
            ok = false;
            continue;
        }
        for (auto const& [who, got] : others)
            if (got != d) {
                std::printf("cross-check %s: decode says \"%s\", %s says \"%s\"\n", b.name.c_str(),
                            d.c_str(), who, got.c_str());
                ok = false;
            }
    }
    return ok;
}

// ---------------------------------------------------------------------------------------------
// Timing.

// The budget is wall time; samples are this thread's CPU time by default, so that time the
// scheduler gives to other processes of a shared machine is not counted (--wall: wall time).
using clock_type = std::chrono::steady_clock;
bool sample_cpu_time = true;

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double sample_clock_ns() {
    timespec ts{};
    clock_gettime(sample_cpu_time ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

std::uint64_t sink = 0;

// Nanoseconds per call over `n` calls.
double time_calls(runner f, std::string_view text, std::uint64_t n) {
    std::uint64_t acc = 0;
    double const t0 = sample_clock_ns();
    for (std::uint64_t i = 0; i < n; ++i) {
        escape(text.data());
        acc += f(text);
    }
    double const t1 = sample_clock_ns();
    sink += acc;
    return (t1 - t0) / double(n);
}

// Interquartile range over the median: how noisy one cell was.
double spread(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    auto const q = [&](double f) { return v[std::size_t(f * double(v.size() - 1) + 0.5)]; };
    return (q(0.75) - q(0.25)) / median(v);
}

double geomean(std::vector<double> const& v) {
    double s = 0;
    for (double x : v)
        s += std::log(x);
    return v.empty() ? 0 : std::exp(s / double(v.size()));
}

struct options {
    double seconds = 30;
    int reps = 15;
    bool smoke = false;
    bool list = false;
    std::string only;
    std::string body;
    long long iterations = -1;
};

void usage(FILE* to) {
    std::fprintf(to, "usage: bench_decode [--seconds S] [--reps N] [--wall]\n"
                     "       bench_decode --smoke\n"
                     "       bench_decode --only IMPL --body NAME --iterations N\n"
                     "       bench_decode --list\n");
}

std::optional<options> parse_args(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view const a = argv[i];
        auto value = [&]() -> char const* { return i + 1 < argc ? argv[++i] : nullptr; };
        char const* v = nullptr;
        if (a == "--smoke") {
            o.smoke = true;
            o.seconds = 1;
            o.reps = 5;
        } else if (a == "--wall") {
            sample_cpu_time = false;
        } else if (a == "--list") {
            o.list = true;
        } else if (a == "--help" || a == "-h") {
            usage(stdout);
            std::exit(0);
        } else if (a == "--seconds" && (v = value())) {
            o.seconds = std::atof(v);
        } else if (a == "--reps" && (v = value())) {
            o.reps = std::atoi(v);
        } else if (a == "--only" && (v = value())) {
            o.only = v;
        } else if (a == "--body" && (v = value())) {
            o.body = v;
        } else if (a == "--iterations" && (v = value())) {
            o.iterations = std::atoll(v);
        } else {
            return std::nullopt;
        }
    }
    if (o.seconds <= 0 || o.reps < 1) return std::nullopt;
    bool const only_mode = !o.only.empty() || !o.body.empty() || o.iterations >= 0;
    if (only_mode && (o.only.empty() || o.body.empty() || o.iterations < 0)) return std::nullopt;
    return o;
}

// --only: exactly `iterations` calls and nothing else, so that a run with 0 iterations is the
// baseline to subtract under callgrind.
int run_only(options const& o, std::vector<body> const& bodies) {
    auto const impl = std::find(impl_names.begin(), impl_names.end(), o.only);
    auto const b =
        std::find_if(bodies.begin(), bodies.end(), [&](body const& x) { return x.name == o.body; });
    if (impl == impl_names.end() || b == bodies.end()) {
        std::fprintf(stderr, "bench_decode: unknown implementation or body (see --list)\n");
        return 2;
    }
    runner const f = b->run[std::size_t(impl - impl_names.begin())];
    if (!f) {
        std::fprintf(stderr, "bench_decode: %s was not built\n", impl->data());
        return 2;
    }
    std::string_view const text = b->text;
    std::uint64_t acc = 0;
    for (long long i = 0; i < o.iterations; ++i) {
        escape(text.data());
        acc += f(text);
    }
    std::printf("%s %s iterations=%lld bytes=%zu digest=%llu\n", impl->data(), b->name.c_str(),
                o.iterations, text.size(), static_cast<unsigned long long>(acc));
    return 0;
}

void print_header(options const& o) {
    std::printf("bench_decode: payouts::decode<P> beside its baselines, one run\n");
    std::printf("build: %s, GCC %s, %s, Boost %d.%d.%d", PAYOUTS_BENCH_BUILDTYPE, __VERSION__,
#ifdef __OPTIMIZE__
                "optimised",
#else
                "NOT OPTIMISED",
#endif
                BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100);
#if PAYOUTS_BENCH_NLOHMANN
    std::printf(", nlohmann_json %d.%d.%d\n", NLOHMANN_JSON_VERSION_MAJOR,
                NLOHMANN_JSON_VERSION_MINOR, NLOHMANN_JSON_VERSION_PATCH);
#else
    std::printf(", nlohmann_json not found (its column is empty)\n");
#endif
    std::printf("budget: %.3g s, %d samples per cell of the thread's %s time, interleaved across "
                "cells%s; load average %s\n\n",
                o.seconds, o.reps, sample_cpu_time ? "CPU" : "wall", o.smoke ? " (smoke)" : "",
                load_average().c_str());
}

int run_tables(options const& o, std::vector<body> const& bodies) {
    auto const start = clock_type::now();
    print_header(o);
    if (!cross_check(bodies)) {
        std::printf("bench_decode: the implementations disagree; no timing\n");
        return 1;
    }

    std::size_t const nb = bodies.size();
    std::size_t cells = 0;
    for (auto const& b : bodies)
        for (auto f : b.run)
            cells += f != nullptr;

    // Calibrate: the cost of one call, from a batch of at least 1 ms (after a warm-up call).
    std::vector<std::array<double, n_impls>> estimate(nb);
    double const min_batch = std::min(1e-3, o.seconds / double(cells) / 8);
    for (std::size_t bi = 0; bi < nb; ++bi)
        for (std::size_t ii = 0; ii < n_impls; ++ii) {
            runner const f = bodies[bi].run[ii];
            if (!f) continue;
            sink += f(bodies[bi].text);
            std::uint64_t n = 1;
            for (;;) {
                double const ns = time_calls(f, bodies[bi].text, n);
                if (ns * double(n) * 1e-9 >= min_batch || n >= (1u << 30)) {
                    estimate[bi][ii] = ns;
                    break;
                }
                n *= 2;
            }
        }

    // Sample: what is left of the budget, shared evenly; rep-major so that drift of the machine
    // touches every cell alike.
    double const left = std::max(o.seconds - seconds_since(start), o.seconds * 0.25);
    double const sample_ns = left / double(cells * std::size_t(o.reps)) * 1e9;
    std::vector<std::array<std::vector<double>, n_impls>> samples(nb);
    for (int r = 0; r < o.reps; ++r)
        for (std::size_t bi = 0; bi < nb; ++bi)
            for (std::size_t ii = 0; ii < n_impls; ++ii) {
                runner const f = bodies[bi].run[ii];
                if (!f) continue;
                auto const n = std::max<std::uint64_t>(
                    1, std::uint64_t(sample_ns / std::max(estimate[bi][ii], 1.0)));
                samples[bi][ii].push_back(time_calls(f, bodies[bi].text, n));
            }

    std::vector<std::array<double, n_impls>> med(nb);
    std::vector<double> worst_spread(nb, 0);
    for (std::size_t bi = 0; bi < nb; ++bi)
        for (std::size_t ii = 0; ii < n_impls; ++ii)
            if (!samples[bi][ii].empty()) {
                med[bi][ii] = median(samples[bi][ii]);
                worst_spread[bi] = std::max(worst_spread[bi], spread(samples[bi][ii]));
            }

    auto row_start = [&](std::size_t bi) {
        std::printf("| %-26s |", (bodies[bi].name + (bodies[bi].documented ? "" : "*")).c_str());
    };
    auto header = [&](char const* first, char const* last) {
        std::printf("| %-26s |", first);
        for (auto n : impl_names)
            std::printf(" %12s |", n.data());
        if (last) std::printf(" %s |", last);
        std::printf("\n|----------------------------|");
        for (std::size_t i = 0; i < n_impls; ++i)
            std::printf("-------------:|");
        if (last) std::printf("------:|");
        std::printf("\n");
    };

    std::printf("ns per body (median):\n\n");
    header("body (bytes)", "spread");
    for (std::size_t bi = 0; bi < nb; ++bi) {
        std::printf("| %-26s |", (bodies[bi].name + (bodies[bi].documented ? "" : "*") + " (" +
                                  std::to_string(bodies[bi].text.size()) + ")")
                                     .c_str());
        for (std::size_t ii = 0; ii < n_impls; ++ii) {
            if (bodies[bi].run[ii])
                std::printf(" %12.0f |", med[bi][ii]);
            else
                std::printf(" %12s |", "-");
        }
        std::printf(" %4.0f%% |\n", worst_spread[bi] * 100);
    }

    std::printf("\nMB/s (10^6 bytes of body per second, from the medians):\n\n");
    header("body", nullptr);
    for (std::size_t bi = 0; bi < nb; ++bi) {
        row_start(bi);
        for (std::size_t ii = 0; ii < n_impls; ++ii) {
            if (bodies[bi].run[ii])
                std::printf(" %12.0f |", double(bodies[bi].text.size()) / med[bi][ii] * 1e3);
            else
                std::printf(" %12s |", "-");
        }
        std::printf("\n");
    }

    std::printf("\ntime of decode<P> / time of each, median of the per-sample ratios (below 1: "
                "decode is faster):\n\n");
    header("body", nullptr);
    std::array<std::vector<double>, n_impls> documented_ratios;
    for (std::size_t bi = 0; bi < nb; ++bi) {
        row_start(bi);
        for (std::size_t ii = 0; ii < n_impls; ++ii) {
            if (!bodies[bi].run[ii]) {
                std::printf(" %12s |", "-");
                continue;
            }
            // Paired: each sample of decode against the sample of `ii` taken just after it
            // (the same rep), so drift of a shared machine cancels; then the median.
            std::vector<double> paired;
            for (std::size_t r = 0; r < samples[bi][ii].size(); ++r)
                paired.push_back(samples[bi][decode_i][r] / samples[bi][ii][r]);
            double const ratio = median(paired);
            if (bodies[bi].documented) documented_ratios[ii].push_back(ratio);
            std::printf(" %12.2f |", ratio);
        }
        std::printf("\n");
    }
    std::printf("| %-26s |", "geomean of 5");
    for (std::size_t ii = 0; ii < n_impls; ++ii) {
        if (documented_ratios[ii].empty())
            std::printf(" %12s |", "-");
        else
            std::printf(" %12.2f |", geomean(documented_ratios[ii]));
    }
    std::printf("\n\n* generated in the program (not in the geometric mean).\n");
    std::printf("spread: the largest interquartile range / median of the row's cells.\n");
    std::printf("decode/dom geomean over the five documented bodies: %.2f (time; the issue's "
                "target, 0.65, is on instructions: benchmarks/callgrind-decode)\n",
                geomean(documented_ratios[dom_i]));
    std::printf("total %.2f s, load average now %s (digest %llu)\n", seconds_since(start),
                load_average().c_str(), static_cast<unsigned long long>(sink % 1000));
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    auto const opt = parse_args(argc, argv);
    if (!opt) {
        usage(stderr);
        return 2;
    }
    try {
        auto const bodies = load_bodies();
        if (opt->list) {
            std::printf("implementations:");
            for (std::size_t i = 0; i < n_impls; ++i)
                if (bodies.front().run[i]) std::printf(" %s", impl_names[i].data());
            std::printf("\nbodies:");
            for (auto const& b : bodies)
                std::printf(" %s", b.name.c_str());
            std::printf("\n");
            return 0;
        }
        if (!opt->only.empty()) return run_only(*opt, bodies);
        return run_tables(*opt, bodies);
    } catch (std::exception const& e) {
        std::fprintf(stderr, "bench_decode: %s\n", e.what());
        return 1;
    }
}
