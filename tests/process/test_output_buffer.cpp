#include "process/output_buffer.hpp"
#include "core/text.hpp"

#include <random>
#include <string>

#include <catch2/catch.hpp>

using ts::output_buffer;
using ts::repair_utf8;
using ts::utf8_stream_repair;

namespace {

const std::string fffd = "\xEF\xBF\xBD";

std::string times(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i)
    out += s;
  return out;
}

} // namespace

TEST_CASE("output_buffer keeps everything below the limit") {
  output_buffer buf{16};
  buf.append("hello ", 6);
  buf.append("world", 5);
  CHECK(buf.str() == "hello world");
  CHECK_FALSE(buf.truncated());
  buf.append("12345", 5);  // exactly at the limit
  CHECK(buf.str() == "hello world12345");
  CHECK_FALSE(buf.truncated());
}

TEST_CASE("output_buffer keeps the newest bytes once over the limit") {
  output_buffer buf{8};
  buf.append("abcdef", 6);
  buf.append("ghij", 4);
  CHECK(buf.truncated());
  CHECK(buf.str() == "cdefghij");
  // Wrap around the ring several times with writes of every size below the limit.
  std::string all = "cdefghij";
  for (int size = 1; size < 8; ++size) {
    std::string chunk;
    for (int i = 0; i < size; ++i)
      chunk += static_cast<char>('k' + (size * 3 + i) % 16);
    buf.append(chunk.data(), chunk.size());
    all += chunk;
    REQUIRE(buf.str() == all.substr(all.size() - 8));
  }
}

TEST_CASE("output_buffer keeps the tail of one write larger than the limit") {
  output_buffer buf{4};
  buf.append("ab", 2);
  buf.append("0123456789", 10);
  CHECK(buf.truncated());
  CHECK(buf.str() == "6789");
  buf.append("x", 1);
  CHECK(buf.str() == "789x");
}

TEST_CASE("output_buffer keeps exactly the limit of a long stream") {
  const size_t limit = 64 * 1024;
  output_buffer buf{limit};
  std::string all;
  for (int i = 0; all.size() < 200 * 1024; ++i) {
    auto line = std::to_string(i) + "\n";
    all += line;
    buf.append(line.data(), line.size());
  }
  CHECK(buf.truncated());
  auto kept = buf.str();
  CHECK(kept.size() == limit);
  CHECK(kept == all.substr(all.size() - limit));
}

TEST_CASE("output_buffer drops the continuation bytes that truncation orphaned") {
  // "é" is C3 A9 and "€" is E2 82 AC; cutting inside them leaves continuation bytes.
  output_buffer two{4};
  two.append("x\xC3\xA9" "abc", 6);  // keeps A9 a b c
  CHECK(two.str() == "abc");
  output_buffer three{5};
  three.append("\xE2\x82\xAC" "abcd", 7);  // keeps AC a b c d
  CHECK(three.str() == "abcd");
  output_buffer four{4};
  four.append("\xE2\x82\xAC" "ab", 5);  // keeps 82 AC a b
  CHECK(four.str() == "ab");
  output_buffer whole{5};
  whole.append("zz\xE2\x82\xAC" "ab", 7);  // the character itself survives
  CHECK(whole.str() == "\xE2\x82\xAC" "ab");
}

TEST_CASE("output_buffer without truncation replaces a leading continuation byte") {
  output_buffer buf{16};
  buf.append("\x80" "a", 2);
  CHECK(buf.str() == fffd + "a");
}

TEST_CASE("output_buffer repairs invalid bytes in the middle") {
  output_buffer buf{16};
  buf.append("a\xFF" "b", 3);
  CHECK(buf.str() == "a" + fffd + "b");
}

TEST_CASE("repair_utf8 leaves valid UTF-8 alone") {
  const std::string valid = "plain ASCII\n"
                            "\xC3\xA9"              // U+00E9
                            "\xDF\xBF"              // U+07FF
                            "\xE0\xA0\x80"          // U+0800
                            "\xED\x9F\xBF"          // U+D7FF, last before the surrogates
                            "\xEE\x80\x80"          // U+E000, first after them
                            "\xEF\xBF\xBD"          // U+FFFD itself
                            "\xF0\x90\x80\x80"      // U+10000
                            "\xF0\x9F\x98\x80"      // U+1F600
                            "\xF4\x8F\xBF\xBF";     // U+10FFFF, the last code point
  CHECK(repair_utf8(valid) == valid);
  CHECK(repair_utf8("") == "");
  CHECK(repair_utf8(std::string("a\0b", 3)) == std::string("a\0b", 3));
}

TEST_CASE("repair_utf8 replaces each maximal invalid subpart once") {
  // Overlong forms: C0 and C1 never start a character, E0 80 / F0 80 are not subparts.
  CHECK(repair_utf8("\xC0\x80") == times(fffd, 2));
  CHECK(repair_utf8("\xC1\xBF") == times(fffd, 2));
  CHECK(repair_utf8("\xE0\x80\x80") == times(fffd, 3));
  CHECK(repair_utf8("\xF0\x80\x80\x80") == times(fffd, 4));
  // Surrogates U+D800 and U+DFFF.
  CHECK(repair_utf8("\xED\xA0\x80") == times(fffd, 3));
  CHECK(repair_utf8("\xED\xBF\xBF") == times(fffd, 3));
  // Above U+10FFFF, and bytes that never occur.
  CHECK(repair_utf8("\xF4\x90\x80\x80") == times(fffd, 4));
  CHECK(repair_utf8("\xF5\x80\x80\x80") == times(fffd, 4));
  CHECK(repair_utf8("\xFE\xFF") == times(fffd, 2));
  // Lone continuation bytes: one each.
  CHECK(repair_utf8("\x80") == fffd);
  CHECK(repair_utf8("\x80\xBF\x80") == times(fffd, 3));
  // Truncated sequences are one maximal subpart each.
  CHECK(repair_utf8("\xC3") == fffd);
  CHECK(repair_utf8("\xE2\x82") == fffd);
  CHECK(repair_utf8("\xF0\x9F\x98") == fffd);
  CHECK(repair_utf8("\xF0\x9F\x98" "a") == fffd + "a");
  CHECK(repair_utf8("\xE2\x82" "\xE2\x82\xAC") == fffd + "\xE2\x82\xAC");
}

TEST_CASE("repair_utf8 matches the Unicode standard's examples") {
  // Unicode 15, section 3.9, table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64.
  CHECK(repair_utf8("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64")
        == "a" + times(fffd, 3) + "b" + fffd + "c" + times(fffd, 2) + "d");
  // The W3C/WHATWG encoding test: a truncated 4-byte sequence then ASCII.
  CHECK(repair_utf8("\xF1\x80\x80" "A") == fffd + "A");
  // An invalid second byte does not swallow a valid following character.
  CHECK(repair_utf8("\xE2" "\xC3\xA9") == fffd + "\xC3\xA9");
}

TEST_CASE("utf8_stream_repair holds a cut sequence back for the next piece") {
  utf8_stream_repair r;
  CHECK(r.feed("a\xE2") == "a");
  CHECK(r.feed("\x82") == "");
  CHECK(r.feed("\xAC" "b\xF0\x9F") == "\xE2\x82\xAC" "b");
  // The rest does not continue the held bytes: they are one maximal subpart, replaced.
  CHECK(r.feed("c") == fffd + "c");
  // Invalid at once needs no waiting: E0 80 can never become valid, nor can FF.
  CHECK(r.feed("\xE0\x80") == times(fffd, 2));
  CHECK(r.feed("\xFF") == fffd);
  CHECK(r.finish() == "");
  CHECK(r.feed("\xC3") == "");
  CHECK(r.finish() == fffd);  // cut by the end of the stream
  CHECK(r.finish() == "");
}

TEST_CASE("utf8_stream_repair in pieces equals repair_utf8 of the whole, however cut") {
  // Bytes that make every kind of sequence: ASCII, leads of each length and their special
  // second-byte ranges, continuations, never-valid bytes.
  const std::string alphabet = "a\n\x80\x9F\xA0\xBF\xC2\xC3\xDF\xE0\xE2\xED\xEF\xF0\xF4\xF5\xFF";
  std::mt19937 gen{42};
  for (int round = 0; round < 2000; ++round) {
    std::string all;
    auto len = std::uniform_int_distribution<size_t>{0, 40}(gen);
    for (size_t i = 0; i < len; ++i)
      all += alphabet[std::uniform_int_distribution<size_t>{0, alphabet.size() - 1}(gen)];
    utf8_stream_repair r;
    output_buffer buf{std::uniform_int_distribution<size_t>{1, 48}(gen)};
    std::string pieces;
    std::string buffered;
    for (size_t at = 0; at < all.size();) {
      auto n = std::min(all.size() - at, std::uniform_int_distribution<size_t>{1, 5}(gen));
      pieces += r.feed(all.substr(at, n));
      buffered += buf.append(all.data() + at, n);
      at += n;
    }
    pieces += r.finish();
    buffered += buf.finish();
    auto whole = repair_utf8(all);
    REQUIRE(pieces == whole);
    REQUIRE(buffered == whole);
    // The kept tail is a suffix of the same stream, starting at a character.
    auto tail = buf.str();
    REQUIRE(tail.size() <= whole.size());
    REQUIRE(whole.compare(whole.size() - tail.size(), tail.size(), tail) == 0);
    REQUIRE(ts::valid_utf8(tail));
  }
}

TEST_CASE("output_buffer counts its limit in repaired bytes") {
  // One invalid byte becomes three: the limit bounds what is kept and stored.
  output_buffer buf{4};
  CHECK(buf.append("\xFF\xFF", 2) == times(fffd, 2));
  CHECK(buf.truncated());
  CHECK(buf.str() == fffd);
}
