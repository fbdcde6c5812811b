// JSON output of the model: boost::json::value_from(payout) and friends.
#pragma once

#include <payouts/payout.hpp>

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

/// \brief `value_from(money)`: {"value": "10.01", "currency": "BRL", "units": 1001, "scale": 2}.
/// `value` is the exact decimal text, so readers never need floating point.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, money const& m) {
    jv = {{"value", m.to_decimal_string()},
          {"currency", m.currency},
          {"units", m.units},
          {"scale", int(m.scale)}};
}

/// `value_from(payout_status)`: its name, as `to_string` gives it.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, payout_status s) {
    jv = to_string(s);
}

/// \brief `value_from(payout)`: one object with every described member under its own name;
/// absent optionals are null, timestamps RFC 3339 UTC strings, `raw` the body as a string.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, payout const& p) {
    auto& obj = jv.emplace_object();
    boost::mp11::mp_for_each<
        boost::describe::describe_members<payout, boost::describe::mod_public>>(
        [&](auto d) { obj[d.name] = detail::to_json(p.*d.pointer); });
}

} // namespace payouts
