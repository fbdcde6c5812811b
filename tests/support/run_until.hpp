// Runs an io_context until a condition holds: tests wait for events, never for a fixed time.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>

namespace test_support {

/// Runs `ioc` until `done()` holds, and says whether it does. The cap only keeps a broken test
/// from hanging, far beyond anything a passing test needs.
template <class Pred>
bool run_until(boost::asio::io_context& ioc, Pred const& done,
               std::chrono::seconds cap = std::chrono::seconds(30)) {
    auto const end = std::chrono::steady_clock::now() + cap;
    ioc.restart();
    while (!done() && std::chrono::steady_clock::now() < end) {
        if (ioc.stopped()) ioc.restart();
        ioc.run_one_for(std::chrono::milliseconds(50));
    }
    return done();
}

} // namespace test_support
