// RuleSet: a verified program with its version; Evaluator: per-thread scratch that decides
// contacts.
#include <openssl/evp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "calendar.h"
#include "catalog.h"
#include "facts.h"
#include "lawful/engine.h"
#include "vm.h"

namespace lawful {

RuleSet::RuleSet(Program program, std::string version)
    : program_(std::move(program)), version_(std::move(version)) {}

RuleSet::~RuleSet() = default;

absl::StatusOr<std::shared_ptr<const RuleSet>> RuleSet::Create(Program program,
                                                               std::string version) {
  if (absl::Status s = Verify(program); !s.ok()) return s;
  std::shared_ptr<RuleSet> rule_set(new RuleSet(std::move(program), std::move(version)));
  for (const std::string& name : rule_set->program_.zones) {
    absl::TimeZone zone;
    if (!absl::LoadTimeZone(name, &zone)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "time zone `", name, "` is not known on this machine (is tzdata installed?)"));
    }
    rule_set->zones_.push_back(zone);
  }
  rule_set->decoder_ =
      std::make_unique<FactDecoder>(rule_set->program_.layout, rule_set->program_.purposes);
  rule_set->catalog_ = std::make_unique<const Catalog>(rule_set->program_);
  return std::shared_ptr<const RuleSet>(std::move(rule_set));
}

absl::StatusOr<PreparedOutreach> RuleSet::Prepare(const Outreach& outreach) const {
  const Program& p = program_;
  int32_t purpose = -1;
  for (size_t i = 0; i < p.purposes.size(); ++i) {
    if (p.purposes[i] == outreach.purpose) purpose = static_cast<int32_t>(i);
  }
  if (outreach.purpose.empty())
    return absl::InvalidArgumentError("outreach.purpose: a purpose is required");
  if (purpose < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "outreach.purpose: `", outreach.purpose,
        "` is not a purpose declared by the rule set (declared: ", absl::StrJoin(p.purposes, ", "),
        ")"));
  }
  if (outreach.channel <= lawful::v1::CHANNEL_UNSPECIFIED ||
      outreach.channel > lawful::v1::CHANNEL_PHONE) {
    return absl::InvalidArgumentError(
        "outreach.channel: a channel is required (email, sms, post or phone)");
  }
  if (!lawful::v1::NoticeType_IsValid(outreach.notice_type)) {
    return absl::InvalidArgumentError("outreach.notice_type: unknown notice type");
  }
  const int64_t at = calendar::FromTime(outreach.at);
  const Policy* chosen = nullptr;
  for (const Policy& policy : p.policies) {
    bool covers_purpose = false;
    for (int32_t id : policy.purposes) covers_purpose |= id == purpose;
    if (!covers_purpose || (policy.channels & (1u << outreach.channel)) == 0) continue;
    if (policy.effective_from != kMissing && at < policy.effective_from) continue;
    if (policy.effective_until != kMissing && at >= policy.effective_until) continue;
    chosen = &policy;
    break;
  }
  if (chosen == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "outreach: no policy of the rule set covers purpose `", outreach.purpose, "` on channel `",
        absl::AsciiStrToLower(lawful::v1::Channel_Name(outreach.channel).substr(8)), "` at ",
        calendar::FormatInstant(at)));
  }
  PreparedOutreach prepared;
  prepared.rule_set = this;
  prepared.policy = chosen;
  prepared.at = outreach.at;
  prepared.facts_digest = outreach.facts_digest;
  prepared.registers.assign(p.num_registers, 0);
  prepared.registers[kRegAt] = at;
  prepared.registers[kRegPurpose] = purpose;
  prepared.registers[kRegChannel] = outreach.channel;
  prepared.registers[kRegNoticeType] = outreach.notice_type == lawful::v1::NOTICE_TYPE_UNSPECIFIED
                                           ? lawful::v1::NOTICE_TYPE_CONTRACT
                                           : outreach.notice_type;
  // The prelude computes the `at`-dependent cut-offs (at - 24 months, ...) once per request.
  std::vector<int64_t> stack(std::max(p.max_stack, 1));
  std::vector<int64_t> locals(std::max(p.num_locals, 1));
  Facts none;
  vm::Run(p, zones_, p.prelude, prepared.registers.data(), none, stack.data(), locals.data());
  return prepared;
}

std::string RuleSet::Location(const Rule& rule) const {
  const std::string& file =
      rule.span.file < program_.files.size() ? program_.files[rule.span.file] : "?";
  return absl::StrCat(file, ":", rule.span.line);
}

void RuleSet::ToProto(const Decision& d, lawful::v1::Decision* out,
                      std::string_view contact_bytes) const {
  std::string bytes;
  AppendDecision(d, contact_bytes, &bytes);
  out->Clear();
  out->ParseFromString(bytes);  // cannot fail: the bytes are AppendDecision's
}

struct ContactFacts::Storage {
  Facts facts;
};

ContactFacts::ContactFacts() : storage_(std::make_unique<Storage>()) {}
ContactFacts::~ContactFacts() = default;
ContactFacts::ContactFacts(ContactFacts&&) noexcept = default;
ContactFacts& ContactFacts::operator=(ContactFacts&&) noexcept = default;

bool RuleSet::Decode(std::string_view contact_bytes, ContactFacts& facts, Decision& error) const {
  facts.rule_set_ = this;
  FactDecoder::Error e;
  if (decoder_->Decode(contact_bytes, facts.storage_->facts, e)) return true;
  facts.rule_set_ = nullptr;
  error = Decision{};
  error.outcome = Outcome::kError;
  error.error_path = std::move(e.path);
  error.error_message = std::move(e.message);
  return false;
}

struct Evaluator::State {
  ContactFacts facts;
  std::vector<int64_t> stack;
  std::vector<int64_t> locals;
  std::string buffer;          // serialized contact for the message overload
  std::string digest_scratch;  // the canonical facts encoding, reused
};

Evaluator::Evaluator() : state_(std::make_unique<State>()) {}
Evaluator::~Evaluator() = default;

Decision Evaluator::Decide(const PreparedOutreach& outreach, const lawful::v1::Contact& contact) {
  // The bytes overload never touches `buffer`, so it can hold the contact while it decides.
  state_->buffer.clear();
  contact.AppendToString(&state_->buffer);
  return Decide(outreach, state_->buffer);
}

Decision Evaluator::Decide(const PreparedOutreach& outreach, std::string_view contact_bytes) {
  Decision error;
  if (!outreach.rule_set->Decode(contact_bytes, state_->facts, error)) return error;
  return Evaluate(outreach, state_->facts);
}

Decision Evaluator::Evaluate(const PreparedOutreach& outreach, const ContactFacts& contact) {
  const RuleSet& rs = *outreach.rule_set;
  const Program& p = rs.program_;
  State& s = *state_;
  Decision d;
  if (contact.rule_set_ != &rs) {
    d.outcome = Outcome::kError;
    d.error_message = "the contact's facts were decoded for another rule set";
    return d;
  }
  const Facts& facts = contact.storage_->facts;
  if (s.stack.size() < static_cast<size_t>(p.max_stack) + 1) s.stack.resize(p.max_stack + 1);
  if (s.locals.size() < static_cast<size_t>(p.num_locals) + 1) s.locals.resize(p.num_locals + 1);
  // Fresh memo flags per contact keep every decision independent of the one before.
  std::fill(s.locals.begin(), s.locals.begin() + p.num_memo_flags, 0);
  // Registers are read-only for policy code (the verifier forbids kStoreReg there).
  vm::Result r =
      vm::Run(p, rs.zones_, outreach.policy->entry, const_cast<int64_t*>(outreach.registers.data()),
              facts, s.stack.data(), s.locals.data());
  return Conclude(p, *rs.catalog_, facts, r, outreach.facts_digest, s.digest_scratch);
}

std::string ContentVersion(const std::vector<std::pair<std::string, std::string>>& parts) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  auto add = [&](const std::string& s) {
    std::string len = absl::StrCat(s.size(), ":");
    EVP_DigestUpdate(ctx, len.data(), len.size());
    EVP_DigestUpdate(ctx, s.data(), s.size());
  };
  for (const auto& [name, bytes] : parts) {
    add(name);
    add(bytes);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx, digest, &size);
  EVP_MD_CTX_free(ctx);
  return Hex(digest, size);
}

}  // namespace lawful
