// A solver model as a fixture case (see counterexample.h).
#include "counterexample.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "lawful/v1/contact.pb.h"

namespace lawful::prove {
namespace {

namespace pb = google::protobuf;

int64_t Int(const z3::model& m, const z3::expr& e) { return m.eval(e, true).get_numeral_int64(); }
bool True(const z3::model& m, const z3::expr& e) { return m.eval(e, true).is_true(); }

// The message holding the last field of `path`, starting from `root`, creating nested ones.
pb::Message* Holder(pb::Message* root, const std::vector<const pb::FieldDescriptor*>& path) {
  pb::Message* m = root;
  for (size_t i = 0; i + 1 < path.size(); ++i) m = m->GetReflection()->MutableMessage(m, path[i]);
  return m;
}

void SetTimestamp(pb::Message* ts, int64_t seconds) {
  static_cast<pb::Timestamp*>(ts)->set_seconds(seconds);
}

// Sets `field` of `m` (or adds to it when repeated) to a fact's value from the model.
void Set(const Encoder& encoder, const z3::model& model, const Fact& fact, pb::Message* m,
         const pb::FieldDescriptor* field) {
  const pb::Reflection* r = m->GetReflection();
  const bool rep = field->is_repeated();
  if ((fact.kind == dsl::TypeKind::kInstant || fact.kind == dsl::TypeKind::kDate) &&
      !True(model, fact.present)) {
    return;  // missing: left unset
  }
  switch (fact.kind) {
    case dsl::TypeKind::kBool:
      if (!rep) r->SetBool(m, field, True(model, fact.value));
      return;
    case dsl::TypeKind::kInstant:
      SetTimestamp(rep ? r->AddMessage(m, field) : r->MutableMessage(m, field),
                   Int(model, fact.value));
      return;
    case dsl::TypeKind::kDate: {
      const int64_t d = Int(model, fact.value);
      r->SetString(m, field, absl::StrFormat("%04d-%02d-%02d", d / 10000, d / 100 % 100, d % 100));
      return;
    }
    case dsl::TypeKind::kEnum: {
      const int64_t v = Int(model, fact.value);
      if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
        // A purpose: its name, or one the rule set does not declare.
        const std::string name =
            v >= 0 ? encoder.rules().purposes[v] : std::string("undeclared_purpose");
        rep ? r->AddString(m, field, name) : r->SetString(m, field, name);
      } else if (rep) {
        r->AddEnumValue(m, field, static_cast<int>(v));
      } else {
        r->SetEnumValue(m, field, static_cast<int>(v));
      }
      return;
    }
    case dsl::TypeKind::kString: {
      const std::string text = encoder.TextOf(Int(model, fact.value), field->name());
      rep ? r->AddString(m, field, text) : r->SetString(m, field, text);
      return;
    }
    case dsl::TypeKind::kInt:
      if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_INT64) {
        r->SetInt64(m, field, Int(model, fact.value));
      } else {
        r->SetInt32(m, field, static_cast<int32_t>(Int(model, fact.value)));
      }
      return;
    default:
      return;
  }
}

// Required fields of a record that the rules never read still need a value.
void FillRequired(pb::Message* record, int64_t at) {
  const pb::Descriptor* d = record->GetDescriptor();
  const pb::Reflection* r = record->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (f->options().GetExtension(lawful::v1::required).empty() || r->HasField(*record, f))
      continue;
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_ENUM) {
      r->SetEnumValue(
          record, f,
          f->enum_type()->value(std::min(1, f->enum_type()->value_count() - 1))->number());
    } else if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      SetTimestamp(r->MutableMessage(record, f), at);
    } else if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
      r->SetString(record, f, "unread");
    }
  }
}

}  // namespace

unsigned PreferReadable(z3::solver& solver, const Encoder& encoder) {
  z3::context& ctx = solver.ctx();
  std::vector<z3::expr> wishes;
  for (const auto& [name, list] : encoder.lists()) {
    for (auto k = list.exists.size(); k-- > 0;) wishes.push_back(!list.exists[k]);
  }
  const z3::expr& at = encoder.at;
  wishes.push_back(at >= ctx.int_val(1'767'225'600) && at < ctx.int_val(1'798'761'600));  // 2026
  wishes.push_back(z3::mod(at, ctx.int_val(86'400)) == 36'000);  // 10:00 UTC
  wishes.push_back(encoder.notice_type == lawful::v1::NOTICE_TYPE_CONTRACT);
  for (const Fact& f : encoder.contact_facts()) {
    if (f.kind == dsl::TypeKind::kInstant) {
      wishes.push_back(
          z3::implies(f.present, f.value > at - 40 * 31'536'000 && f.value <= at + 31'536'000));
      wishes.push_back(z3::implies(f.present, z3::mod(f.value, ctx.int_val(86'400)) == 0));
    }
    if (f.kind == dsl::TypeKind::kDate) {
      wishes.push_back(z3::implies(f.present, f.value >= 19300101 && f.value <= 20251231));
    }
    if (f.kind == dsl::TypeKind::kString) {
      wishes.push_back(f.value == 0);
      wishes.push_back(f.value == 0 || f.value > 1000);
    }
  }
  for (const z3::expr& wish : wishes) {
    solver.push();
    solver.add(wish);
    if (solver.check() != z3::sat) {
      solver.pop();
      solver.push();  // one scope per wish, kept or not
    }
  }
  // The solver's local dates only move with their instants: pin each to the zone's real date
  // at the instant the model chose, so the engine reads the same dates.
  unsigned scopes = static_cast<unsigned>(wishes.size());
  for (const Calendar::LocalDateTerm& term : encoder.calendar().local_dates()) {
    solver.check();
    const int64_t instant = solver.get_model().eval(term.instant, true).get_numeral_int64();
    absl::TimeZone zone;
    if (!absl::LoadTimeZone(term.zone, &zone)) continue;
    const absl::CivilSecond local = zone.At(absl::FromUnixSeconds(instant)).cs;
    const int64_t date = local.year() * 10000 + local.month() * 100 + local.day();
    solver.push();
    ++scopes;
    solver.add(term.instant == ctx.int_val(instant) && term.date == ctx.int_val(date));
    if (solver.check() != z3::sat) {
      solver.pop();
      solver.push();
    }
  }
  solver.check();  // sat: every kept wish and pin was checked with the ones before it
  return scopes;
}

fixtures::Fixture FixtureFromModel(const Encoder& encoder, const z3::model& model) {
  fixtures::Fixture out;
  const int64_t at = Int(model, encoder.at);
  out.outreach.purpose = encoder.rules().purposes[Int(model, encoder.purpose)];
  out.outreach.channel = static_cast<lawful::v1::Channel>(Int(model, encoder.channel));
  // `contract` is what an outreach without a notice type declares: it goes unsaid.
  const int64_t notice = Int(model, encoder.notice_type);
  if (notice != lawful::v1::NOTICE_TYPE_CONTRACT)
    out.outreach.notice_type = static_cast<lawful::v1::NoticeType>(notice);
  out.outreach.at = absl::FromUnixSeconds(at);
  lawful::v1::Contact& contact = out.contact;
  // Records first, as many as the model's lists hold, so facts can fill them by index.
  std::map<std::string, int> sizes;
  for (const auto& [name, list] : encoder.lists()) {
    int n = 0;
    while (n < static_cast<int>(list.exists.size()) && True(model, list.exists[n])) ++n;
    sizes[name] = n;
    if (!list.records) continue;
    pb::Message* holder = Holder(&contact, list.path);
    for (int k = 0; k < n; ++k) holder->GetReflection()->AddMessage(holder, list.path.back());
  }
  std::vector<const Fact*> facts;
  for (const Fact& f : encoder.contact_facts()) facts.push_back(&f);
  std::stable_sort(facts.begin(), facts.end(),
                   [](const Fact* a, const Fact* b) { return a->index < b->index; });
  for (const Fact* f : facts) {
    if (f->list.empty()) {
      Set(encoder, model, *f, Holder(&contact, f->path), f->path.back());
      continue;
    }
    if (f->index >= sizes[f->list]) continue;  // past the list's end
    const ListVars& list = encoder.lists().at(f->list);
    pb::Message* holder = Holder(&contact, list.path);
    if (!list.records) {
      Set(encoder, model, *f, holder, list.path.back());  // appended in index order
      continue;
    }
    pb::Message* record =
        holder->GetReflection()->MutableRepeatedMessage(holder, list.path.back(), f->index);
    Set(encoder, model, *f, Holder(record, f->path), f->path.back());
  }
  for (const auto& [name, list] : encoder.lists()) {
    if (!list.records) continue;
    pb::Message* holder = Holder(&contact, list.path);
    for (int k = 0; k < sizes[name]; ++k)
      FillRequired(holder->GetReflection()->MutableRepeatedMessage(holder, list.path.back(), k),
                   at);
  }
  return out;
}

}  // namespace lawful::prove
