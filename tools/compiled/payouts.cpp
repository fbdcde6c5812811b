// The one translation unit of payouts' separate-compilation library (meson: payouts_compiled_dep,
// installed as libpayouts.a; CMake: payouts::compiled). Built with PAYOUTS_SEPARATE_COMPILATION.
#include <payouts/src.hpp>
