// A provider's field pointers folded, at compile time, into a tree of JSON keys, so the
// streaming decoder decides per key whether to descend, capture or skip — no DOM, no per-key
// string building.
#pragma once

#include <payouts/provider.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace payouts::detail {

// A cheap 32-bit digest of a key: its length and first, middle and last bytes, multiplied so the
// top bits depend on all of them. The decoder computes it once per key, for the trie lookup and
// the duplicate-key check; equal digests only mean "compare the bytes".
constexpr std::uint32_t key_digest(std::string_view k) noexcept {
    std::size_t const n = k.size();
    if (n == 0) return 0;
    auto byte = [&](std::size_t i) { return std::uint32_t(static_cast<unsigned char>(k[i])); };
    return (byte(0) | byte(n / 2) << 8 | byte(n - 1) << 16 | std::uint32_t(n) << 24) * 0x9E3779B1u;
}

// Unaligned loads of key bytes (memcpy: no alignment or aliasing assumptions).
inline std::uint64_t load64(char const* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}
inline std::uint64_t load32(char const* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// a[0, n) == b[0, n), for keys: up to 16 bytes in two overlapping loads per side, no call.
inline bool same_bytes(char const* a, char const* b, std::size_t n) noexcept {
    if (n >= 8 && n <= 16) return load64(a) == load64(b) && load64(a + n - 8) == load64(b + n - 8);
    if (n >= 4 && n < 8) return load32(a) == load32(b) && load32(a + n - 4) == load32(b + n - 4);
    return std::memcmp(a, b, n) == 0;
}

struct trie_node {
    std::string_view key; // "" for the root and for array-element ("*") nodes
    int parent = -1;
    int first_child = -1;
    int next_sibling = -1;
    int element = -1;                // the "*" child, when this node is an array of tracked objects
    bool is_element = false;         // this node is a "*" segment
    std::uint32_t leaf_fields = 0;   // fields whose pointer ends here
    std::uint32_t fields_below = 0;  // fields at or under this node
    std::uint64_t child_lengths = 0; // bit k: a named child has a key of length k (63: >= 63)
    std::uint32_t digest = 0;        // key_digest(key)
};

constexpr unsigned length_bit(std::size_t n) noexcept {
    return n < 63 ? unsigned(n) : 63u;
}

inline constexpr std::size_t max_trie_nodes = 96;

struct field_trie {
    std::array<trie_node, max_trie_nodes> nodes{};
    int size = 1;     // node 0 is the document root
    int envelope = 0; // the node of the provider's envelope (0: none)

    constexpr int child(int n, std::string_view key) const noexcept {
        // Most keys of a tracked object are not mapped: refuse them by length in one step.
        if (!((nodes[n].child_lengths >> length_bit(key.size())) & 1)) return -1;
        for (int c = nodes[n].first_child; c >= 0; c = nodes[c].next_sibling) {
            auto const k = nodes[c].key;
            if (k.size() != key.size() || nodes[c].is_element) continue;
            if (!key.empty() && k[0] != key[0]) continue;
            if (k == key) return c;
        }
        return -1;
    }

    // child(n, key) for the decoder, given key_digest(key): one compare per sibling (the "*"
    // node is not among the siblings).
    int find(int n, std::string_view key, std::uint32_t digest) const noexcept {
        if (!((nodes[n].child_lengths >> length_bit(key.size())) & 1)) return -1;
        for (int c = nodes[n].first_child; c >= 0; c = nodes[c].next_sibling)
            if (nodes[c].digest == digest && nodes[c].key.size() == key.size() &&
                same_bytes(nodes[c].key.data(), key.data(), key.size()))
                return c;
        return -1;
    }

    constexpr int add_child(int n, std::string_view key, bool element) {
        if (element) {
            if (nodes[n].element >= 0) return nodes[n].element;
        } else if (int c = child(n, key); c >= 0) {
            return c;
        }
        if (size == int(max_trie_nodes)) throw "too many trie nodes"; // fails constant evaluation
        int const c = size++;
        nodes[c].key = element ? std::string_view{} : key;
        nodes[c].digest = element ? 0 : key_digest(key);
        nodes[c].parent = n;
        nodes[c].is_element = element;
        if (element) {
            nodes[n].element = c;
        } else {
            nodes[c].next_sibling = nodes[n].first_child;
            nodes[n].first_child = c;
            nodes[n].child_lengths |= std::uint64_t(1) << length_bit(key.size());
        }
        return c;
    }

    // Adds every segment of `pointer` below node `n`; returns the last node.
    constexpr int add_path(int n, std::string_view pointer) {
        while (!pointer.empty()) {
            pointer.remove_prefix(1); // the '/'
            auto const end = pointer.find('/');
            auto const seg = pointer.substr(0, end);
            n = add_child(n, seg, seg == "*");
            pointer = end == std::string_view::npos ? std::string_view{} : pointer.substr(end);
        }
        return n;
    }

    constexpr void add_field(int base, std::string_view pointer, int index) {
        int n = add_path(base, pointer);
        nodes[n].leaf_fields |= 1u << index;
        for (; n >= 0; n = nodes[n].parent)
            nodes[n].fields_below |= 1u << index;
    }
};

// How many leading entries of P's field map point from the document root rather than from the
// envelope: P::root_fields where declared (a webhook's event type beside the payout object
// at its envelope), else none.
template <class P>
constexpr std::size_t root_fields_of() {
    if constexpr (requires { P::root_fields; })
        return P::root_fields;
    else
        return 0;
}

// With an optional envelope, each field is reachable both inside the envelope and at the root;
// the decoder refuses a body that supplies a field in both places.
template <class P>
constexpr field_trie build_trie() {
    field_trie t;
    int const env = t.add_path(0, P::envelope);
    t.envelope = env;
    for (std::size_t i = 0; i < P::fields.size(); ++i) {
        bool const root = i < root_fields_of<P>();
        t.add_field(root ? 0 : env, P::fields[i].pointer, int(i));
        if (P::envelope_optional && env != 0 && !root) t.add_field(0, P::fields[i].pointer, int(i));
    }
    return t;
}

template <class P>
inline constexpr field_trie trie_of = build_trie<P>();

} // namespace payouts::detail
