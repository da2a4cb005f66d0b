#include "explain.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "input.h"
#include "lawful/decide.h"
#include "lawful/dsl.h"
#include "lawful/engine.h"
#include "lawful/v1/names.h"
#include "lawful/v1/service.grpc.pb.h"

namespace lawful::cli {
namespace {

constexpr auto kCallTimeout = std::chrono::seconds(30);

std::string OutcomeWord(lawful::v1::Outcome outcome) {
  const std::string_view name = lawful::v1::ShortName(outcome);
  return name.empty() ? "?" : std::string(name);
}

// The explanation as a reader without the rule files wants it: the summary, then each rule
// checked with its text and the values it saw.
std::string FormatText(const lawful::v1::Explanation& e) {
  std::string text = absl::StrCat(e.summary(), "\n");
  if (e.checks_size() == 0) return text;
  absl::StrAppend(&text, "\nRules checked, in order (policy ", e.policy(), "):\n");
  int n = 0;
  for (const lawful::v1::RuleCheck& check : e.checks()) {
    absl::StrAppend(&text, "\n", ++n, ". ", OutcomeWord(check.outcome()), " ", check.rule().name(),
                    " (", check.rule().file(), ":", check.rule().line(), ") — ",
                    check.fired() ? "FIRED: this rule decided" : "did not apply", "\n");
    for (absl::string_view line : absl::StrSplit(check.text(), '\n')) {
      if (!line.empty()) absl::StrAppend(&text, "     | ", line, "\n");
    }
    for (const lawful::v1::SeenValue& seen : check.seen()) {
      absl::StrAppend(&text, "     ", seen.name(), " = ", seen.value(), "\n");
    }
  }
  return text;
}

// One contact in proto JSON, or one per line.
absl::StatusOr<std::vector<lawful::v1::Contact>> ReadContacts(const std::string& input) {
  std::string text;
  if (input == "-") {
    std::ostringstream all;
    all << std::cin.rdbuf();
    text = all.str();
  } else {
    std::ifstream in(input, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", input));
    std::ostringstream all;
    all << in.rdbuf();
    text = all.str();
  }
  const std::string name = input == "-" ? "<stdin>" : input;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a misspelt field would be a fact silently not known
  std::vector<lawful::v1::Contact> contacts(1);
  if (google::protobuf::util::JsonStringToMessage(text, &contacts[0], options).ok())
    return contacts;
  contacts.clear();
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    lawful::v1::Contact& contact = contacts.emplace_back();
    if (auto s = google::protobuf::util::JsonStringToMessage(std::string(line), &contact, options);
        !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ":", line_number, ": not a lawful.v1.Contact: ", std::string(s.message())));
    }
  }
  if (contacts.empty())
    return absl::InvalidArgumentError(absl::StrCat(name, ": no contact to explain"));
  return contacts;
}

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "lawful explain: %s\n", message.c_str());
  return code;
}

}  // namespace

int RunExplain(const ExplainOptions& options, const std::string& input) {
  lawful::v1::Outreach outreach;
  outreach.set_purpose(options.purpose);
  if (options.purpose.empty()) return Fail(2, "--purpose is required");
  absl::StatusOr<lawful::v1::Channel> channel = ParseChannel(options.channel);
  if (!channel.ok()) return Fail(2, std::string(channel.status().message()));
  outreach.set_channel(*channel);
  absl::StatusOr<lawful::v1::NoticeType> notice_type = ParseNoticeType(options.notice_type);
  if (!notice_type.ok()) return Fail(2, std::string(notice_type.status().message()));
  outreach.set_notice_type(*notice_type);
  absl::Time at = absl::Now();
  if (!options.at.empty()) {
    absl::StatusOr<absl::Time> parsed = ParseAt(options.at);
    if (!parsed.ok()) return Fail(2, std::string(parsed.status().message()));
    at = *parsed;
    lawful::ToProto(at, outreach.mutable_at());
  }
  const int sources =
      !options.rules_dir.empty() + !options.server.empty() + !options.archive_dir.empty();
  if (sources != 1) {
    return Fail(2,
                "give exactly one of --rules=DIR, --server=HOST:PORT and --archive_dir=DIR (with "
                "--rule_set)");
  }
  if (!options.archive_dir.empty() && options.rule_set.empty()) {
    return Fail(2, "--archive_dir needs --rule_set=VERSION, the version to replay");
  }

  absl::StatusOr<std::vector<lawful::v1::Contact>> contacts = ReadContacts(input);
  if (!contacts.ok()) return Fail(1, std::string(contacts.status().message()));

  std::vector<lawful::v1::Explanation> explanations;
  if (!options.server.empty()) {
    auto stub = lawful::v1::Lawful::NewStub(
        grpc::CreateChannel(options.server, grpc::InsecureChannelCredentials()));
    for (const lawful::v1::Contact& contact : *contacts) {
      lawful::v1::ExplainRequest request;
      *request.mutable_outreach() = outreach;
      *request.mutable_contact() = contact;
      request.set_rule_set_version(options.rule_set);
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
      lawful::v1::Explanation& explanation = explanations.emplace_back();
      const grpc::Status status = stub->Explain(&context, request, &explanation);
      if (!status.ok()) return Fail(1, absl::StrCat("Explain: ", status.error_message()));
      explanation.mutable_decision()->set_contact_id(contact.id());
    }
  } else {
    absl::StatusOr<dsl::LoadedRuleSet> loaded =
        options.archive_dir.empty()
            ? dsl::LoadRuleSet(options.rules_dir)
            : dsl::LoadArchivedRuleSet(options.archive_dir, options.rule_set);
    if (!loaded.ok()) return Fail(2, std::string(loaded.status().message()));
    if (!options.rule_set.empty() && loaded->rule_set->version() != options.rule_set) {
      return Fail(2, absl::StrCat("--rule_set=", options.rule_set, ": the rules in ",
                                  options.rules_dir, " are version ", loaded->rule_set->version()));
    }
    absl::StatusOr<PreparedOutreach> prepared = loaded->rule_set->Prepare(
        Outreach{outreach.purpose(), outreach.channel(), outreach.notice_type(), at});
    if (!prepared.ok()) return Fail(2, std::string(prepared.status().message()));
    const decide::ResolvedOutreach resolved{*std::move(prepared), at};
    std::string bytes;
    for (const lawful::v1::Contact& contact : *contacts) {
      bytes.clear();
      contact.SerializeToString(&bytes);
      decide::Explain(resolved, bytes, &explanations.emplace_back());
    }
  }

  bool first = true;
  for (const lawful::v1::Explanation& explanation : explanations) {
    std::string out;
    if (options.json) {
      google::protobuf::util::JsonPrintOptions print;
      print.add_whitespace = false;
      (void)google::protobuf::util::MessageToJsonString(explanation, &out, print);
      out.push_back('\n');
    } else {
      if (!first) out = "\n" + std::string(72, '-') + "\n\n";
      const std::string& id = explanation.decision().contact_id();
      if (!id.empty()) absl::StrAppend(&out, "Contact ", id, "\n");
      absl::StrAppend(&out, FormatText(explanation));
    }
    first = false;
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace lawful::cli
