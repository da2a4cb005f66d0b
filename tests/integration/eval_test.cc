// `lawful eval` end to end: the real CLI on JSONL and CSV files and stdin, its split and reject
// files, its summary and exit codes, and the same bytes in-process and through a real lawfuld.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/synth.h"
#include "lawful/testkit.h"
#include "lawful/v1/decision.pb.h"

namespace lawful::testing {
namespace {

using ::lawful::testkit::CommandResult;
using ::lawful::testkit::Process;
using ::lawful::testkit::ReadFile;
using ::lawful::testkit::RunCommand;
using ::lawful::testkit::RunEval;
using ::lawful::testkit::TempDir;
using ::lawful::testkit::WriteFile;
namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kAt[] = "2026-03-02T09:00:00Z";
constexpr char kRules[] = LAWFUL_SOURCE_DIR "/rules";
constexpr char kExamples[] = LAWFUL_SOURCE_DIR "/examples/contacts.jsonl";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

std::vector<v1::Decision> ParseDecisions(const std::string& jsonl) {
  std::vector<v1::Decision> decisions;
  for (const std::string& line : Lines(jsonl)) {
    v1::Decision decision;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &decision).ok()) << line;
    decisions.push_back(decision);
  }
  return decisions;
}

// "index contact_id OUTCOME reason" per decision.
std::vector<std::string> Summaries(const std::string& jsonl) {
  std::vector<std::string> out;
  for (const v1::Decision& d : ParseDecisions(jsonl)) {
    out.push_back(absl::StrCat(d.index(), " ", d.contact_id(), " ", v1::Outcome_Name(d.outcome()),
                               " ", d.reason()));
  }
  return out;
}

std::string GeneratedJsonl(size_t count) {
  absl::Time at;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, kAt, &at, &error)) << error;
  std::string jsonl;
  for (const v1::Contact& contact : synth::Generate(11, count, at)) {
    std::string json;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(contact, &json).ok());
    absl::StrAppend(&jsonl, json, "\n");
  }
  return jsonl;
}

// A lawfuld serving `rules` on a free loopback port, killed when the object goes away.
class Lawfuld {
 public:
  Lawfuld(const std::string& rules, const fs::path& log)
      : process_(
            {LAWFULD_PATH, "--listen=127.0.0.1:0", "--rules=" + rules, "--watch_interval=0"},
            Process::Options{.stdin_path = "", .stderr_path = log.string(), .working_dir = ""}) {
    const std::optional<std::string> line = process_.ReadLine(absl::Seconds(30));
    static const std::regex kStartup(R"(lawfuld: listening on (127\.0\.0\.1:\d+), .*)");
    std::smatch match;
    if (line.has_value() && std::regex_match(*line, match, kStartup)) address_ = match[1].str();
  }
  const std::string& address() const { return address_; }

 private:
  Process process_;
  std::string address_;
};

class EvalTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }

  fs::path Write(const std::string& name, const std::string& text) {
    const fs::path path = dir_.path() / name;
    WriteFile(path, text);
    return path;
  }
  std::string Path(const std::string& name) const { return (dir_.path() / name).string(); }

  // `lawful eval` for a newsletter by e-mail at kAt; later flags override earlier ones.
  CommandResult Eval(const std::vector<std::string>& flags, const std::string& input,
                     const std::string& stdin_path = "") {
    return RunEval(LAWFUL_CLI_PATH, kAt, flags, input, stdin_path, absl::Seconds(120));
  }
  CommandResult Offline(const std::vector<std::string>& flags, const std::string& input,
                        const std::string& stdin_path = "") {
    std::vector<std::string> all = {absl::StrCat("--rules=", kRules)};
    all.insert(all.end(), flags.begin(), flags.end());
    return Eval(all, input, stdin_path);
  }

  TempDir dir_;
};

TEST_F(EvalTest, DecidesJsonlAndSummarizes) {
  const CommandResult result = Offline({"--at=2028-12-01T09:00:00Z"}, kExamples);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(Summaries(result.out), ElementsAre("0 c-0001 OUTCOME_DENY retention_expired",
                                                 "1 c-0002 OUTCOME_DENY retention_expired",
                                                 "2 c-0003 OUTCOME_DENY erasure_pending",
                                                 "3 c-0004 OUTCOME_DENY retention_expired",
                                                 "4 c-0005 OUTCOME_DENY objection",
                                                 "5 c-0006 OUTCOME_DENY retention_expired"));
  // Each line carries the rule that decided, with its place in the rule files.
  const v1::Decision first = ParseDecisions(result.out)[0];
  EXPECT_EQ(first.citation(), "GDPR Art. 5(1)(e)");
  EXPECT_EQ(first.rule().policy(), "marketing");
  EXPECT_EQ(first.rule().file(), "marketing.lawful");
  EXPECT_GT(first.rule().line(), 0u);
  EXPECT_THAT(result.err, HasSubstr("contacts.jsonl: 6 lines = 6 decided + 0 rejected + 0 blank"));
  EXPECT_THAT(result.err, HasSubstr("newsletter by email at 2028-12-01T09:00:00Z, rule set "));
  EXPECT_TRUE(
      std::regex_search(result.err, std::regex(R"(deny\s+retention_expired\s+4\s+66\.67%)")))
      << result.err;
  EXPECT_TRUE(std::regex_search(result.err, std::regex(R"(deny\s+objection\s+1\s+16\.67%)")))
      << result.err;
}

TEST_F(EvalTest, ReadsStdinAsItReadsAFile) {
  const CommandResult file = Offline({}, kExamples);
  const CommandResult from_stdin = Offline({}, "-", kExamples);
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, file.out);
  EXPECT_THAT(from_stdin.err, HasSubstr("<stdin>: 6 lines = 6 decided"));
}

// The same input decided in-process and by lawfuld: byte for byte the same decisions, split
// files and exit code, in both output formats, including contacts the server refuses for a
// missing required field, blank lines and a malformed line, over several chunks and threads.
TEST_F(EvalTest, OfflineAndServerGiveTheSameBytes) {
  Lawfuld server(kRules, dir_.path() / "lawfuld.log");
  ASSERT_FALSE(server.address().empty()) << ReadFile(dir_.path() / "lawfuld.log");
  const std::string examples = ReadFile(kExamples);
  const fs::path input = Write(
      "mixed.jsonl",
      absl::StrCat(
          examples, "\n",
          R"({"id":"e-1","consents":[{"channel":"CHANNEL_EMAIL","grantedAt":"2025-01-01T00:00:00Z"}]})",
          "\n", R"({"id":"e-2","birthDate":"1990-02-30"})", "\n", "{not json\n",
          GeneratedJsonl(6000)));
  for (const std::string format : {"jsonl", "csv"}) {
    for (const std::string threads : {"1", "3"}) {
      SCOPED_TRACE(format + ", " + threads + " threads");
      const std::vector<std::string> flags = {"--output_format=" + format, "--threads=" + threads,
                                              "--allowed=" + Path("allowed"),
                                              "--denied=" + Path("denied")};
      const CommandResult offline = Offline(flags, input.string());
      const std::string offline_allowed = ReadFile(Path("allowed"));
      const std::string offline_denied = ReadFile(Path("denied"));
      std::vector<std::string> server_flags = flags;
      server_flags.push_back("--server=" + server.address());
      const CommandResult via_server = Eval(server_flags, input.string());
      EXPECT_EQ(offline.exit_code, 1) << offline.err;  // the malformed line
      EXPECT_EQ(via_server.exit_code, 1) << via_server.err;
      EXPECT_EQ(Lines(offline.out).size(), 6008u + (format == "csv" ? 1 : 0));
      EXPECT_TRUE(offline.out == via_server.out) << "outputs differ";
      EXPECT_EQ(ReadFile(Path("allowed")), offline_allowed);
      EXPECT_EQ(ReadFile(Path("denied")), offline_denied);
      EXPECT_THAT(offline.err, HasSubstr("6010 lines = 6008 decided + 1 rejected + 1 blank"));
      EXPECT_THAT(via_server.err, HasSubstr("6010 lines = 6008 decided + 1 rejected + 1 blank"));
    }
  }
  // The missing purpose and the impossible birth date are the contacts' own ERROR decisions.
  const std::vector<v1::Decision> decisions = ParseDecisions(Offline({}, input.string()).out);
  ASSERT_GE(decisions.size(), 8u);
  EXPECT_EQ(decisions[6].contact_id(), "e-1");
  EXPECT_EQ(decisions[6].index(), 7u);  // line 8: the blank line 7 keeps its position
  EXPECT_EQ(decisions[6].outcome(), v1::OUTCOME_ERROR);
  EXPECT_EQ(decisions[6].error().field_path(), "consents[0].purpose");
  EXPECT_EQ(decisions[7].outcome(), v1::OUTCOME_ERROR);
  EXPECT_EQ(decisions[7].error().field_path(), "birth_date");
}

TEST_F(EvalTest, ServerChunksKeepInputOrder) {
  Lawfuld server(kRules, dir_.path() / "lawfuld.log");
  ASSERT_FALSE(server.address().empty());
  const std::string jsonl = GeneratedJsonl(12000);  // several chunks and DecideBatch calls
  const fs::path input = Write("many.jsonl", jsonl);
  const CommandResult result = Eval({"--server=" + server.address()}, input.string());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<v1::Decision> decisions = ParseDecisions(result.out);
  ASSERT_THAT(decisions, SizeIs(12000));
  for (size_t i = 0; i < decisions.size(); ++i) {
    ASSERT_EQ(decisions[i].index(), i);
    ASSERT_EQ(decisions[i].contact_id(), absl::StrCat("c-11-", i));
  }
}

TEST_F(EvalTest, ReadsCsvWithIndexedRecordsQuotesAndJsonCells) {
  // Three people as a CRM might export them: semicolons (a Swedish spreadsheet), a quoted cell
  // holding the delimiter, a quoted line break, CRLF line ends, a byte-order mark, short enum
  // names, a JSON cell for objections and a column lawful does not read.
  const std::string csv =
      "\xEF\xBB\xBF"
      "id;first_name;email;last_activity_at;consents.0.purpose;consents.0.channel;"
      "consents.0.granted_at;consents.1.purpose;consents.1.channel;consents.1.granted_at;"
      "consents.1.withdrawn_at;objections\r\n"
      "c-1;\"Lindqvist; Astrid\";astrid@example.com;2026-01-10T08:00:00Z;newsletter;email;"
      "2025-04-12T08:15:00Z;;;;;\r\n"
      "c-2;\"Erik\nJohansson\";erik@example.com;2026-01-10T08:00:00Z;survey;sms;"
      "2025-01-01T00:00:00Z;newsletter;CHANNEL_EMAIL;2024-11-03T12:00:00Z;2025-08-21T07:05:00Z;\r\n"
      "c-3;Maja;maja@example.com;2026-01-10T08:00:00Z;newsletter;email;2025-01-20T09:30:00Z;;;;;"
      "\"[{\"\"scope\"\":\"\"OBJECTION_SCOPE_DIRECT_MARKETING\"\",\"\"lodgedAt\"\":"
      "\"\"2025-06-11T13:25:00Z\"\"}]\"\r\n";
  const fs::path input = Write("crm.csv", csv);
  // The same three as JSONL.
  const fs::path jsonl = Write(
      "crm.jsonl",
      R"({"id":"c-1","email":"astrid@example.com","lastActivityAt":"2026-01-10T08:00:00Z","consents":[{"purpose":"newsletter","channel":"CHANNEL_EMAIL","grantedAt":"2025-04-12T08:15:00Z"}]}
{"id":"c-2","email":"erik@example.com","lastActivityAt":"2026-01-10T08:00:00Z","consents":[{"purpose":"survey","channel":"CHANNEL_SMS","grantedAt":"2025-01-01T00:00:00Z"},{"purpose":"newsletter","channel":"CHANNEL_EMAIL","grantedAt":"2024-11-03T12:00:00Z","withdrawnAt":"2025-08-21T07:05:00Z"}]}
{"id":"c-3","email":"maja@example.com","lastActivityAt":"2026-01-10T08:00:00Z","consents":[{"purpose":"newsletter","channel":"CHANNEL_EMAIL","grantedAt":"2025-01-20T09:30:00Z"}],"objections":[{"scope":"OBJECTION_SCOPE_DIRECT_MARKETING","lodgedAt":"2025-06-11T13:25:00Z"}]}
)");
  const CommandResult from_csv =
      Offline({"--ignore_columns=first_name", "--allowed=" + Path("allowed.csv")}, input.string());
  ASSERT_EQ(from_csv.exit_code, 0) << from_csv.err;
  const CommandResult from_jsonl = Offline({}, jsonl.string());
  ASSERT_EQ(from_jsonl.exit_code, 0) << from_jsonl.err;
  EXPECT_EQ(from_csv.out, from_jsonl.out);
  EXPECT_THAT(Summaries(from_csv.out),
              ElementsAre("0 c-1 OUTCOME_ALLOW consent", "1 c-2 OUTCOME_DENY consent_withdrawn",
                          "2 c-3 OUTCOME_DENY objection"));
  EXPECT_THAT(from_csv.err, HasSubstr("crm.csv: 3 rows = 3 decided + 0 rejected + 0 blank"));
  // The washed list is a CSV of the same shape: the header, then the allowed rows as they were.
  EXPECT_EQ(ReadFile(Path("allowed.csv")),
            absl::StrCat(Lines(csv.substr(3))[0], "\n", Lines(csv)[1], "\n"));

  // Without --ignore_columns the unknown column stops the run before any output.
  const CommandResult unknown = Offline({}, input.string());
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("crm.csv:1: column 2 `first_name`: lawful.v1.Contact has "
                                     "no field `first_name`"));
  EXPECT_THAT(unknown.out, IsEmpty());
}

// examples/contacts.csv is examples/contacts.jsonl as a spreadsheet would hold it.
TEST_F(EvalTest, ExampleCsvDecidesLikeExampleJsonl) {
  const CommandResult jsonl = Offline({"--at=2026-11-30T09:00:00Z"}, kExamples);
  ASSERT_EQ(jsonl.exit_code, 0) << jsonl.err;
  const CommandResult csv = Offline({"--at=2026-11-30T09:00:00Z", "--ignore_columns=first_name"},
                                    LAWFUL_SOURCE_DIR "/examples/contacts.csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(csv.out, jsonl.out);
  EXPECT_THAT(
      Summaries(csv.out),
      ElementsAre("0 c-0001 OUTCOME_ALLOW consent", "1 c-0002 OUTCOME_DENY consent_withdrawn",
                  "2 c-0003 OUTCOME_DENY erasure_pending", "3 c-0004 OUTCOME_DENY no_lawful_basis",
                  "4 c-0005 OUTCOME_DENY objection", "5 c-0006 OUTCOME_DENY purpose_incompatible"));
}

TEST_F(EvalTest, CsvRejectsNameTheLineTheColumnAndTheField) {
  const fs::path input =
      Write("bad.csv",
            "id,email,last_activity_at,consents.0.purpose,consents.0.channel,"
            "consents.0.granted_at\n"
            "c-1,a@example.com,2026-01-10T08:00:00Z,newsletter,email,2025-01-01T00:00:00Z\n"
            "c-2,b@example.com,2026-01-10T08:00:00Z,newsletter,fax,2025-01-01T00:00:00Z\n"
            "\n"
            "c-3,c@example.com,2026-01-10T08:00:00Z,newsletter,email,01/02/2025\n"
            "c-4,d@example.com,2026-01-10T08:00:00Z,newsletter,email\n");
  const CommandResult result =
      Offline({"--rejects=" + Path("rejects"), "--output_format=csv"}, input.string());
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_THAT(result.err, HasSubstr("bad.csv:3: column consents.0.channel: `fax` is not a "
                                    "lawful.v1.Channel: expected email, sms, post or phone"));
  EXPECT_THAT(result.err, HasSubstr("bad.csv:5: column consents.0.granted_at "
                                    "(consents[0].granted_at): not an RFC 3339 timestamp"));
  EXPECT_THAT(result.err, HasSubstr("bad.csv:6: 5 cells, but the header has 6 columns"));
  EXPECT_THAT(result.err, HasSubstr("5 rows = 1 decided + 3 rejected + 1 blank"));
  EXPECT_THAT(Lines(result.out),
              ElementsAre("index,contact_id,outcome,reason,citation,rule,rule_location,"
                          "obligations,evidence,evidence_id,valid_until,error_field,error_message",
                          ::testing::StartsWith("0,c-1,allow,consent,GDPR Art. 6(1)(a),")));
  const std::vector<std::string> rejects = Lines(ReadFile(Path("rejects")));
  ASSERT_THAT(rejects, SizeIs(3));
  EXPECT_EQ(rejects[1],
            R"({"line":5,"field":"consents[0].granted_at","column":"consents.0.granted_at",)"
            R"("error":"not an RFC 3339 timestamp such as 2026-03-02T09:00:00Z",)"
            R"("input":"c-3,c@example.com,2026-01-10T08:00:00Z,newsletter,email,01/02/2025"})");
}

TEST_F(EvalTest, SplitsAllowedAndDeniedLines) {
  const std::string jsonl = GeneratedJsonl(3000);
  const fs::path input = Write("list.jsonl", jsonl);
  const CommandResult result =
      Offline({"--allowed=" + Path("allowed"), "--denied=" + Path("denied")}, input.string());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<v1::Decision> decisions = ParseDecisions(result.out);
  const std::vector<std::string> lines = Lines(jsonl);
  ASSERT_EQ(decisions.size(), lines.size());
  std::vector<std::string> allowed, denied;
  for (const v1::Decision& d : decisions) {
    (d.outcome() == v1::OUTCOME_ALLOW ? allowed : denied).push_back(lines[d.index()]);
  }
  EXPECT_THAT(allowed, Not(IsEmpty()));
  EXPECT_THAT(denied, Not(IsEmpty()));
  EXPECT_EQ(Lines(ReadFile(Path("allowed"))), allowed);
  EXPECT_EQ(Lines(ReadFile(Path("denied"))), denied);
  // The summary's allow rows add up to the washed list.
  uint64_t allowed_in_summary = 0;
  static const std::regex kAllowRow(R"(\n  allow\s+\S+\s+(\d+)\s)");
  for (auto it = std::sregex_iterator(result.err.begin(), result.err.end(), kAllowRow);
       it != std::sregex_iterator(); ++it) {
    allowed_in_summary += std::stoull((*it)[1].str());
  }
  EXPECT_EQ(allowed_in_summary, allowed.size()) << result.err;
}

TEST_F(EvalTest, MalformedLinesAreReportedCountedAndWrittenToRejects) {
  const std::string ok =
      R"({"id":"ok","email":"ok@example.com","lastActivityAt":"2026-01-10T08:00:00Z","consents":[{"purpose":"newsletter","channel":"CHANNEL_EMAIL","grantedAt":"2025-01-01T00:00:00Z"}]})";
  const fs::path input = Write(
      "in.jsonl", absl::StrCat(ok, "\n", R"({"id": "c-9", "email": )", "\n",
                               R"({"id":"c-10","favouriteColour":"blue"})", "\n",
                               R"({"id":"c-11","consents":[{},{"grantedAt":"last tuesday"}]})",
                               "\n", "  \n", ok, "\r\n"));
  const CommandResult result = Offline({"--rejects=" + Path("rejects")}, input.string());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("in.jsonl:2: not valid JSON"));
  EXPECT_THAT(result.err, HasSubstr("in.jsonl:3: favouriteColour: unknown field"));
  EXPECT_THAT(result.err,
              HasSubstr("in.jsonl:4: consents[1].granted_at: not an RFC 3339 timestamp"));
  EXPECT_THAT(result.err, HasSubstr("in.jsonl: 6 lines = 2 decided + 3 rejected + 1 blank"));
  EXPECT_TRUE(
      std::regex_search(result.err, std::regex(R"(rejected\s+\(malformed line\)\s+3\s+60\.00%)")))
      << result.err;
  EXPECT_THAT(Summaries(result.out),
              ElementsAre("0 ok OUTCOME_ALLOW consent", "5 ok OUTCOME_ALLOW consent"));
  const std::vector<std::string> rejects = Lines(ReadFile(Path("rejects")));
  ASSERT_THAT(rejects, SizeIs(3));
  EXPECT_THAT(rejects[0], ::testing::StartsWith(R"({"line":2,"error":"not valid JSON)"));
  EXPECT_EQ(
      rejects[1],
      R"({"line":3,"field":"favouriteColour","error":"unknown field","input":"{\"id\":\"c-10\",\"favouriteColour\":\"blue\"}"})");
  EXPECT_THAT(rejects[2], HasSubstr(R"("line":4,"field":"consents[1].granted_at")"));
}

TEST_F(EvalTest, StrictStopsAtTheFirstMalformedLine) {
  std::string jsonl = GeneratedJsonl(20000);
  // Line 15000 is broken; the chunks after it are parsed by other threads meanwhile.
  std::vector<std::string> lines = Lines(jsonl);
  lines[14999] = R"({"id":"broken","lastActivityAt":"2026-02-30T00:00:00Z"})";
  const fs::path input = Write("big.jsonl", absl::StrJoin(lines, "\n") + "\n");
  const CommandResult result = Offline(
      {"--strict", "--allowed=" + Path("allowed"), "--denied=" + Path("denied")}, input.string());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("--strict: stopped at "));
  EXPECT_THAT(result.err,
              HasSubstr("big.jsonl:15000: last_activity_at: not an RFC 3339 timestamp"));
  EXPECT_THAT(result.err, HasSubstr("14999 decided + 1 rejected + 0 blank"));
  const std::vector<v1::Decision> decisions = ParseDecisions(result.out);
  ASSERT_THAT(decisions, SizeIs(14999));
  EXPECT_EQ(decisions.back().index(), 14998u);
  EXPECT_EQ(Lines(ReadFile(Path("allowed"))).size() + Lines(ReadFile(Path("denied"))).size(),
            14999u);
}

TEST_F(EvalTest, ExitCodes) {
  const fs::path broken_rules = dir_.path() / "broken";
  fs::create_directory(broken_rules);
  WriteFile(broken_rules / "rules.lawful", "policy oops {");
  const fs::path good = Write("good.jsonl", R"({"id":"a"})"
                                            "\n");
  const fs::path csv = Write("c.csv", "id,nickname\na,b\n");
  const std::string rules = absl::StrCat("--rules=", kRules);
  const struct {
    std::vector<std::string> flags;
    std::string input;
    int code;
    const char* error;
  } cases[] = {
      {{rules}, good.string(), 0, "1 lines = 1 decided"},
      {{rules, "--purpose="}, good.string(), 2, "--purpose is required"},
      {{rules, "--channel=fax"}, good.string(), 2, "--channel=fax"},
      {{rules, "--notice_type=whim"}, good.string(), 2, "--notice_type"},
      {{rules, "--at=tomorrow"}, good.string(), 2, "--at=tomorrow"},
      {{}, good.string(), 2, "exactly one of --rules"},
      {{rules, "--server=127.0.0.1:1"}, good.string(), 2, "exactly one of --rules"},
      {{"--server=127.0.0.1:1"}, good.string(), 2, "--server=127.0.0.1:1"},
      {{rules, "--purpose=astrology"}, good.string(), 2, "astrology"},
      {{"--rules=" + broken_rules.string()}, good.string(), 2, "cannot load rules"},
      {{rules}, Path("missing.jsonl"), 2, "cannot open"},
      {{rules, "--output_format=xml"}, good.string(), 2, "--output_format=xml"},
      {{rules, "--input_format=yaml"}, good.string(), 2, "--input_format=yaml"},
      {{rules}, csv.string(), 2, "`nickname`"},
      {{rules, "--ignore_columns=nickname"}, csv.string(), 0, "1 rows = 1 decided"},
      {{rules, "--input_format=csv"}, good.string(), 2, "column 1"},
      {{rules, "--allowed=" + Path("no/such/dir/allowed")}, good.string(), 2, "--allowed"},
      {{rules}, dir_.path().string(), 2, "is a directory"},
  };
  for (const auto& c : cases) {
    const CommandResult result = Eval(c.flags, c.input);
    EXPECT_EQ(result.exit_code, c.code) << absl::StrJoin(c.flags, " ") << "\n" << result.err;
    EXPECT_THAT(result.err, HasSubstr(c.error)) << absl::StrJoin(c.flags, " ");
    if (c.code == 2) {
      EXPECT_THAT(result.out, IsEmpty()) << absl::StrJoin(c.flags, " ");
    }
  }
  // Two inputs.
  const CommandResult two = RunCommand({LAWFUL_CLI_PATH, "eval", "--purpose=newsletter",
                                        "--channel=email", rules, good.string(), good.string()});
  EXPECT_EQ(two.exit_code, 2);
}

TEST_F(EvalTest, TimingsReportTheStages) {
  const fs::path input = Write("t.jsonl", GeneratedJsonl(2000));
  const CommandResult result = Offline({"--timings"}, input.string());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(std::regex_search(
      result.err,
      std::regex(
          R"(timings: [0-9.]+ s wall, [0-9]+ contacts/s, \d+ threads; CPU s by stage: read [0-9.]+ \([0-9.]+%\), parse [0-9.]+ \([0-9.]+%\), decide [0-9.]+ \([0-9.]+%\), format [0-9.]+ \([0-9.]+%\), write)")))
      << result.err;
}

}  // namespace
}  // namespace lawful::testing
