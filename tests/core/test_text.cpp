// core/text and core/sha256: percent-decoding in both modes, the one UTF-8 decoder, the
// ASCII helpers, and SHA-256 against the FIPS 180-2 vectors.
#include "core/sha256.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

using ts::percent_decode;
using ts::percent_mode;

namespace {

// A std::string from a literal that may hold NUL bytes.
template <size_t N>
std::string bytes(const char (&text)[N]) {
  return std::string(text, N - 1);
}

std::string sha(std::string_view data) {
  return ts::sha256_hex(data);
}

} // namespace

// -- SHA-256 ------------------------------------------------------------------------------

TEST_CASE("sha256 matches the FIPS 180-2 vectors", "[text][sha256]") {
  CHECK(sha("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 448 bits: the padding no longer fits the first block.
  CHECK(sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // 896 bits: the message itself crosses a block boundary.
  CHECK(sha("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
            "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")
        == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST_CASE("sha256 of one million 'a', fed in pieces that straddle blocks", "[text][sha256]") {
  const std::string expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
  CHECK(sha(std::string(1000000, 'a')) == expected);
  ts::sha256 h;
  std::string piece(37, 'a'); // prime to 64: every offset in a block is a piece boundary
  size_t left = 1000000;
  while (left > 0) {
    auto n = std::min(left, piece.size());
    h.update(std::string_view{piece}.substr(0, n));
    left -= n;
  }
  CHECK(h.hex() == expected);
}

TEST_CASE("sha256 at the padding edges (55, 56 and 64 bytes)", "[text][sha256]") {
  // Values from Python's hashlib.
  CHECK(sha(std::string(55, 'a'))
        == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  CHECK(sha(std::string(56, 'a'))
        == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  CHECK(sha(std::string(64, 'a'))
        == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

// -- percent-decoding ---------------------------------------------------------------------

TEST_CASE("percent_decode, form mode: the query string's rules", "[text][percent]") {
  auto form = [](std::string_view s) { return percent_decode(s, percent_mode::form); };
  CHECK(form("") == std::string{});
  CHECK(form("id") == std::string{"id"});
  CHECK(form("a%20b") == std::string{"a b"});
  CHECK(form("%4a%4A") == std::string{"JJ"});
  CHECK(form("%31%32") == std::string{"12"});
  // '+' is a space; an escaped '+' is a plus.
  CHECK(form("a+b") == std::string{"a b"});
  CHECK(form("%2B%2b") == std::string{"++"});
  // A NUL byte decodes (the id parser refuses it later).
  CHECK(form("%00") == bytes("\0"));
  CHECK(form(bytes("a\0b")) == bytes("a\0b"));
  // Malformed or truncated escapes.
  CHECK(form("%") == std::nullopt);
  CHECK(form("%4") == std::nullopt);
  CHECK(form("a%") == std::nullopt);
  CHECK(form("1%2") == std::nullopt);
  CHECK(form("%G0") == std::nullopt);
  CHECK(form("%0G") == std::nullopt);
  CHECK(form("%%41") == std::nullopt);
  CHECK(form("% 1") == std::nullopt);
}

TEST_CASE("percent_decode, strict mode: the database URL's rules", "[text][percent]") {
  auto strict = [](std::string_view s) { return percent_decode(s, percent_mode::strict); };
  CHECK(strict("") == std::string{});
  CHECK(strict("p%40ss%3Aw%2fd") == std::string{"p@ss:w/d"});
  CHECK(strict("%25") == std::string{"%"});
  // '+' is itself.
  CHECK(strict("a+b") == std::string{"a+b"});
  CHECK(strict("%2B") == std::string{"+"});
  // An escaped NUL is refused: no C client API can carry it. A raw one is the caller's
  // to check (db_url refuses it in a sqlite path).
  CHECK(strict("%00") == std::nullopt);
  CHECK(strict("ab%00cd") == std::nullopt);
  CHECK(strict(bytes("a\0b")) == bytes("a\0b"));
  CHECK(strict("%01") == bytes("\x01"));
  // Malformed or truncated escapes.
  CHECK(strict("%") == std::nullopt);
  CHECK(strict("%4") == std::nullopt);
  CHECK(strict("x%") == std::nullopt);
  CHECK(strict("%zz") == std::nullopt);
  CHECK(strict("%0g") == std::nullopt);
}

// -- UTF-8 --------------------------------------------------------------------------------

namespace {

void check_valid(std::string_view s, char32_t cp) {
  INFO("sequence of " << s.size() << " bytes, U+" << std::hex << static_cast<uint32_t>(cp));
  auto step = ts::decode_utf8(s);
  CHECK(step.valid);
  CHECK(step.length == s.size());
  CHECK(step.code_point == cp);
  CHECK(ts::valid_utf8(s));
}

// `subpart` is the length of the maximal invalid subpart at the start of `s`.
void check_invalid(std::string_view s, size_t subpart) {
  INFO("bytes of size " << s.size());
  auto step = ts::decode_utf8(s);
  CHECK_FALSE(step.valid);
  CHECK(step.length == subpart);
  CHECK(step.code_point == 0);
  CHECK_FALSE(ts::valid_utf8(s));
  CHECK_FALSE(ts::valid_utf8("ok " + std::string{s}));
}

} // namespace

TEST_CASE("percent_encode keeps the unreserved bytes and escapes every other one",
          "[text][percent]") {
  CHECK(ts::percent_encode("") == "");
  CHECK(ts::percent_encode("AZaz09-._~") == "AZaz09-._~");
  CHECK(ts::percent_encode("team:ops a+b/c?d&e=f%") == "team%3Aops%20a%2Bb%2Fc%3Fd%26e%3Df%25");
  CHECK(ts::percent_encode(std::string_view{"\0\xff", 2}) == "%00%FF");
  // Every byte value goes there and back, in both decoding modes ('+' is escaped, so form
  // mode never reads a space into it); strict refuses only the NUL byte.
  std::string all;
  for (int b = 1; b < 256; ++b)
    all += static_cast<char>(b);
  CHECK(ts::percent_decode(ts::percent_encode(all), ts::percent_mode::strict) == all);
  CHECK(ts::percent_decode(ts::percent_encode(all), ts::percent_mode::form) == all);
}

TEST_CASE("decode_utf8: valid sequences of 1 to 4 bytes", "[text][utf8]") {
  check_valid(bytes("\0"), 0);
  check_valid("A", 0x41);
  check_valid("\x7F", 0x7F);
  check_valid("\xC2\x80", 0x80);
  check_valid("\xC3\xA9", 0xE9);
  check_valid("\xDF\xBF", 0x7FF);
  check_valid("\xE0\xA0\x80", 0x800);
  check_valid("\xE2\x82\xAC", 0x20AC);
  check_valid("\xED\x9F\xBF", 0xD7FF);
  check_valid("\xEE\x80\x80", 0xE000);
  check_valid("\xEF\xBF\xBF", 0xFFFF);
  check_valid("\xF0\x90\x80\x80", 0x10000);
  check_valid("\xF0\x9F\x98\x80", 0x1F600);
  check_valid("\xF4\x8F\xBF\xBF", 0x10FFFF);
  // Only the first sequence is decoded.
  auto step = ts::decode_utf8("\xC3\xA9\xC3\xA9");
  CHECK(step.valid);
  CHECK(step.length == 2);
}

TEST_CASE("decode_utf8: overlong forms", "[text][utf8]") {
  check_invalid("\xC0\x80", 1);
  check_invalid("\xC1\xBF", 1);
  check_invalid("\xE0\x80\x80", 1);
  check_invalid("\xE0\x9F\xBF", 1);
  check_invalid("\xF0\x80\x80\x80", 1);
  check_invalid("\xF0\x8F\xBF\xBF", 1);
}

TEST_CASE("decode_utf8: surrogates", "[text][utf8]") {
  check_invalid("\xED\xA0\x80", 1);
  check_invalid("\xED\xB0\x80", 1);
  check_invalid("\xED\xBF\xBF", 1);
}

TEST_CASE("decode_utf8: above U+10FFFF", "[text][utf8]") {
  check_invalid("\xF4\x90\x80\x80", 1);
  check_invalid("\xF5\x80\x80\x80", 1);
  check_invalid("\xF7\xBF\xBF\xBF", 1);
  check_invalid("\xF8\x88\x80\x80\x80", 1);
  check_invalid("\xFE", 1);
  check_invalid("\xFF", 1);
}

TEST_CASE("decode_utf8: truncated sequences are one maximal subpart", "[text][utf8]") {
  check_invalid("\xC3", 1);
  check_invalid("\xE2", 1);
  check_invalid("\xE2\x82", 2);
  check_invalid("\xF0\x9F", 2);
  check_invalid("\xF0\x9F\x98", 3);
  // Cut short by a byte that cannot continue it: the subpart ends before that byte.
  check_invalid("\xE2\x82" "A", 2);
  check_invalid("\xF0\x9F\x98" "\xC3\xA9", 3);
  check_invalid("\xF1\x80\x80" "A", 3);
  check_invalid("\xE1\x80\xC2", 2);
}

TEST_CASE("decode_utf8: lone continuation bytes", "[text][utf8]") {
  check_invalid("\x80", 1);
  check_invalid("\xBF", 1);
  check_invalid("\x80\xBF\x80", 1);
}

TEST_CASE("valid_utf8 over whole strings", "[text][utf8]") {
  CHECK(ts::valid_utf8(""));
  CHECK(ts::valid_utf8("echo hello"));
  CHECK(ts::valid_utf8(bytes("a\0b")));
  CHECK(ts::valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF"));
  CHECK_FALSE(ts::valid_utf8("caf\xC3\xA9 \xE2\x82"));
  CHECK_FALSE(ts::valid_utf8("\xC3\xA9\x80"));
}

// -- ASCII helpers ------------------------------------------------------------------------

TEST_CASE("trim, is_space and iequals", "[text]") {
  CHECK(ts::trim(" \t\r\n\v\fa b\f\v\n\r\t ") == "a b");
  CHECK(ts::trim("   ").empty());
  CHECK(ts::trim("") == "");
  CHECK_FALSE(ts::is_space('\0'));
  CHECK_FALSE(ts::is_space('x'));
  CHECK(ts::iequals("Content-Type", "content-TYPE"));
  CHECK(ts::iequals("", ""));
  CHECK_FALSE(ts::iequals("Bearer", "Bearer "));
  CHECK_FALSE(ts::iequals("a", "b"));
}

// -- shell quoting -------------------------------------------------------------------------

TEST_CASE("shell_quote leaves plain words bare and single-quotes the rest", "[text][shell]") {
  using ts::shell_quote;
  CHECK(shell_quote("./backup.sh") == "./backup.sh");
  CHECK(shell_quote("--full") == "--full");
  CHECK(shell_quote("a@b:c,d%e+f_g") == "a@b:c,d%e+f_g");
  CHECK(shell_quote("") == "''");
  CHECK(shell_quote("two words") == "'two words'");
  CHECK(shell_quote("FOO=bar") == "'FOO=bar'");
  CHECK(shell_quote("$HOME") == "'$HOME'");
  CHECK(shell_quote("~") == "'~'");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(shell_quote("*") == "'*'");
  CHECK(shell_quote("a\nb") == "'a\nb'");
}
