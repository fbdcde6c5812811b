// Header-only by default. With PAYOUTS_SEPARATE_COMPILATION defined in every translation unit,
// the functions marked PAYOUTS_DECL are defined once, in the one file that includes
// <payouts/src.hpp>, and the transport's headers are read by that file alone.
#pragma once

#ifdef PAYOUTS_SEPARATE_COMPILATION
#define PAYOUTS_DECL
#else
#define PAYOUTS_HEADER_ONLY 1
#define PAYOUTS_DECL inline
#endif
