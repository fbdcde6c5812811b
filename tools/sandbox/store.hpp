// The payouts the sandbox serves: <dir>/<provider>/<id>.json, read once at start and served
// byte for byte.
#pragma once

#include <boost/json/parse.hpp>

#include <array>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace payouts_sandbox {

enum class provider_id { truust, druo, checkout, yuno, introw };
inline constexpr std::array all_providers{provider_id::truust, provider_id::druo,
                                          provider_id::checkout, provider_id::yuno,
                                          provider_id::introw};

inline std::string_view to_string(provider_id p) {
    constexpr std::string_view names[] = {"truust", "druo", "checkout", "yuno", "introw"};
    return names[static_cast<std::size_t>(p)];
}

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
    std::size_t size() const {
        std::size_t n = 0;
        for (auto const& m : bodies_)
            n += m.size();
        return n;
    }

    /// Loads every `<dir>/<provider>/<id>.json`. Bodies that are not valid JSON (after an
    /// optional UTF-8 BOM) are still served, with a warning on `warn`, since a user may want
    /// exactly that. Throws std::runtime_error if `dir` has none of the provider folders.
    static payout_store load(std::filesystem::path const& dir, std::ostream& warn) {
        namespace fs = std::filesystem;
        payout_store store;
        bool any = false;
        for (provider_id p : all_providers) {
            fs::path sub = dir / std::string(to_string(p));
            std::error_code ec;
            if (!fs::is_directory(sub, ec)) continue;
            any = true;
            for (auto const& entry : fs::directory_iterator(sub)) {
                if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
                std::string id = entry.path().stem().string();
                std::ifstream in(entry.path(), std::ios::binary);
                std::string body((std::istreambuf_iterator<char>(in)),
                                 std::istreambuf_iterator<char>());
                if (!in.good() && !in.eof())
                    throw std::runtime_error("cannot read " + entry.path().string());
                std::string_view json = body;
                if (json.starts_with("\xEF\xBB\xBF")) json.remove_prefix(3);
                boost::system::error_code jec;
                boost::json::parse(json, jec);
                if (jec)
                    warn << "payouts-sandbox: warning: " << entry.path().string()
                         << " is not valid JSON (" << jec.message() << "); served as is\n";
                if (p == provider_id::truust &&
                    id.find_first_not_of("0123456789") != std::string::npos)
                    warn << "payouts-sandbox: warning: Truust ids are integer order ids; "
                         << entry.path().string() << " is reachable only by its exact text\n";
                store.bodies_[static_cast<std::size_t>(p)].emplace(std::move(id), std::move(body));
            }
        }
        if (!any)
            throw std::runtime_error(
                "no provider folders (truust, druo, checkout, yuno, introw) in " + dir.string());
        return store;
    }

private:
    std::array<std::map<std::string, std::string, std::less<>>, 5> bodies_;
};

} // namespace payouts_sandbox
