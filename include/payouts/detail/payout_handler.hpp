// The boost::json::basic_parser handler behind decode<P>: it walks the body once, follows the
// provider's field trie, and captures the exact text of each mapped value. Conversion happens
// afterwards (decode.hpp), so the hot loop does no allocation and no number conversion of ours.
#pragma once

#include <payouts/detail/field_trie.hpp>

#include <boost/json/basic_parser.hpp>
#include <boost/json/error.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace payouts::detail {

inline constexpr std::size_t max_json_depth = 64;

enum class json_kind : std::uint8_t { none, string, number, boolean, null, object, array };

// The text of one mapped value: a view into the body, or into the handler's arena when the
// parser had to unescape or join it.
struct capture {
    json_kind kind = json_kind::none;
    std::string_view text;
    std::int16_t node = -1;    // where it was found, for error messages
    std::uint32_t element = 0; // index in the "*" array above it, if any
};

template <class P>
class payout_handler {
    static constexpr field_trie const& trie = trie_of<P>;
    using sv = boost::json::string_view;
    using ec_t = boost::system::error_code;

    struct frame {
        int node;
        bool array;
        std::uint32_t count; // elements seen so far (arrays)
        std::uint32_t stamp; // this object's instance id (duplicate-key check)
    };

public:
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    std::array<capture, P::fields.size()> caps{};
    // Set when the handler itself refuses the body.
    int error_node = -1;
    std::uint32_t error_element = 0;
    std::string_view error_expected;
    json_kind error_got = json_kind::none;
    std::string error_text; // the refused scalar's text (a copy: the parser's buffers go away)
    bool error_duplicate = false;

    explicit payout_handler(std::string_view body)
        : body_(body) {}

    bool on_document_begin(ec_t&) { return true; }
    bool on_document_end(ec_t&) { return true; }

    bool on_object_begin(ec_t& ec) {
        int n = begin_value();
        if (n >= 0) {
            auto const& nd = trie.nodes[n];
            if (nd.leaf_fields) {
                if (!capture_all(n, json_kind::object, "object"))
                    return refuse(ec, n, "the field once", json_kind::none);
                n = -1;
            } else if (nd.first_child < 0) {
                return refuse(ec, n, "an array", json_kind::object);
            }
        }
        return push(ec, frame{n, false, 0, ++stamps_});
    }
    bool on_object_end(std::size_t, ec_t&) {
        --depth_;
        return true;
    }
    bool on_array_begin(ec_t& ec) {
        int n = begin_value();
        if (n >= 0) {
            auto const& nd = trie.nodes[n];
            if (nd.leaf_fields) {
                if (!capture_all(n, json_kind::array, "array"))
                    return refuse(ec, n, "the field once", json_kind::none);
                n = -1;
            } else if (nd.element < 0) {
                return refuse(ec, n, n == 0 ? "a JSON object at the root" : "an object",
                              json_kind::array);
            }
        }
        return push(ec, frame{n, true, 0, 0});
    }
    bool on_array_end(std::size_t, ec_t&) {
        --depth_;
        return true;
    }

    bool on_key_part(sv s, std::size_t, ec_t&) {
        if (frames_[depth_ - 1].node >= 0) key_buf_.append(s.data(), s.size());
        return true;
    }
    bool on_key(sv s, std::size_t, ec_t& ec) {
        frame const& f = frames_[depth_ - 1];
        pending_ = -1;
        if (f.node < 0) return true;
        std::string_view key(s.data(), s.size());
        if (!key_buf_.empty()) {
            key_buf_.append(s.data(), s.size());
            key = key_buf_;
        }
        int const c = trie.child(f.node, key);
        key_buf_.clear();
        if (c < 0) return true;
        if (seen_[c] == f.stamp) {
            error_duplicate = true;
            return refuse(ec, c, "each key once", json_kind::none);
        }
        seen_[c] = f.stamp;
        pending_ = c;
        return true;
    }

    bool on_string_part(sv s, std::size_t, ec_t& ec) {
        if (!in_part_) {
            in_part_ = true;
            part_node_ = begin_value();
            part_start_ = arena_.size();
        }
        return part_node_ < 0 || append(ec, s);
    }
    bool on_string(sv s, std::size_t, ec_t& ec) { return scalar(ec, json_kind::string, s); }
    bool on_number_part(sv s, ec_t& ec) { return on_string_part(s, 0, ec); }
    bool on_int64(std::int64_t, sv s, ec_t& ec) { return scalar(ec, json_kind::number, s); }
    bool on_uint64(std::uint64_t, sv s, ec_t& ec) { return scalar(ec, json_kind::number, s); }
    bool on_double(double, sv s, ec_t& ec) { return scalar(ec, json_kind::number, s); }
    bool on_bool(bool b, ec_t& ec) {
        return scalar(ec, json_kind::boolean, b ? sv("true") : sv("false"));
    }
    bool on_null(ec_t& ec) { return scalar(ec, json_kind::null, sv("null")); }
    bool on_comment_part(sv, ec_t&) { return true; }
    bool on_comment(sv, ec_t&) { return true; }

    // JSON pointer of `node` as found in the body, with `element` for its "*" segment.
    std::string pointer_of(int node, std::uint32_t element) const {
        std::string out;
        for (int n = node; n > 0; n = trie.nodes[n].parent) {
            std::string seg =
                trie.nodes[n].is_element ? std::to_string(element) : std::string(trie.nodes[n].key);
            out.insert(0, "/" + seg);
        }
        return out;
    }

private:
    bool refuse(ec_t& ec, int node, std::string_view expected, json_kind got,
                std::string_view got_text = {}) {
        error_node = node;
        error_element = element_;
        error_expected = expected;
        error_got = got;
        error_text.assign(got_text.substr(0, 64));
        ec = boost::json::error::syntax; // replaced by the caller, which reads the fields above
        return false;
    }

    bool push(ec_t& ec, frame f) {
        if (depth_ == frames_.size()) return refuse(ec, 0, "less nesting", json_kind::none);
        frames_[depth_++] = f;
        return true;
    }

    // Which trie node the value starting now belongs to (-1: not tracked).
    int begin_value() {
        if (depth_ == 0) return 0;
        frame& f = frames_[depth_ - 1];
        if (!f.array) return pending_;
        std::uint32_t const index = f.count++;
        if (f.node < 0) return -1;
        int const e = trie.nodes[f.node].element;
        if (e < 0) return -1;
        // A new element: what the previous one fed no longer counts (the last element wins).
        element_ = index;
        for (std::uint32_t m = trie.nodes[e].fields_below; m; m &= m - 1)
            caps[unsigned(__builtin_ctz(m))] = capture{};
        return e;
    }

    bool append(ec_t& ec, sv s) {
        // Captured texts are disjoint parts of the body and never longer unescaped, so one
        // reservation of the body's size keeps every earlier view valid.
        if (arena_.capacity() < body_.size()) arena_.reserve(body_.size());
        if (arena_.size() + s.size() > arena_.capacity())
            return refuse(ec, 0, "a smaller body", json_kind::none);
        arena_.append(s.data(), s.size());
        return true;
    }

    bool scalar(ec_t& ec, json_kind kind, sv s) {
        int n;
        std::string_view text(s.data(), s.size());
        if (in_part_) {
            in_part_ = false;
            n = part_node_;
            if (n < 0) return true;
            if (!append(ec, s)) return false;
            text = std::string_view(arena_).substr(part_start_);
        } else {
            n = begin_value();
            if (n < 0) return true;
            bool const in_body = text.data() >= body_.data() &&
                                 text.data() + text.size() <= body_.data() + body_.size();
            if (!in_body && kind != json_kind::boolean && kind != json_kind::null) {
                auto const start = arena_.size();
                if (!append(ec, s)) return false;
                text = std::string_view(arena_).substr(start);
            }
        }
        auto const& nd = trie.nodes[n];
        if (nd.leaf_fields == 0) {
            if (kind == json_kind::null) return true; // an absent object or array
            return refuse(ec, n, nd.element >= 0 ? "an array" : "an object", kind, text);
        }
        return capture_all(n, kind, text) || refuse(ec, n, "the field once", json_kind::none);
    }

    // False when a field already holds a value from elsewhere (optional envelope given twice).
    bool capture_all(int n, json_kind kind, std::string_view text) {
        bool ok = true;
        for (std::uint32_t m = trie.nodes[n].leaf_fields; m; m &= m - 1) {
            auto& c = caps[unsigned(__builtin_ctz(m))];
            if (c.kind != json_kind::none) {
                ok = false;
                error_duplicate = true;
            }
            c = capture{kind, text, std::int16_t(n), element_};
        }
        return ok;
    }

    std::string_view body_;
    std::array<frame, max_json_depth + 1> frames_; // only [0, depth_) is ever read
    std::size_t depth_ = 0;
    std::array<std::uint32_t, std::size_t(trie.size)> seen_{};
    std::uint32_t stamps_ = 0;
    int pending_ = -1;
    std::uint32_t element_ = 0;
    bool in_part_ = false;
    int part_node_ = -1;
    std::size_t part_start_ = 0;
    std::string key_buf_;
    std::string arena_;
};

} // namespace payouts::detail
