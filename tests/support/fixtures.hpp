// The fixture files under tests/fixtures, read byte for byte, and exact edits of them.
#pragma once

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

namespace test_support {

/// The bytes of tests/fixtures/<name>; fails the test when the file cannot be read.
inline std::string fixture(std::string_view name) {
    std::string const path = std::string(PAYOUTS_FIXTURES_DIR) + "/" + std::string(name);
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open fixture " << path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// `body` with the one occurrence of `from` replaced by `to` (fails the test if not exactly one).
inline std::string edited(std::string body, std::string_view from, std::string_view to) {
    auto const at = body.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, "not in the body: " << from);
    REQUIRE_MESSAGE(body.find(from, at + 1) == std::string::npos, "twice in the body: " << from);
    body.replace(at, from.size(), to);
    return body;
}

} // namespace test_support
