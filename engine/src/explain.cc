// Explain: the same policy code run by the same dispatch loop, with a tracer recording which
// rules were checked and what each one read. The decision is Conclude()'s, as in Evaluate.
#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "calendar.h"
#include "catalog.h"
#include "facts.h"
#include "lawful/engine.h"
#include "vm.h"

namespace lawful {
namespace {

struct Check {
  int32_t rule = -1;
  std::vector<std::pair<std::string, std::string>> seen;
  absl::flat_hash_set<std::string> names;  // each value once, at its first read
};

class ExplainTracer final : public vm::Tracer {
 public:
  ExplainTracer(const Program& program, const RuleSet::Catalog& catalog, const Facts& facts)
      : program_(program), catalog_(catalog), facts_(facts) {}

  void Step(int32_t pc, int64_t* locals) override {
    const int32_t rule = catalog_.rule_at_pc[pc];
    if (rule < 0 || (!checks_.empty() && checks_.back().rule == rule)) return;
    checks_.push_back(Check{rule, {}, {}});
    // Memoized definitions would otherwise be read (and shown) only by the first rule that
    // calls them; recomputing them is pure, so the decision cannot change.
    std::fill(locals, locals + program_.num_memo_flags, 0);
  }

  void Fact(int32_t slot, int64_t value) override {
    if (slot < 0 || static_cast<size_t>(slot) >= catalog_.slots.size()) return;
    const FactInfo& info = catalog_.slots[slot];
    Saw(info.path, Display(program_, facts_, info, value));
  }

  void Field(int32_t list, int64_t index, int32_t field, int64_t value) override {
    if (list < 0 || static_cast<size_t>(list) >= catalog_.lists.size()) return;
    const ListInfo& info = catalog_.lists[list];
    if (field < 0 || static_cast<size_t>(field) >= info.fields.size()) return;
    // A search that found no record (e.g. no consent for the purpose) reads a missing record.
    const std::string record =
        index >= 0 ? absl::StrCat(info.name, "[", index, "]") : absl::StrCat(info.name, "[none]");
    Saw(absl::StrCat(record, ".", info.fields[field].path),
        Display(program_, facts_, info.fields[field], value));
  }

  void Elements(int32_t list) override {
    if (list < 0 || static_cast<size_t>(list) >= catalog_.lists.size()) return;
    const ListInfo& info = catalog_.lists[list];
    const FactList& values = facts_.lists[list];
    if (info.records) {
      Saw(info.name, values.count == 1 ? "1 record" : absl::StrCat(values.count, " records"));
      return;
    }
    std::vector<std::string> shown;
    for (int32_t i = 0; i < values.count; ++i)
      shown.push_back(Display(program_, facts_, info.element, values.data[i]));
    Saw(info.name, shown.empty() ? "none" : absl::StrCat("[", absl::StrJoin(shown, ", "), "]"));
  }

  void Register(int32_t reg, int64_t value) override {
    if (reg < 0 || static_cast<size_t>(reg) >= catalog_.register_names.size()) return;
    FactInfo info;
    info.kind = static_cast<size_t>(reg) < program_.registers.size() ? program_.registers[reg].kind
                                                                     : FactKind::kInt;
    if (reg == kRegChannel) info.enum_type = lawful::v1::Channel_descriptor();
    if (reg == kRegNoticeType) info.enum_type = lawful::v1::NoticeType_descriptor();
    Saw(catalog_.register_names[reg], Display(program_, facts_, info, value));
  }

  std::vector<Check>& checks() { return checks_; }

 private:
  void Saw(const std::string& name, std::string value) {
    if (checks_.empty()) return;  // the policy's own effective-date test, before any rule
    Check& check = checks_.back();
    if (check.names.insert(name).second) check.seen.emplace_back(name, std::move(value));
  }

  const Program& program_;
  const RuleSet::Catalog& catalog_;
  const Facts& facts_;
  std::vector<Check> checks_;
};

// The rule as written: its first line and the more-indented lines that continue it (rule files
// are kept in `lawful fmt`'s canonical layout).
std::string RuleText(const Program& program, const Rule& rule) {
  if (rule.span.file >= program.sources.size() || rule.span.line == 0) return "";
  std::vector<absl::string_view> lines = absl::StrSplit(program.sources[rule.span.file], '\n');
  if (rule.span.line > lines.size()) return "";
  auto indent = [](absl::string_view line) { return line.find_first_not_of(" \t"); };
  const size_t first = rule.span.line - 1;
  const size_t base = indent(lines[first]);
  std::vector<absl::string_view> text = {absl::StripAsciiWhitespace(lines[first])};
  for (size_t i = first + 1; i < lines.size(); ++i) {
    const size_t at = indent(lines[i]);
    if (at == absl::string_view::npos || at <= base) break;
    text.push_back(absl::StripTrailingAsciiWhitespace(lines[i].substr(base)));
  }
  return absl::StrJoin(text, "\n");
}

const char* Verb(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAllow:
      return "Allowed";
    case Outcome::kDeny:
      return "Denied";
    default:
      return "Not decided";
  }
}

// A record quoted in a decision's evidence, as "purpose newsletter, channel email, ...".
std::string DescribeRecord(const google::protobuf::Message& record) {
  std::vector<std::string> parts;
  const auto* d = record.GetDescriptor();
  const auto* reflection = record.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (f->is_repeated() || f->name() == "id" || !reflection->HasField(record, f)) continue;
    std::string value;
    switch (f->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
        value = reflection->GetString(record, f);
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_ENUM: {
        FactInfo info{"", FactKind::kEnum, f->enum_type()};
        Program none;
        Facts empty;
        value = Display(none, empty, info, reflection->GetEnumValue(record, f));
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE:
        if (f->message_type()->full_name() == "google.protobuf.Timestamp") {
          const auto& ts = reflection->GetMessage(record, f);
          const auto* td = ts.GetDescriptor();
          value = calendar::FormatInstant(calendar::FromTimestamp(
              ts.GetReflection()->GetInt64(ts, td->FindFieldByName("seconds")),
              ts.GetReflection()->GetInt32(ts, td->FindFieldByName("nanos"))));
        }
        break;
      default:
        break;
    }
    if (!value.empty()) parts.push_back(absl::StrCat(f->name(), " ", value));
  }
  return absl::StrJoin(parts, ", ");
}

std::string Summary(const RuleSet& rule_set, const PreparedOutreach& outreach,
                    const lawful::v1::Explanation& e, const Decision& d) {
  const Program& p = rule_set.program();
  if (d.outcome == Outcome::kError) {
    return absl::StrCat("Not decided: the contact's ", d.error_path, " is invalid (",
                        d.error_message, "). An invalid contact is never treated as allowed.");
  }
  const Rule& rule = *d.rule;
  std::string text =
      absl::StrCat(Verb(rule.outcome), " (", rule.reason, "; ",
                   rule.citation.empty() ? "no citation" : rule.citation, ") by rule `", rule.name,
                   "` of policy `", rule.policy, "` (", rule_set.Location(rule), ")");
  const int others = e.checks_size() - 1;
  if (others > 0) {
    absl::StrAppend(&text, ", after ", others, others == 1 ? " earlier rule" : " earlier rules",
                    " did not apply");
  }
  absl::StrAppend(&text, ".");
  if (e.checks_size() > 0 && e.checks(e.checks_size() - 1).seen_size() > 0) {
    std::vector<std::string> facts;
    for (const auto& seen : e.checks(e.checks_size() - 1).seen())
      facts.push_back(absl::StrCat(seen.name(), " ", seen.value()));
    absl::StrAppend(&text, " It found: ", absl::StrJoin(facts, "; "), ".");
  }
  if (e.decision().has_evidence()) {
    const auto& ev = e.decision().evidence();
    absl::StrAppend(&text, " It relied on ", ev.field(), "[", ev.index(), "]");
    if (!ev.record_id().empty()) absl::StrAppend(&text, " (id ", ev.record_id(), ")");
    const google::protobuf::Message* record = nullptr;
    if (ev.has_consent()) record = &ev.consent();
    if (ev.has_objection()) record = &ev.objection();
    if (record != nullptr) {
      const std::string described = DescribeRecord(*record);
      if (!described.empty()) absl::StrAppend(&text, ": ", described);
    }
    absl::StrAppend(&text, ".");
  }
  if (d.valid_until != kMissing) {
    absl::StrAppend(&text, " The answer holds until ", calendar::FormatInstant(d.valid_until), ".");
  }
  if (!rule.obligations.empty()) {
    absl::StrAppend(&text, " Obligations: ", absl::StrJoin(rule.obligations, ", "), ".");
  }
  // Shown as the tracer shows them: by kind, whatever values the registers hold.
  const Facts none;
  const std::string purpose = Display(p, none, FactInfo{"purpose", FactKind::kPurpose, nullptr},
                                      outreach.registers[kRegPurpose]);
  const std::string channel =
      Display(p, none, FactInfo{"channel", FactKind::kEnum, lawful::v1::Channel_descriptor()},
              outreach.registers[kRegChannel]);
  absl::StrAppend(&text, " Decided for ", purpose, " by ", channel, " at ",
                  calendar::FormatInstant(outreach.registers[kRegAt]), " under rule set ",
                  rule_set.version(), ".");
  return text;
}

}  // namespace

void RuleSet::Explain(const PreparedOutreach& outreach, std::string_view contact_bytes,
                      lawful::v1::Explanation* out) const {
  const Program& p = program_;
  out->set_rule_set_version(version_);
  out->set_policy(outreach.policy->name);
  Facts facts;
  FactDecoder::Error error;
  Decision d;
  if (!decoder_->Decode(contact_bytes, facts, error)) {
    d.outcome = Outcome::kError;
    d.error_path = std::move(error.path);
    d.error_message = std::move(error.message);
  } else {
    std::vector<int64_t> stack(std::max(p.max_stack, 1) + 1);
    std::vector<int64_t> locals(std::max(p.num_locals, 1) + 1, 0);
    ExplainTracer tracer(p, *catalog_, facts);
    vm::Result r = vm::RunTraced(p, zones_, outreach.policy->entry,
                                 const_cast<int64_t*>(outreach.registers.data()), facts,
                                 stack.data(), locals.data(), tracer);
    std::string scratch;
    d = Conclude(p, *catalog_, facts, r, /*digest=*/true, scratch);
    for (Check& check : tracer.checks()) {
      const Rule& rule = p.rules[check.rule];
      lawful::v1::RuleCheck* c = out->add_checks();
      c->mutable_rule()->set_name(rule.name);
      c->mutable_rule()->set_policy(rule.policy);
      c->mutable_rule()->set_file(rule.span.file < p.files.size() ? p.files[rule.span.file] : "");
      c->mutable_rule()->set_line(rule.span.line);
      c->set_outcome(static_cast<lawful::v1::Outcome>(rule.outcome));
      c->set_fired(check.rule == r.rule);
      c->set_text(RuleText(p, rule));
      for (auto& [name, value] : check.seen) {
        lawful::v1::SeenValue* seen = c->add_seen();
        seen->set_name(std::move(name));
        seen->set_value(std::move(value));
      }
    }
  }
  ToProto(d, out->mutable_decision(), contact_bytes);
  out->mutable_decision()->set_rule_set_version(version_);
  lawful::ToProto(calendar::ToTime(outreach.registers[kRegAt]), out->mutable_at());
  out->set_summary(Summary(*this, outreach, *out, d));
}

}  // namespace lawful
