// No log holds contact data. Every lawfuld and lawful process the test suite starts keeps its
// stderr in LAWFUL_TEST_LOG_DIR (lawful::testkit::Process); this test runs after all of them (the
// ctest fixture `test_logs` makes it their cleanup) and searches every one of those logs for the
// contact data the tests send: the example contacts' ids, e-mail addresses, phone numbers and
// postal addresses verbatim, and the markers every synthetic contact of the tests carries (ids
// `c-0001` and `c-<seed>-<n>`, consent ids, addresses at example.com, +46 phone numbers).
//
// An empty or missing log directory fails: a search of nothing proves nothing.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/testkit.h"
#include "lawful/v1/contact.pb.h"

namespace lawful::testing {
namespace {

using ::lawful::testkit::ReadFile;
namespace fs = std::filesystem;

// What to look for: a literal (`pattern` empty) or a pattern.
struct Marker {
  std::string what;
  std::string literal;
  std::regex pattern;
};

// Whether a line may hold what a pattern marker looks for: every pattern needs one of these. Keeps
// the search fast enough for the hundred thousand lines the abuse tests log (std::regex is slow).
bool MayHoldPatternMarker(const std::string& line) {
  if (line.find('@') != std::string::npos || line.find("+46") != std::string::npos ||
      line.find("Storgatan") != std::string::npos) {
    return true;
  }
  for (size_t dash = line.find('-'); dash != std::string::npos; dash = line.find('-', dash + 1)) {
    if (dash + 1 < line.size() && line[dash + 1] >= '0' && line[dash + 1] <= '9') return true;
  }
  return false;
}

// The marker `line` holds, as what and the text found; nullopt when none.
std::optional<std::pair<std::string, std::string>> Find(const std::vector<Marker>& markers,
                                                        const std::string& line) {
  const bool may_hold_pattern = MayHoldPatternMarker(line);
  for (const Marker& marker : markers) {
    if (!marker.literal.empty()) {
      if (line.find(marker.literal) != std::string::npos) {
        return std::pair(marker.what, marker.literal);
      }
      continue;
    }
    std::smatch match;
    if (may_hold_pattern && std::regex_search(line, match, marker.pattern)) {
      return std::pair(marker.what, match.str());
    }
  }
  return std::nullopt;
}

// What marks contact data in the tests' requests, whatever test sent it.
std::vector<Marker> SyntheticMarkers() {
  return {
      // The id conventions of the tests: c-0001, c-7, c-<seed>-<n> (synth), e-1, replay-1, py-3.
      {"a contact id", "", std::regex(R"(\b(c|e|replay|py)-\d+(-\d+)?\b)")},
      {"a consent or objection id", "", std::regex(R"(\b(cons|k|o)-\d+(-\d+)?\b)")},
      {"an e-mail address at example.com", "", std::regex(R"([A-Za-z0-9._%+-]+@example\.com)")},
      {"a Swedish phone number", "", std::regex(R"(\+46\d{6,})")},
      {"a synthetic postal address", "", std::regex(R"(Storgatan \d+)")},
  };
}

// The example contacts' personal data, verbatim: ids, e-mail addresses (and the names in them),
// phone numbers, postal addresses, consent and objection ids; and the first names of the CSV
// version of the examples.
std::vector<Marker> ExampleMarkers() {
  std::vector<Marker> markers;
  std::ifstream csv(fs::path(LAWFUL_SOURCE_DIR) / "examples" / "contacts.csv");
  std::string header;
  std::getline(csv, header);
  const std::vector<std::string> columns = absl::StrSplit(header, ',');
  const auto first_name = std::find(columns.begin(), columns.end(), "first_name");
  for (std::string line; first_name != columns.end() && std::getline(csv, line);) {
    const std::vector<std::string> cells = absl::StrSplit(line, ',');
    const size_t column = static_cast<size_t>(first_name - columns.begin());
    if (column < cells.size() && cells[column].size() >= 4) {
      markers.push_back(
          {absl::StrCat("the first name `", cells[column], "` from examples/contacts.csv"),
           cells[column], std::regex()});
    }
  }
  std::ifstream in(fs::path(LAWFUL_SOURCE_DIR) / "examples" / "contacts.jsonl");
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    v1::Contact contact;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &contact).ok()) << line;
    std::vector<std::string> values = {contact.id(), contact.email(), contact.phone(),
                                       contact.postal_address()};
    if (const size_t at = contact.email().find('@'); at != std::string::npos) {
      values.push_back(contact.email().substr(0, at));  // the person's name
    }
    for (const v1::Consent& consent : contact.consents()) values.push_back(consent.id());
    for (const v1::Objection& objection : contact.objections()) values.push_back(objection.id());
    for (const std::string& value : values) {
      if (value.size() >= 4) {
        markers.push_back(
            {absl::StrCat("`", value, "` from examples/contacts.jsonl"), value, std::regex()});
      }
    }
  }
  EXPECT_GT(markers.size(), 10u) << "examples/contacts.jsonl gave too little to search for";
  return markers;
}

// The markers find what the tests send, and nothing of what the logs are meant to say.
TEST(LogGrep, MarkersFindContactDataAndNothingElse) {
  const std::vector<Marker> markers = SyntheticMarkers();
  auto found = [&](const std::string& text) { return Find(markers, text).has_value(); };
  for (const std::string contact_data :
       {"c-0001", "id c-9-123 here", "c-7", "e-1", "replay-1", "k-1", "cons-1001", "k-12-3", "o-77",
        "py-3", "astrid.lindqvist@example.com", "person12@example.com", "+46701234567",
        "Storgatan 12, 111 22 Stockholm"}) {
    EXPECT_TRUE(found(contact_data)) << contact_data;
  }
  for (const std::string log_line : {
           "lawfuld: Decide contacts=1 status=OK duration_ms=0.118",
           "lawfuld: DecideBatch contacts=100000 status=DEADLINE_EXCEEDED duration_ms=12.5",
           "lawfuld: listening on 127.0.0.1:41234, serving rule set "
           "e0fd353695f7c0d1e2f3a4b5c6d7e8f90123456789abcdef0123456789abcdef (3 files)",
           "lawfuld: reloaded /tmp/lawful-test-Ab1cD2/rules, serving rule set 0a1b (1 files)",
           "lawful: rule set e0fd353695f7 (3 files) via 127.0.0.1:50051",
           "rules.lawful:4:37: error: contact has no field `erasure_requsted_at`",
           "lawfuld: DecideStream contacts=0 status=PERMISSION_DENIED duration_ms=0.2",
           "lawful eval: 2.5e-3 s, 1e-5, abc-1, x-1",
       }) {
    EXPECT_FALSE(found(log_line)) << log_line;
  }
}

TEST(LogGrep, NoServerOrCliLogHoldsContactData) {
  const char* dir = std::getenv("LAWFUL_TEST_LOG_DIR");
  ASSERT_NE(dir, nullptr) << "LAWFUL_TEST_LOG_DIR is not set: run this through ctest";
  std::vector<Marker> markers = SyntheticMarkers();
  for (Marker& marker : ExampleMarkers()) markers.push_back(std::move(marker));

  int logs = 0;
  int server_logs_with_calls = 0;
  size_t bytes = 0;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    if (!entry.is_regular_file()) continue;
    ++logs;
    const std::string log = ReadFile(entry.path());
    bytes += log.size();
    const std::string name = entry.path().filename().string();
    if (name.rfind("lawfuld-", 0) == 0 && log.find("status=OK") != std::string::npos) {
      ++server_logs_with_calls;
    }
    int line_number = 0;
    for (const absl::string_view line : absl::StrSplit(log, '\n')) {
      ++line_number;
      const std::string text(line);
      if (const auto found = Find(markers, text)) {
        ADD_FAILURE() << name << ":" << line_number << ": " << found->first << " (" << found->second
                      << ") in: " << text.substr(0, 300);
      }
    }
  }
  ASSERT_FALSE(error) << dir << ": " << error.message();
  ASSERT_GT(logs, 0) << "no logs in " << dir << ": searching nothing proves nothing";
  EXPECT_GT(server_logs_with_calls, 0) << "no lawfuld log shows a served call";
  std::printf("searched %d logs (%zu bytes) for %zu markers\n", logs, bytes, markers.size());
}

}  // namespace
}  // namespace lawful::testing
