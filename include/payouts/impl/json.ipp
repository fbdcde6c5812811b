// Definitions for json.hpp: inline when header-only, else compiled once in src.hpp.
#pragma once

#include <payouts/json.hpp>

#include <boost/describe/members.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/mp11/algorithm.hpp>

namespace payouts {
namespace detail {

inline boost::json::value to_json(std::string_view s) {
    return boost::json::string(s);
}
inline boost::json::value to_json(std::string const& s) {
    return boost::json::string(s);
}
inline boost::json::value to_json(payout_status s) {
    return boost::json::string(to_string(s));
}
inline boost::json::value to_json(timestamp t) {
    return boost::json::string(format_rfc3339(t));
}
inline boost::json::value to_json(money const& m) {
    return boost::json::value_from(m);
}
template <class T>
boost::json::value to_json(std::optional<T> const& o) {
    return o ? to_json(*o) : boost::json::value(nullptr);
}

} // namespace detail

PAYOUTS_DECL void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, money const& m) {
    jv = {{"value", m.to_decimal_string()},
          {"currency", m.currency},
          {"units", m.units},
          {"scale", int(m.scale)}};
}

PAYOUTS_DECL void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, payout_status s) {
    jv = to_string(s);
}

PAYOUTS_DECL void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, payout const& p) {
    auto& obj = jv.emplace_object();
    boost::mp11::mp_for_each<
        boost::describe::describe_members<payout, boost::describe::mod_public>>(
        [&](auto d) { obj[d.name] = detail::to_json(p.*d.pointer); });
}

} // namespace payouts
