// Built with payouts as a meson subproject, from its source tree (meson.build).
#include "../consumer.hpp"

int main() {
    return consumer_main("a meson subproject");
}
