// Arbitrary bytes as a request, decided by the shipped rules (rules/*.lawful, compiled once):
// first as a serialized lawful.v1.DecideBatchRequest through SplitBatchRequest, its outreach
// prepared and every contact decided alone and by the worker pool; then the same bytes as one
// contact. Besides "never crash", three paths that must agree are compared:
//   - the batch pool and a lone Evaluator decide each contact alike;
//   - a contact decided from its bytes (the raw batch path) and from the parsed message (the path
//     of Decide) gets the same decision, also when it sets a singular field more than once
//     (protobuf keeps the last value and merges messages; the fact decoder must read it alike);
//   - the server's wire-level contact check finds what the message-level check finds (when both
//     read the contact).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "harness.h"
#include "lawful/dsl.h"
#include "server/validate.h"

namespace {

using lawful::fuzz::Require;

const lawful::RuleSet& Shipped() {
  static const std::shared_ptr<const lawful::RuleSet> rule_set = [] {
    absl::StatusOr<lawful::dsl::LoadedRuleSet> loaded = lawful::dsl::LoadRuleSet(LAWFUL_SOURCE_DIR "/rules");
    Require(loaded.ok(), absl::StrCat("the shipped rules load: ", loaded.status().ToString()));
    return loaded->rule_set;
  }();
  return *rule_set;
}

lawful::PreparedOutreach Prepare(const lawful::v1::Outreach& requested) {
  lawful::Outreach outreach;
  outreach.purpose = requested.purpose();
  outreach.channel = requested.channel();
  outreach.notice_type = requested.notice_type();
  outreach.at = absl::FromUnixSeconds(requested.at().seconds()) + absl::Nanoseconds(requested.at().nanos());
  absl::StatusOr<lawful::PreparedOutreach> prepared = Shipped().Prepare(outreach);
  if (prepared.ok()) return *std::move(prepared);
  // Most mutated outreaches name no declared purpose: decide their contacts anyway.
  outreach.purpose = "newsletter";
  outreach.channel = lawful::v1::CHANNEL_EMAIL;
  outreach.notice_type = lawful::v1::NOTICE_TYPE_UNSPECIFIED;
  outreach.at = lawful::fuzz::FixedAt();
  prepared = Shipped().Prepare(outreach);
  Require(prepared.ok(), "the fallback outreach prepares");
  return *std::move(prepared);
}

bool Same(const lawful::Decision& a, const lawful::Decision& b) {
  return a.outcome == b.outcome && a.rule == b.rule && a.evidence_index == b.evidence_index &&
         a.evidence_id == b.evidence_id && a.valid_until == b.valid_until && a.error_path == b.error_path;
}

void DecideBatch(std::string_view bytes, lawful::Evaluator& evaluator) {
  static lawful::BatchEvaluator* pool = new lawful::BatchEvaluator(/*threads=*/1);
  lawful::v1::DecideBatchRequest header;
  std::vector<std::string_view> contacts;
  if (!lawful::SplitBatchRequest(bytes, &header, &contacts).ok()) return;
  const lawful::PreparedOutreach prepared = Prepare(header.outreach());
  std::vector<lawful::Decision> pooled;
  pool->Decide(prepared, contacts, pooled);
  Require(pooled.size() == contacts.size(), "one decision per contact");
  for (size_t i = 0; i < contacts.size(); ++i) {
    lawful::Decision alone = evaluator.Decide(prepared, contacts[i]);
    Require(Same(alone, pooled[i]), "the pool decides a contact as a lone evaluator does");
    lawful::v1::Decision proto;
    Shipped().ToProto(alone, &proto);
  }
}

void DecideContact(std::string_view bytes, lawful::Evaluator& evaluator) {
  lawful::v1::Contact parsed;
  const bool parses = parsed.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  std::string_view id;
  std::optional<lawful::server::ContactProblem> wire_problem;
  const bool well_formed = lawful::server::ValidateContactBytes(bytes, &id, &wire_problem);
  // The wire check may be stricter than protobuf (it refuses a tag longer than 32 bits, which
  // protobuf truncates); where both read the contact they must find the same problem.
  if (parses && well_formed) {
    std::optional<lawful::server::ContactProblem> problem = lawful::server::ValidateContact(parsed);
    Require(problem.has_value() == wire_problem.has_value() &&
                (!problem || (problem->field_path == wire_problem->field_path && problem->message == wire_problem->message)),
            "the wire-level contact check finds what the message-level check finds");
    Require(problem || id == parsed.id(), "the wire-level check returns the contact's id");
  }
  for (const char* purpose : {"newsletter", "profiling", "service_notice"}) {
    lawful::v1::Outreach requested;
    requested.set_purpose(purpose);
    requested.set_channel(purpose[0] == 'p' ? lawful::v1::CHANNEL_PHONE : lawful::v1::CHANNEL_EMAIL);
    const lawful::PreparedOutreach prepared = Prepare(requested);
    lawful::Decision from_bytes = evaluator.Decide(prepared, bytes);
    lawful::v1::Decision proto;
    Shipped().ToProto(from_bytes, &proto);
    if (parses) {
      lawful::Decision from_message = evaluator.Decide(prepared, parsed);
      Require(from_bytes.outcome == lawful::Outcome::kError
                  ? from_message.outcome == lawful::Outcome::kError
                  : Same(from_bytes, from_message),
              "a contact is decided alike from its bytes and from its parsed message");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // Protobuf logs every string that is not UTF-8; at thousands of inputs a second that is noise.
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
  (void)quiet;
  static lawful::Evaluator* evaluator = new lawful::Evaluator;
  DecideBatch(bytes, *evaluator);
  DecideContact(bytes, *evaluator);
  return 0;
}
