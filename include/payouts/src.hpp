// The compiled part of payouts, for separate compilation: include this header in exactly one
// .cpp file of a program whose every translation unit defines PAYOUTS_SEPARATE_COMPILATION
// (meson's payouts_compiled_dep and CMake's payouts::compiled build and link that file for
// you). Everything else keeps including <payouts/payouts.hpp> or the headers it names.
//
// What it compiles: the client, the one fetch coroutine and its transport (connection pool,
// TLS, proxy tunnel, OAuth token requests, retries, URL handling), fetch_many's batches, JSON
// output, the decoders of the five built-in providers and the webhook decoders of those that
// have one. A provider of your own needs nothing here: its decoder is compiled where it is used,
// from <payouts/decode.hpp> (its webhooks' decoder too), which a file that decodes, fetches or
// verifies it includes.
#pragma once

#ifndef PAYOUTS_SEPARATE_COMPILATION
#error                                                                                             \
    "<payouts/src.hpp> is for separate compilation: define PAYOUTS_SEPARATE_COMPILATION in every translation unit, or include only <payouts/payouts.hpp> for header-only use"
#endif

#include <payouts/decode.hpp>
#include <payouts/payouts.hpp>

#include <payouts/impl/client.ipp>
#include <payouts/impl/fetch.ipp>
#include <payouts/impl/fetch_many.ipp>
#include <payouts/impl/json.ipp>
#include <payouts/impl/provider_ops.ipp>
#include <payouts/impl/watch.ipp>

namespace payouts {
PAYOUTS_DETAIL_BUILTIN_PROVIDERS()
} // namespace payouts
