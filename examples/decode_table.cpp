// Decodes each provider's documented Get-Payout example with payouts::decode<P> and prints the
// five unified payouts as one table. No network: the bodies are the fixtures in tests/fixtures.
//
// usage: decode_table [FIXTURES_DIR]
#include <payouts/payouts.hpp>

#include "../tools/common/table.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

namespace {

std::string read_file(std::string const& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

template <class P>
bool add_row(std::string const& dir, char const* file,
             std::vector<std::vector<std::string>>& rows) {
    std::string const body = read_file(dir + "/" + std::string(P::name) + "/" + file);
    payouts::diagnostics diag;
    auto r = payouts::decode<P>(body, diag);
    if (!r) {
        std::cerr << P::name << ": " << r.error().message() << ": " << diag.message << '\n';
        return false;
    }
    rows.push_back(payouts_tools::payout_cells(*r));
    return true;
}

} // namespace

int main(int argc, char** argv) try {
    std::string const dir = argc > 1 ? argv[1] : PAYOUTS_FIXTURES_DIR;
    std::vector<std::vector<std::string>> rows;
    bool ok = add_row<payouts::Truust>(dir, "get-order-payout-200-from-schema.json", rows);
    ok &= add_row<payouts::Druo>(dir, "get-payout-200-successful.json", rows);
    ok &= add_row<payouts::Checkout>(dir, "get-payout-200-returned-gbp.json", rows);
    ok &= add_row<payouts::Yuno>(dir, "get-payout-200-succeeded-usd.json", rows);
    ok &= add_row<payouts::Introw>(dir, "get-payout-200-pending-review.json", rows);
    payouts_tools::write_table(std::cout, payouts_tools::payout_columns(), rows);
    return ok ? 0 : 1;
} catch (std::exception const& e) {
    std::cerr << "decode_table: " << e.what() << '\n';
    return 1;
}
