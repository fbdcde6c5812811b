// The payouts the sandbox serves: <dir>/<provider>/<id>.json, and moving payouts in
// <dir>/<provider>/<id>/ (stages 0.json, 1.json, ... and steps.json), read once at start and
// served byte for byte.
#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace payouts_sandbox {

enum class provider_id { truust, druo, checkout, yuno, introw };
inline constexpr std::array all_providers{provider_id::truust, provider_id::druo,
                                          provider_id::checkout, provider_id::yuno,
                                          provider_id::introw};

inline std::string_view to_string(provider_id p) {
    constexpr std::string_view names[] = {"truust", "druo", "checkout", "yuno", "introw"};
    return names[static_cast<std::size_t>(p)];
}

enum class advance_mode {
    request, ///< the next stage after every `every` answers that served the payout
    time,    ///< stage = elapsed time since the first such answer / `every_ms`
};

/// A payout whose status moves along its stages; the last stage is kept forever.
struct moving_payout {
    std::vector<std::string> stages; ///< complete bodies, at least one
    advance_mode mode = advance_mode::request;
    std::uint64_t every = 1;               ///< request mode
    std::chrono::milliseconds every_ms{1}; ///< time mode
};

namespace detail {

inline std::string read_whole(std::filesystem::path const& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) throw std::runtime_error("cannot read " + p.string());
    return body;
}

/// Served as is whatever it holds, since a user may want exactly that; but say so.
inline void warn_unless_json(std::string_view body, std::filesystem::path const& p,
                             std::ostream& warn) {
    if (body.starts_with("\xEF\xBB\xBF")) body.remove_prefix(3);
    boost::system::error_code jec;
    boost::json::parse(body, jec);
    if (jec)
        warn << "payouts-sandbox: warning: " << p.string() << " is not valid JSON ("
             << jec.message() << "); served as is\n";
}

[[noreturn]] inline void refuse(std::filesystem::path const& p, std::string const& why) {
    throw std::runtime_error(p.string() + ": " + why);
}

/// A stage file's number: "0", "1", ... in canonical decimal; -1 for anything else.
inline long long stage_number(std::string_view stem) {
    if (stem.empty() || stem.size() > 6 || (stem.size() > 1 && stem[0] == '0')) return -1;
    long long n = 0;
    for (char c : stem) {
        if (c < '0' || c > '9') return -1;
        n = n * 10 + (c - '0');
    }
    return n;
}

inline constexpr std::string_view steps_help =
    R"(expected {"advance": "request", "every": N} or {"advance": "time", "every_ms": N}, )"
    "N a positive integer";

/// Reads `dir/steps.json` into `m` (everything but the stages).
inline void load_steps(std::filesystem::path const& dir, moving_payout& m) {
    namespace fs = std::filesystem;
    fs::path const file = dir / "steps.json";
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) refuse(file, "missing; " + std::string(steps_help));
    boost::system::error_code jec;
    boost::json::value v = boost::json::parse(read_whole(file), jec);
    if (jec) refuse(file, "not valid JSON (" + jec.message() + "); " + std::string(steps_help));
    auto const* o = v.if_object();
    if (!o) refuse(file, "not a JSON object; " + std::string(steps_help));
    auto const* adv = o->if_contains("advance");
    if (!adv || !adv->is_string() ||
        (adv->get_string() != "request" && adv->get_string() != "time"))
        refuse(file, R"("advance" must be "request" or "time"; )" + std::string(steps_help));
    m.mode = adv->get_string() == "request" ? advance_mode::request : advance_mode::time;
    std::string_view const count_key = m.mode == advance_mode::request ? "every" : "every_ms";
    for (auto const& kv : *o)
        if (kv.key() != "advance" && kv.key() != count_key)
            refuse(file, "unexpected key \"" + std::string(kv.key()) + "\" with \"advance\": \"" +
                             std::string(adv->get_string()) + "\"; " + std::string(steps_help));
    auto const* count = o->if_contains(count_key);
    // "every" may be left out (one answer per stage); a duration has no natural default.
    if (!count && m.mode == advance_mode::request) return;
    std::uint64_t n = 0;
    if (count && count->is_uint64())
        n = count->get_uint64();
    else if (count && count->is_int64() && count->get_int64() > 0)
        n = static_cast<std::uint64_t>(count->get_int64());
    // Up to 2^53, JSON's exact integers: also keeps every_ms far from duration overflow.
    if (n == 0 || n > (std::uint64_t(1) << 53))
        refuse(file, "\"" + std::string(count_key) + "\" must be a positive integer; " +
                         std::string(steps_help));
    if (m.mode == advance_mode::request)
        m.every = n;
    else
        m.every_ms = std::chrono::milliseconds(static_cast<std::int64_t>(n));
}

/// Reads the moving payout in `dir`: steps.json and the stages 0.json ... N.json, no gaps.
/// Files that do not end in .json are ignored, as in the provider folders.
inline moving_payout load_moving(std::filesystem::path const& dir, std::ostream& warn) {
    namespace fs = std::filesystem;
    moving_payout m;
    load_steps(dir, m);
    std::map<long long, fs::path> files;
    for (auto const& entry : fs::directory_iterator(dir)) {
        fs::path const& p = entry.path();
        if (p.extension() != ".json" || p.filename() == "steps.json") continue;
        long long n = stage_number(p.stem().string());
        if (n < 0 || !entry.is_regular_file())
            refuse(p, "not a stage file; stages are 0.json, 1.json, 2.json, ... next to "
                      "steps.json");
        files.emplace(n, p);
    }
    if (!files.contains(0)) refuse(dir / "0.json", "missing (the first stage of a moving payout)");
    long long const last = files.rbegin()->first;
    for (long long i = 0; i <= last; ++i) {
        auto it = files.find(i);
        if (it == files.end())
            refuse(dir / (std::to_string(i) + ".json"),
                   "missing: stages are numbered 0, 1, 2, ... without gaps, and " +
                       std::to_string(last) + ".json exists");
        m.stages.push_back(read_whole(it->second));
        warn_unless_json(m.stages.back(), it->second, warn);
    }
    return m;
}

} // namespace detail

class payout_store {
public:
    /// The body of payout `id`, or nullptr.
    std::string const* find(provider_id p, std::string_view id) const {
        auto const& m = bodies_[static_cast<std::size_t>(p)];
        auto it = m.find(id);
        return it == m.end() ? nullptr : &it->second;
    }
    std::map<std::string, std::string, std::less<>> const& all(provider_id p) const {
        return bodies_[static_cast<std::size_t>(p)];
    }
    /// The moving payout `id`, or nullptr.
    moving_payout const* find_moving(provider_id p, std::string_view id) const {
        auto const& m = moving_[static_cast<std::size_t>(p)];
        auto it = m.find(id);
        return it == m.end() ? nullptr : &it->second;
    }
    std::map<std::string, moving_payout, std::less<>> const& all_moving(provider_id p) const {
        return moving_[static_cast<std::size_t>(p)];
    }
    /// Payouts of both kinds.
    std::size_t size() const { return count(bodies_) + moving_count(); }
    std::size_t moving_count() const { return count(moving_); }

    /// Loads every `<dir>/<provider>/<id>.json` and every moving payout `<dir>/<provider>/<id>/`.
    /// Bodies that are not valid JSON (after an optional UTF-8 BOM) are still served, with a
    /// warning on `warn`, since a user may want exactly that. Throws std::runtime_error naming
    /// the file if a moving payout is malformed (README.md, "Moving payouts"), and if `dir` has
    /// none of the provider folders.
    static payout_store load(std::filesystem::path const& dir, std::ostream& warn) {
        namespace fs = std::filesystem;
        payout_store store;
        bool any = false;
        for (provider_id p : all_providers) {
            fs::path sub = dir / std::string(to_string(p));
            std::error_code ec;
            if (!fs::is_directory(sub, ec)) continue;
            any = true;
            auto& bodies = store.bodies_[static_cast<std::size_t>(p)];
            auto& moving = store.moving_[static_cast<std::size_t>(p)];
            for (auto const& entry : fs::directory_iterator(sub)) {
                fs::path const& path = entry.path();
                std::string id;
                if (entry.is_directory()) {
                    id = path.filename().string();
                    if (id.starts_with('.')) continue; // .git and the like, never an id
                    moving.emplace(id, detail::load_moving(path, warn));
                } else if (entry.is_regular_file() && path.extension() == ".json") {
                    id = path.stem().string();
                    std::string body = detail::read_whole(path);
                    detail::warn_unless_json(body, path, warn);
                    bodies.emplace(id, std::move(body));
                } else {
                    continue;
                }
                if (p == provider_id::truust &&
                    id.find_first_not_of("0123456789") != std::string::npos)
                    warn << "payouts-sandbox: warning: Truust ids are integer order ids; "
                         << path.string() << " is reachable only by its exact text\n";
            }
            // Which of the two would answer is not for the sandbox to guess.
            for (auto const& [id, m] : moving)
                if (bodies.contains(id))
                    detail::refuse(sub / (id + ".json"), "the same id as the moving payout " +
                                                             (sub / id).string() +
                                                             "/; keep one of them");
        }
        if (!any)
            throw std::runtime_error(
                "no provider folders (truust, druo, checkout, yuno, introw) in " + dir.string());
        return store;
    }

private:
    template <class Maps>
    static std::size_t count(Maps const& maps) {
        std::size_t n = 0;
        for (auto const& m : maps)
            n += m.size();
        return n;
    }

    std::array<std::map<std::string, std::string, std::less<>>, 5> bodies_;
    std::array<std::map<std::string, moving_payout, std::less<>>, 5> moving_;
};

} // namespace payouts_sandbox
