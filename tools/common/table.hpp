// Plain-text rendering of payouts for people: one row per payout, one column per described
// member of payouts::payout (Boost.Describe drives the columns, so a new member shows up here
// without an edit).
#pragma once

#include <payouts/payout.hpp>

#include <boost/describe/members.hpp>
#include <boost/mp11/algorithm.hpp>

#include <algorithm>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace payouts_tools {

namespace detail {

inline std::string cell(std::string_view s) {
    return std::string(s);
}
inline std::string cell(std::string const& s) {
    return s;
}
inline std::string cell(payouts::payout_status s) {
    return std::string(payouts::to_string(s));
}
inline std::string cell(payouts::money const& m) {
    return m.to_decimal_string() + " " + m.currency;
}
inline std::string cell(payouts::timestamp t) {
    return payouts::format_rfc3339(t);
}
template <class T>
std::string cell(std::optional<T> const& o) {
    return o ? cell(*o) : std::string("-");
}

} // namespace detail

/// Column names: every described member of payout except `raw` (the body is not for a table).
inline std::vector<std::string> payout_columns() {
    std::vector<std::string> cols;
    boost::mp11::mp_for_each<
        boost::describe::describe_members<payouts::payout, boost::describe::mod_public>>(
        [&](auto d) {
            if (std::string_view(d.name) != "raw") cols.emplace_back(d.name);
        });
    return cols;
}

/// The cells of one payout, in payout_columns() order.
inline std::vector<std::string> payout_cells(payouts::payout const& p) {
    std::vector<std::string> cells;
    boost::mp11::mp_for_each<
        boost::describe::describe_members<payouts::payout, boost::describe::mod_public>>(
        [&](auto d) {
            if (std::string_view(d.name) != "raw") cells.push_back(detail::cell(p.*d.pointer));
        });
    return cells;
}

/// Writes rows under a header, columns padded to their widest cell; long cells are cut to 40.
inline void write_table(std::ostream& os, std::vector<std::string> const& header,
                        std::vector<std::vector<std::string>> rows) {
    auto clip = [](std::string& s) {
        if (s.size() > 40) s = s.substr(0, 37) + "...";
    };
    for (auto& r : rows)
        for (auto& c : r)
            clip(c);
    std::vector<std::size_t> width(header.size());
    for (std::size_t i = 0; i < header.size(); ++i) {
        width[i] = header[i].size();
        for (auto const& r : rows)
            if (i < r.size()) width[i] = std::max(width[i], r[i].size());
    }
    auto line = [&](std::vector<std::string> const& r) {
        for (std::size_t i = 0; i < header.size(); ++i) {
            std::string const& c = i < r.size() ? r[i] : std::string();
            os << c;
            if (i + 1 < header.size()) os << std::string(width[i] - c.size() + 2, ' ');
        }
        os << '\n';
    };
    line(header);
    std::vector<std::string> rule;
    for (auto w : width)
        rule.emplace_back(w, '-');
    line(rule);
    for (auto const& r : rows)
        line(r);
}

} // namespace payouts_tools
