// core/tokens: the token file's every form and every refusal (with its line number and never
// a secret), the lookup of a presented token, and the holder's swap.
#include "core/tokens.hpp"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

using ts::parse_token_file;
using ts::token_scope;

namespace {

ts::token_set parse(const std::string& text) {
  auto r = parse_token_file(text);
  INFO(r.error());
  REQUIRE(r);
  CHECK(r.error().empty());
  return *r;
}

// Refused with exactly `why`, and no field of the text shows in the message.
void refused(const std::string& text, const std::string& why,
             const std::vector<std::string>& secrets = {}) {
  auto r = parse_token_file(text);
  INFO(text);
  REQUIRE_FALSE(r);
  CHECK(r.error() == why);
  for (auto& s : secrets)
    CHECK(r.error().find(s) == std::string::npos);
}

} // namespace

TEST_CASE("tokens: one bare token is the write token named default", "[tokens]") {
  for (std::string text : {"s3cret", "s3cret\n", "s3cret\r\n", "  s3cret  \n\n", "\ts3cret"}) {
    INFO(text);
    auto set = parse(text);
    REQUIRE(set.tokens.size() == 1);
    CHECK(set.tokens[0].name == "default");
    CHECK(set.tokens[0].scope == token_scope::write);
    CHECK(set.tokens[0].secret == "s3cret");
  }
  // What `head -c 32 /dev/urandom | base64` writes.
  auto b64 = parse("q9Zt0Yl+9x/3kJm1m2Lq0b6Bq7c8S0mQkq1y0h5Yx6E=\n");
  CHECK(b64.tokens[0].secret == "q9Zt0Yl+9x/3kJm1m2Lq0b6Bq7c8S0mQkq1y0h5Yx6E=");
}

TEST_CASE("tokens: NAME SCOPE TOKEN lines, comments and blank lines", "[tokens]") {
  auto set = parse("# who may do what\n"
                   "\n"
                   "dashboard read  r-token-1\n"
                   "  # indented comment\n"
                   "deployer\twrite\tw-token-2\r\n"
                   "   \t \n"
                   "a.b_c-9 read r3");
  REQUIRE(set.tokens.size() == 3);
  CHECK(set.tokens[0].name == "dashboard");
  CHECK(set.tokens[0].scope == token_scope::read);
  CHECK(set.tokens[0].secret == "r-token-1");
  CHECK(set.tokens[1].name == "deployer");
  CHECK(set.tokens[1].scope == token_scope::write);
  CHECK(set.tokens[1].secret == "w-token-2");
  CHECK(set.tokens[2].name == "a.b_c-9");
  CHECK(ts::token_names(set) == "dashboard,deployer,a.b_c-9");
  // A bare token beside named ones is the one named default.
  auto mixed = parse("legacy-token\nci read ci-token\n");
  REQUIRE(mixed.tokens.size() == 2);
  CHECK(mixed.tokens[0].name == "default");
  CHECK(mixed.tokens[1].name == "ci");
  // The longest name.
  CHECK(parse(std::string(64, 'n') + " write t").tokens[0].name == std::string(64, 'n'));
}

TEST_CASE("tokens: refusals name the line and never its text", "[tokens]") {
  refused("", "no token in the file (only blank lines or comments)");
  refused("\n\n  \n# only a comment\n", "no token in the file (only blank lines or comments)");
  refused("alpha read bravo charlie\n", "line 1: expected NAME SCOPE TOKEN, or one bare token",
          {"alpha", "bravo", "charlie"});
  refused("# c\nname secret-1\n", "line 2: expected NAME SCOPE TOKEN, or one bare token",
          {"secret-1"});
  refused("ops admin secret-2\n", "line 1: the scope must be read or write",
          {"admin", "secret-2"});
  refused("ops READ secret-3\n", "line 1: the scope must be read or write", {"secret-3"});
  // A misordered line: the token where the scope goes is never shown.
  refused("ops secret-4 read\n", "line 1: the scope must be read or write", {"secret-4"});
  refused("op$ read secret-5\n", "line 1: a name is 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'",
          {"secret-5", "op$"});
  refused(std::string(65, 'n') + " read t\n",
          "line 1: a name is 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'");
  // Found by the fuzzer: a token that begins with '#' (a trailing comment's look).
  refused("\n rer\n\n# tokens\npl\twrite #\n",
          "line 5: a token must not begin with '#' (a comment takes a whole line)");
  refused("ops write #todo-later\n",
          "line 1: a token must not begin with '#' (a comment takes a whole line)");
  refused("a read one\nb write two\na write three\n",
          "line 3: the name is already used on line 1", {"one", "two", "three"});
  refused("first\n\nsecond\n",
          "line 3: the name is already used on line 1 (a bare token is named default)",
          {"first", "second"});
  refused("a read same-secret\nb write same-secret\n",
          "line 2: the token is already given on line 1 (one token, one name)",
          {"same-secret"});
  refused("ok read t1\nbad read t\x01x\n",
          "line 2: a control or non-ASCII byte (only printable ASCII, spaces and tabs may "
          "appear)");
  refused(std::string("tok\0en", 6),
          "line 1: a control or non-ASCII byte (only printable ASCII, spaces and tabs may "
          "appear)");
  refused("\xEF\xBB\xBFtoken\n",
          "line 1: a control or non-ASCII byte (only printable ASCII, spaces and tabs may "
          "appear)");
  refused("t\xC3\xA9st\n",
          "line 1: a control or non-ASCII byte (only printable ASCII, spaces and tabs may "
          "appear)");
  std::string many;
  for (size_t i = 0; i <= ts::max_tokens; ++i)
    many += "n" + std::to_string(i) + " read t" + std::to_string(i) + "\n";
  refused(many, "line 1001: more than 1000 tokens");
}

TEST_CASE("tokens: find_token matches a whole secret only", "[tokens]") {
  auto set = parse("r read read-secret\nw write write-secret\n");
  auto* r = ts::find_token(set, "read-secret");
  REQUIRE(r != nullptr);
  CHECK(r->name == "r");
  auto* w = ts::find_token(set, "write-secret");
  REQUIRE(w != nullptr);
  CHECK(w->name == "w");
  CHECK(ts::find_token(set, "") == nullptr);
  CHECK(ts::find_token(set, "read-secre") == nullptr);
  CHECK(ts::find_token(set, "read-secrets") == nullptr);
  CHECK(ts::find_token(set, "READ-SECRET") == nullptr);
  CHECK(ts::find_token(set, std::string("read-secret\0", 12)) == nullptr);
}

TEST_CASE("tokens: the holder swaps whole sets under concurrent readers", "[tokens]") {
  auto a = std::make_shared<const ts::token_set>(parse("a write ta\n"));
  auto b = std::make_shared<const ts::token_set>(parse("b read tb\nc write tc\n"));
  ts::token_holder holder{a};
  CHECK(holder.get() == a);
  std::vector<std::thread> readers;
  std::atomic<bool> torn{false};
  for (int i = 0; i < 2; ++i)
    readers.emplace_back([&] {
      for (int k = 0; k < 20000; ++k) {
        auto set = holder.get();
        // Each read sees one of the two whole sets.
        if (!(set->tokens.size() == 1 && set->tokens[0].name == "a")
            && !(set->tokens.size() == 2 && set->tokens[1].name == "c"))
          torn = true;
      }
    });
  for (int k = 0; k < 2000; ++k)
    holder.set(k % 2 ? a : b);
  for (auto& t : readers)
    t.join();
  CHECK_FALSE(torn);
  holder.set(b);
  CHECK(holder.get() == b);
}
