// Linked into every separate-mode consumer beside main.cpp: a second file that includes
// payouts.hpp and fetches, so a definition left in a header (not in libpayouts.a alone) would
// be a duplicate symbol, and a dependency that lost the define would fail here.
#include "consumer.hpp"

#ifndef PAYOUTS_SEPARATE_COMPILATION
#error "the separate-mode dependency did not carry -DPAYOUTS_SEPARATE_COMPILATION"
#endif

bool second_file_fetches() {
    return check_fetch();
}
