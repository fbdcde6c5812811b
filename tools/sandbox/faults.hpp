// Faults chosen by the payout id: `slow-250-<rest>` answers as for `<rest>` after 250 ms, and so
// on (README.md has the list). Pure parsing, no state: the counters live in the sandbox.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace payouts_sandbox {

enum class fault_kind {
    tag,       ///< `tag-<word>-`: no fault; a distinct id (own counters) for the same payout
    slow,      ///< `slow-<ms>-`: answer after <ms> milliseconds
    stall,     ///< `stall-`: never answer (the connection stays open until the client leaves)
    ratelimit, ///< `ratelimit-<n>-`: the first <n> requests get 429 with Retry-After: 1
    flaky,     ///< `flaky-<n>-`: the first <n> requests get 503
    truncate,  ///< `truncate-`: Content-Length says more than is sent, then the server closes
    reset,     ///< `reset-`: the connection is reset (RST) instead of an answer
    oversized, ///< `oversized-`: the body is padded with trailing spaces to the oversize limit
    malformed, ///< `malformed-`: the body is cut in half (invalid JSON) with a matching length
};

inline std::string_view to_string(fault_kind k) {
    switch (k) {
    case fault_kind::tag:
        return "tag";
    case fault_kind::slow:
        return "slow";
    case fault_kind::stall:
        return "stall";
    case fault_kind::ratelimit:
        return "ratelimit";
    case fault_kind::flaky:
        return "flaky";
    case fault_kind::truncate:
        return "truncate";
    case fault_kind::reset:
        return "reset";
    case fault_kind::oversized:
        return "oversized";
    case fault_kind::malformed:
        return "malformed";
    }
    return "?";
}

struct fault {
    fault_kind kind;
    std::uint64_t param = 0;
};

/// The faults of an id, outermost first, and the id of the payout that answers.
struct fault_spec {
    std::vector<fault> layers;
    std::string base;
};

namespace detail {

inline bool take_number(std::string_view& s, std::uint64_t& out) {
    auto dash = s.find('-');
    if (dash == 0 || dash == std::string_view::npos || dash > 9) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + dash, out);
    if (ec != std::errc{} || p != s.data() + dash) return false;
    s.remove_prefix(dash + 1);
    return true;
}

/// The numeric form for integer ids (Truust's order ids): 17 digits
/// `99 M PPPPP NNNNNNNNN` = mode M (0 tag, 1 slow, 2 stall, 3 ratelimit, 4 flaky, 5 truncate,
/// 6 reset, 7 oversized, 8 malformed), parameter P (ms or count), order id N (zero-padded).
inline bool parse_numeric(std::string_view id, fault_spec& out) {
    if (id.size() != 17 || id.substr(0, 2) != "99") return false;
    for (char c : id)
        if (c < '0' || c > '9') return false;
    static constexpr fault_kind modes[] = {
        fault_kind::tag,       fault_kind::slow,      fault_kind::stall,
        fault_kind::ratelimit, fault_kind::flaky,     fault_kind::truncate,
        fault_kind::reset,     fault_kind::oversized, fault_kind::malformed};
    int mode = id[2] - '0';
    if (mode > 8) return false;
    std::uint64_t param = 0, base = 0;
    std::from_chars(id.data() + 3, id.data() + 8, param);
    std::from_chars(id.data() + 8, id.data() + 17, base);
    out.layers.push_back({modes[mode], param});
    out.base = std::to_string(base);
    return true;
}

} // namespace detail

/// Splits `id` into fault layers and the base id. Anything that is not a well-formed prefix
/// ends the prefixes, so ordinary ids pass through unchanged.
inline fault_spec parse_faults(std::string_view id) {
    fault_spec spec;
    if (detail::parse_numeric(id, spec)) return spec;
    struct word {
        std::string_view text;
        fault_kind kind;
        bool number;
    };
    static constexpr word words[] = {
        {"slow-", fault_kind::slow, true},
        {"stall-", fault_kind::stall, false},
        {"ratelimit-", fault_kind::ratelimit, true},
        {"flaky-", fault_kind::flaky, true},
        {"truncate-", fault_kind::truncate, false},
        {"reset-", fault_kind::reset, false},
        {"oversized-", fault_kind::oversized, false},
        {"malformed-", fault_kind::malformed, false},
        {"tag-", fault_kind::tag, false},
    };
    while (spec.layers.size() < 16) {
        bool matched = false;
        for (auto const& w : words) {
            if (!id.starts_with(w.text)) continue;
            std::string_view rest = id.substr(w.text.size());
            fault f{w.kind};
            if (w.number && !detail::take_number(rest, f.param)) break;
            if (w.kind == fault_kind::tag) {
                auto dash = rest.find('-');
                if (dash == 0 || dash == std::string_view::npos) break;
                rest.remove_prefix(dash + 1);
            }
            spec.layers.push_back(f);
            id = rest;
            matched = true;
            break;
        }
        if (!matched) break;
    }
    spec.base = std::string(id);
    return spec;
}

} // namespace payouts_sandbox
