// Arbitrary bytes as a request, decided by the shipped rules (rules/*.lawful, compiled once):
// first as a serialized lawful.v1.DecideBatchRequest read by the deciding layer, its outreach
// prepared and its contacts decided on every path a front door takes; then the same bytes as one
// contact. Besides "never crash", what must agree:
//   - every path answers a contact with the same Decision, byte for byte: the batch loop
//     (DecideBatch and DecideStream), one contact at a time (Decide, in-process eval) and
//     Explain's decision (which also names the rule-set version, and whose index is 0);
//   - fail closed: a contact protobuf itself cannot parse (malformed, invalid UTF-8, field 0) is
//     never decided, only answered with an ERROR;
//   - a contact decided from its bytes and from its parsed message (protobuf keeps a singular
//     field's last value and merges messages) gets the same decision when the bytes decide it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "harness.h"
#include "lawful/decide.h"
#include "lawful/dsl.h"

namespace {

using lawful::fuzz::Require;

const lawful::RuleSet& Shipped() {
  static const std::shared_ptr<const lawful::RuleSet> rule_set = [] {
    absl::StatusOr<lawful::dsl::LoadedRuleSet> loaded =
        lawful::dsl::LoadRuleSet(LAWFUL_SOURCE_DIR "/rules");
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
  outreach.at =
      absl::FromUnixSeconds(requested.at().seconds()) + absl::Nanoseconds(requested.at().nanos());
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
         a.evidence_id == b.evidence_id && a.valid_until == b.valid_until &&
         a.error_path == b.error_path;
}

// A decision's bytes without what differs by design between paths: its position and the
// rule-set version Explain adds.
std::string Canonical(lawful::v1::Decision decision) {
  decision.clear_index();
  decision.clear_rule_set_version();
  std::string bytes;
  decision.SerializeToString(&bytes);
  return bytes;
}

void DecideBatch(std::string_view bytes, lawful::Evaluator& evaluator) {
  static lawful::BatchEvaluator* pool = new lawful::BatchEvaluator(/*threads=*/1);
  lawful::decide::Request request;
  if (!lawful::decide::ReadBatchRequest(bytes, &request).ok()) return;
  const lawful::PreparedOutreach prepared = Prepare(request.outreach);
  lawful::decide::BatchAnswers answers;
  const absl::Status decided =
      lawful::decide::DecideBatch(*pool, prepared, request.contacts, 0, &answers, nullptr,
                                  [](size_t) { return absl::OkStatus(); });
  lawful::v1::DecideBatchResponse response;
  Require(decided.ok() && response.ParseFromString(answers.Joined()) &&
              response.decisions_size() == static_cast<int>(request.contacts.size()),
          "one decision per contact, answered as bytes that parse");
  const auto& batch = response.decisions();
  const lawful::decide::ResolvedOutreach resolved{prepared, prepared.at};
  for (size_t i = 0; i < request.contacts.size(); ++i) {
    std::string_view id;
    const lawful::Decision alone =
        lawful::decide::DecideContact(evaluator, prepared, request.contacts[i], &id);
    lawful::v1::Decision message;
    lawful::decide::ToMessage(Shipped(), alone, request.contacts[i], id, static_cast<uint32_t>(i),
                              &message);
    Require(Canonical(message) == Canonical(batch.Get(static_cast<int>(i))),
            "the batch loop answers a contact as deciding it alone does");
    lawful::v1::Explanation explanation;
    lawful::decide::Explain(resolved, request.contacts[i], &explanation);
    Require(Canonical(explanation.decision()) == Canonical(message),
            "Explain's decision is the decision");
  }
}

void DecideContact(std::string_view bytes, lawful::Evaluator& evaluator) {
  lawful::v1::Contact parsed;
  const bool parses = parsed.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  std::string reserialized;
  if (parses) parsed.SerializeToString(&reserialized);
  for (const char* purpose : {"newsletter", "profiling", "service_notice"}) {
    lawful::v1::Outreach requested;
    requested.set_purpose(purpose);
    requested.set_channel(purpose[0] == 'p' ? lawful::v1::CHANNEL_PHONE
                                            : lawful::v1::CHANNEL_EMAIL);
    const lawful::PreparedOutreach prepared = Prepare(requested);
    std::string_view id;
    const lawful::Decision from_bytes =
        lawful::decide::DecideContact(evaluator, prepared, bytes, &id);
    lawful::v1::Decision proto;
    lawful::decide::ToMessage(Shipped(), from_bytes, bytes, id, 0, &proto);
    Require(parses || from_bytes.outcome == lawful::Outcome::kError,
            "a contact protobuf cannot parse is never decided");
    Require(lawful::IsValidUtf8(proto.contact_id()), "an answer echoes only valid UTF-8");
    if (parses && from_bytes.outcome != lawful::Outcome::kError) {
      std::string_view parsed_id;
      const lawful::Decision from_message =
          lawful::decide::DecideContact(evaluator, prepared, reserialized, &parsed_id);
      Require(Same(from_bytes, from_message),
              "a contact is decided alike from its bytes and from its parsed message");
      Require(id == parsed_id, "the contact's id is the one a parse keeps");
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
