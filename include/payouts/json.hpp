// JSON output of the model: boost::json::value_from(payout), value_from(money) and
// value_from(payout_status). Declared here (with Boost.JSON's forward declarations only), so
// that a file that does not write JSON does not parse Boost.JSON's conversion machinery for it:
// include <boost/json/value_from.hpp> where you call value_from.
#pragma once

#include <payouts/detail/config.hpp>
#include <payouts/payout.hpp>

#include <boost/json/fwd.hpp>

namespace payouts {

/// \brief `value_from(money)`: {"value": "10.01", "currency": "BRL", "units": 1001, "scale": 2}.
/// `value` is the exact decimal text, so readers never need floating point.
PAYOUTS_DECL void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, money const& m);

/// `value_from(payout_status)`: its name, as `to_string` gives it.
PAYOUTS_DECL void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, payout_status s);

/// \brief `value_from(payout)`: one object with every described member under its own name;
/// absent optionals are null, timestamps RFC 3339 UTC strings, `raw` the body as a string.
PAYOUTS_DECL void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, payout const& p);

} // namespace payouts

#ifdef PAYOUTS_HEADER_ONLY
#include <payouts/impl/json.ipp>
#endif
