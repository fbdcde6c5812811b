// Built against the installed package with only `pkg-config --cflags --libs payouts` (see run).
#include "../consumer.hpp"

int main() {
    return consumer_main("pkg-config");
}
