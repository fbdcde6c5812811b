// Built against the installed package through find_package(payouts) (CMakeLists.txt).
#include "../consumer.hpp"

int main() {
    return consumer_main("CMake find_package");
}
