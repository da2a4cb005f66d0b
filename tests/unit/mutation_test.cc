// Mutation test of the shipped rules: each rule file of rules/ is broken in systematic ways (a
// token dropped, two tokens swapped, a name misspelt, a literal of another type, the file cut
// short) and compiled with the other files as they are. Every mutant must be either accepted or
// rejected with located diagnostics a rule author can act on; never a crash, an exception or a
// hang. The sample is deterministic (evenly spaced over each file) and bounded, so the test runs
// in seconds even under ASan.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/dsl.h"

namespace lawful::dsl {
namespace {

using Clock = std::chrono::steady_clock;

// Mutants per (file, kind), at most: with the 3 shipped files and 6 kinds, about 2,000 in all,
// which take about 25 s of CPU in the ASan+UBSan Debug build (4 s in the default build).
constexpr size_t kPerKind = 200;
// A mutant slower than this fails the test; one slower than kHang aborts it with its name (a
// hang would otherwise only show as a ctest timeout, without saying which mutant).
constexpr auto kBudget = std::chrono::seconds(5);
constexpr auto kHang = std::chrono::seconds(60);

// ---- a small lexer, enough to find the rules language's tokens ----
enum class TokenKind { kWord, kNumber, kDate, kInstant, kText, kPunct };

struct Token {
  size_t begin = 0, end = 0;
  TokenKind kind = TokenKind::kPunct;
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsWordChar(char c) {
  return IsDigit(c) || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::vector<Token> Lex(const std::string& s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
    } else if (c == '#') {
      while (i < s.size() && s[i] != '\n') ++i;
    } else if (c == '"') {
      size_t j = i + 1;
      while (j < s.size() && s[j] != '"' && s[j] != '\n') j += s[j] == '\\' ? 2 : 1;
      out.push_back({i, std::min(j + 1, s.size()), TokenKind::kText});
      i = out.back().end;
    } else if (IsDigit(c)) {
      size_t j = i;
      while (j < s.size() && (IsDigit(s[j]) || s[j] == '-' || s[j] == ':' || s[j] == 'T' ||
                              s[j] == 'Z' || s[j] == '.'))
        ++j;
      const std::string text = s.substr(i, j - i);
      const TokenKind kind = text.find('T') != std::string::npos   ? TokenKind::kInstant
                             : text.find('-') != std::string::npos ? TokenKind::kDate
                                                                   : TokenKind::kNumber;
      out.push_back({i, j, kind});
      i = j;
    } else if (IsWordChar(c)) {
      size_t j = i;
      while (j < s.size() && IsWordChar(s[j])) ++j;
      out.push_back({i, j, TokenKind::kWord});
      i = j;
    } else {
      const bool two =
          i + 1 < s.size() && s[i + 1] == '=' && (c == '<' || c == '>' || c == '=' || c == '!');
      out.push_back({i, i + (two ? 2 : 1), TokenKind::kPunct});
      i = out.back().end;
    }
  }
  return out;
}

// ---- mutations ----
struct Mutant {
  std::string kind;
  std::string description;  // e.g. "marketing.lawful: drop `when` at byte 1234"
  std::string text;
};

std::string Replace(const std::string& s, size_t begin, size_t end, const std::string& with) {
  return s.substr(0, begin) + with + s.substr(end);
}

// A literal of another type: a number becomes a text, a date or an instant a number, a text a
// number, a boolean a number.
std::string OtherType(const std::string& literal, TokenKind kind) {
  switch (kind) {
    case TokenKind::kNumber:
      return absl::StrCat("\"", literal, "\"");
    case TokenKind::kDate:
    case TokenKind::kInstant:
      return literal.substr(0, 4);
    case TokenKind::kText:
      return "7";
    default:
      return "1";  // true, false
  }
}

// Up to kPerKind of `candidates`, evenly spaced, so the sample spans the whole file.
template <typename T>
std::vector<T> Sample(const std::vector<T>& candidates) {
  if (candidates.size() <= kPerKind) return candidates;
  std::vector<T> out;
  for (size_t i = 0; i < kPerKind; ++i) out.push_back(candidates[i * candidates.size() / kPerKind]);
  return out;
}

std::vector<Mutant> Mutate(const SourceFile& file) {
  const std::string& s = file.text;
  const std::vector<Token> tokens = Lex(s);
  auto text_of = [&](const Token& t) { return s.substr(t.begin, t.end - t.begin); };
  auto where = [&](const Token& t) { return absl::StrCat(file.path, " at byte ", t.begin); };
  std::vector<size_t> all, words, literals;
  for (size_t i = 0; i < tokens.size(); ++i) {
    all.push_back(i);
    const std::string text = text_of(tokens[i]);
    if (tokens[i].kind == TokenKind::kWord && text != "true" && text != "false") words.push_back(i);
    if (tokens[i].kind != TokenKind::kWord && tokens[i].kind != TokenKind::kPunct)
      literals.push_back(i);
    if (text == "true" || text == "false") literals.push_back(i);
  }
  std::vector<Mutant> out;
  for (size_t i : Sample(all)) {
    out.push_back({"drop a token",
                   absl::StrCat("drop `", text_of(tokens[i]), "` ", where(tokens[i])),
                   Replace(s, tokens[i].begin, tokens[i].end, "")});
  }
  for (size_t i : Sample(std::vector<size_t>(all.begin(), all.end() - (all.empty() ? 0 : 1)))) {
    const Token& a = tokens[i];
    const Token& b = tokens[i + 1];
    out.push_back({"swap two tokens",
                   absl::StrCat("swap `", text_of(a), "` and `", text_of(b), "` ", where(a)),
                   s.substr(0, a.begin) + text_of(b) + s.substr(a.end, b.begin - a.end) +
                       text_of(a) + s.substr(b.end)});
  }
  for (size_t i : Sample(words)) {
    const std::string w = text_of(tokens[i]);
    // Alternately a letter too many and a letter too few (a one-letter name gets a letter more).
    const std::string misspelt = i % 2 == 0 || w.size() == 1 ? w + "x" : w.substr(0, w.size() - 1);
    out.push_back({"misspell a name",
                   absl::StrCat("misspell `", w, "` as `", misspelt, "` ", where(tokens[i])),
                   Replace(s, tokens[i].begin, tokens[i].end, misspelt)});
  }
  for (size_t i : Sample(literals)) {
    const std::string lit = text_of(tokens[i]);
    const std::string other = OtherType(lit, tokens[i].kind);
    out.push_back({"change a literal's type",
                   absl::StrCat("`", lit, "` as `", other, "` ", where(tokens[i])),
                   Replace(s, tokens[i].begin, tokens[i].end, other)});
  }
  for (size_t i : Sample(all)) {
    // Cut inside the token when it is long enough, else right after it.
    const size_t at = tokens[i].end - tokens[i].begin > 2 ? tokens[i].begin + 2 : tokens[i].end;
    out.push_back({"truncate", absl::StrCat("cut ", file.path, " at byte ", at), s.substr(0, at)});
  }
  std::vector<size_t>
      lines;  // a whole line deleted: a clause, a rule head, a brace (not a comment)
  for (size_t i = 0, start = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '\n') {
      const size_t first = s.find_first_not_of(" \t", start);
      if (first < i && s[first] != '#') lines.push_back(start);
      start = i + 1;
    }
  }
  for (size_t start : Sample(lines)) {
    const size_t end = s.find('\n', start);
    out.push_back({"drop a line", absl::StrCat("drop the line at byte ", start, " of ", file.path),
                   Replace(s, start, end == std::string::npos ? s.size() : end + 1, "")});
  }
  out.erase(std::remove_if(out.begin(), out.end(), [&](const Mutant& m) { return m.text == s; }),
            out.end());
  return out;
}

// ---- what a rejection must look like ----
size_t LineCount(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
}

std::string LineOf(const std::string& text, uint32_t line) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  std::string out = line - 1 < lines.size() ? lines[line - 1] : "";
  if (!out.empty() && out.back() == '\r') out.pop_back();
  return out;
}

// Empty when `d` is located and shown as promised, else what is wrong with it.
std::string CheckLocated(const Diagnostic& d, const std::vector<SourceFile>& files) {
  const SourceFile* file = nullptr;
  for (const SourceFile& f : files) {
    if (f.path == d.file) file = &f;
  }
  if (file == nullptr) return absl::StrCat("names no file of the rule set: `", d.file, "`");
  if (d.line < 1 || d.line > LineCount(file->text))
    return absl::StrCat("line ", d.line, " is not in the file");
  const std::string line = LineOf(file->text, d.line);
  if (d.column < 1 || d.column > line.size() + 1)
    return absl::StrCat("column ", d.column, " is not on line ", d.line);
  const std::string shown = FormatDiagnostic(d, files);
  const std::string header = absl::StrCat(d.file, ":", d.line, ":", d.column, ": ");
  if (shown.rfind(header, 0) != 0)
    return absl::StrCat("does not start with `", header, "`: ", shown);
  std::vector<std::string> parts = absl::StrSplit(shown, '\n');
  if (parts.size() < 3 || parts[1] != "  " + line || parts[2].find('^') == std::string::npos) {
    return absl::StrCat("does not show its line and a caret: ", shown);
  }
  return "";
}

// Aborts the process, naming the mutant, when one compile runs far past its budget.
class Watchdog {
 public:
  Watchdog() : thread_([this] { Watch(); }) {}
  ~Watchdog() {
    stop_ = true;
    thread_.join();
  }
  void Start(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    what_ = what;
    started_ = Clock::now();
  }
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    what_.clear();
  }

 private:
  void Watch() {
    while (!stop_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::lock_guard<std::mutex> lock(mu_);
      if (!what_.empty() && Clock::now() - started_ > kHang) {
        std::fprintf(
            stderr, "mutation test: hang (over %lld s) compiling mutant: %s\n",
            static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(kHang).count()),
            what_.c_str());
        std::abort();
      }
    }
  }
  std::mutex mu_;
  std::string what_;
  Clock::time_point started_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Tally {
  int accepted = 0;
  int rejected = 0;
};

TEST(Mutation, EveryMutantOfTheShippedRulesIsAcceptedOrRejectedWithLocatedDiagnostics) {
  absl::StatusOr<std::vector<SourceFile>> shipped = ReadRuleFiles(LAWFUL_SOURCE_DIR "/rules");
  ASSERT_TRUE(shipped.ok()) << shipped.status();
  ASSERT_TRUE(Compile(*shipped).ok()) << "the shipped rules themselves must compile";

  Watchdog watchdog;
  std::map<std::string, Tally> by_kind;
  Tally total;
  Clock::duration slowest{};
  std::string slowest_name;
  for (size_t f = 0; f < shipped->size(); ++f) {
    for (Mutant& m : Mutate((*shipped)[f])) {
      std::vector<SourceFile> files = *shipped;
      files[f].text = std::move(m.text);
      SCOPED_TRACE(m.description);
      watchdog.Start(m.description);
      const Clock::time_point start = Clock::now();
      CompileResult result;
      bool threw = false;
      try {
        result = Compile(files);
      } catch (const std::exception& e) {
        threw = true;
        ADD_FAILURE() << "exception escaped: " << e.what();
      } catch (...) {
        threw = true;
        ADD_FAILURE() << "exception escaped";
      }
      const Clock::duration took = Clock::now() - start;
      watchdog.Stop();
      if (threw) continue;
      EXPECT_LT(took, kBudget);
      if (took > slowest) {
        slowest = took;
        slowest_name = m.description;
      }
      Tally& tally = by_kind[m.kind];
      if (result.ok()) {
        ++tally.accepted;
        ++total.accepted;
        absl::StatusOr<std::shared_ptr<const RuleSet>> rule_set =
            RuleSet::Create(*std::move(result.program), "mutant");
        EXPECT_TRUE(rule_set.ok())
            << "an accepted mutant passes the verifier: " << rule_set.status();
        continue;
      }
      ++tally.rejected;
      ++total.rejected;
      const bool has_error =
          std::any_of(result.diagnostics.begin(), result.diagnostics.end(),
                      [](const Diagnostic& d) { return d.severity == Severity::kError; });
      EXPECT_TRUE(has_error) << "a rejected mutant has an error";
      for (const Diagnostic& d : result.diagnostics) {
        EXPECT_EQ(CheckLocated(d, files), "") << d.message;
        EXPECT_NE(d.code, "internal") << d.message;
      }
    }
  }

  // The report: how the language's checks met each kind of mistake.
  std::cout
      << "mutants of rules/*.lawful (accepted = still compiles, rejected = located errors):\n";
  for (const auto& [kind, tally] : by_kind) {
    std::printf("  %-24s %5d accepted %5d rejected\n", kind.c_str(), tally.accepted,
                tally.rejected);
  }
  std::printf("  %-24s %5d accepted %5d rejected\n", "total", total.accepted, total.rejected);
  std::printf("  slowest: %.0f ms (%s)\n",
              std::chrono::duration<double, std::milli>(slowest).count(), slowest_name.c_str());
  EXPECT_GT(total.rejected, 1000) << "the sample is a few thousand mutants, most of them broken";
  EXPECT_GT(total.accepted, 0) << "some mutations keep the rules valid (e.g. `a or b` swapped)";
}

}  // namespace
}  // namespace lawful::dsl
