// payouts: fetch one payout by id from Truust, DRUO, Checkout.com, Yuno or Introw and get one
// exact, unified payout. Include this header for everything.
#pragma once

#include <payouts/client.hpp>
#include <payouts/convert.hpp>
#include <payouts/decode.hpp>
#include <payouts/diagnostics.hpp>
#include <payouts/error.hpp>
#include <payouts/fetch.hpp>
#include <payouts/fetch_many.hpp>
#include <payouts/json.hpp>
#include <payouts/payout.hpp>
#include <payouts/provider.hpp>

#include <payouts/providers/checkout.hpp>
#include <payouts/providers/druo.hpp>
#include <payouts/providers/introw.hpp>
#include <payouts/providers/truust.hpp>
#include <payouts/providers/yuno.hpp>

#include <boost/mp11/list.hpp>

namespace payouts {

/// Every provider this library knows, for code that picks one at run time by `P::name`
/// (the CLI does). A new provider's header is added here and in the contract test.
using all_providers = boost::mp11::mp_list<Truust, Druo, Checkout, Yuno, Introw>;

} // namespace payouts
