// The checked rules as solver terms (see encoder.h).
#include "encoder.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "lawful/v1/contact.pb.h"

namespace lawful::prove {

namespace pb = google::protobuf;
using dsl::Expr;
using dsl::ExprKind;
using dsl::TypeKind;

namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

// Seconds of an instant given in nanoseconds, rounded down.
int64_t Seconds(int64_t nanos) {
  return nanos >= 0 ? nanos / kNanosPerSecond : -((-nanos + kNanosPerSecond - 1) / kNanosPerSecond);
}

std::string PathName(const std::vector<const pb::FieldDescriptor*>& path) {
  std::string out;
  for (const pb::FieldDescriptor* f : path)
    absl::StrAppend(&out, out.empty() ? "" : ".", f->name());
  return out;
}

}  // namespace

Encoder::Encoder(z3::context& ctx, const dsl::CheckedRules& rules, int max_records)
    : at(ctx.int_const("at")),
      purpose(ctx.int_const("purpose")),
      channel(ctx.int_const("channel")),
      notice_type(ctx.int_const("notice_type")),
      ctx_(ctx),
      rules_(rules),
      max_records_(max_records),
      facts_(ctx),
      calendar_(ctx, facts_) {
  facts_.push_back(calendar_.ValidInstant(at));
  facts_.push_back(purpose >= 0 && purpose < static_cast<int>(rules.purposes.size()));
  dsl::Type channel_type, notice_type_type;
  for (size_t i = 0; i < rules.enums.size(); ++i) {
    if (rules.enums[i].name == "channel") channel_type = dsl::Type::Enum(static_cast<int32_t>(i));
    if (rules.enums[i].name == "notice_type")
      notice_type_type = dsl::Type::Enum(static_cast<int32_t>(i));
  }
  // The request's channel and notice type are always one of their values (the deciding layer
  // refuses an unspecified channel and reads an unspecified notice type as `contract`).
  facts_.push_back(Domain(channel, channel_type) && channel != 0);
  facts_.push_back(Domain(notice_type, notice_type_type) && notice_type != 0);
}

Value Encoder::Bool(const z3::expr& b) { return Plain(TypeKind::kBool, b, ctx_.bool_val(true)); }

Value Encoder::Plain(TypeKind kind, const z3::expr& v, const z3::expr& present) {
  Value out(ctx_);
  out.kind = kind;
  out.v = v;
  out.present = present;
  return out;
}

int64_t Encoder::TextId(const std::string& text) {
  if (text.empty()) return 0;
  auto [it, added] = texts_.emplace(text, static_cast<int64_t>(texts_.size()) + 1);
  return it->second;
}

std::string Encoder::TextOf(int64_t id, const std::string& field) const {
  if (id == 0) return "";
  for (const auto& [text, number] : texts_) {
    if (number == id) return text;
  }
  if (field == "email") return absl::StrCat("person", id, "@example.com");
  if (field == "phone") return absl::StrCat("+46 70 000 ", id);
  return absl::StrCat(field, " ", id);
}

// The values a variable of `type` may take: an enum's value names and its "none of them" (0 for
// the proto's enums, -1 for a purpose the rule set does not declare).
z3::expr Encoder::Domain(const z3::expr& v, const dsl::Type& type) {
  if (type.kind != TypeKind::kEnum) return ctx_.bool_val(true);
  z3::expr any = v == (type.enum_id == 0 ? -1 : 0);
  for (const auto& [name, number] : rules_.enums[type.enum_id].values)
    any = any || v == ctx_.int_val(number);
  return any;
}

ListVars& Encoder::List(const std::string& name,
                        const std::vector<const pb::FieldDescriptor*>& path, bool records) {
  auto it = lists_.find(name);
  if (it != lists_.end()) return it->second;
  ListVars list;
  list.path = path;
  list.records = records;
  for (int k = 0; k < max_records_; ++k) {
    list.exists.push_back(ctx_.bool_const(absl::StrCat(name, "#", k).c_str()));
    // Entries fill the list from its start: one model per contact, not one per arrangement.
    if (k > 0) facts_.push_back(z3::implies(list.exists[k], list.exists[k - 1]));
  }
  return lists_.emplace(name, std::move(list)).first->second;
}

const Fact& Encoder::FactAt(const std::string& list, int index,
                            const std::vector<const pb::FieldDescriptor*>& path,
                            const dsl::Type& type) {
  for (const Fact& f : contact_facts_) {
    if (f.list == list && f.index == index && f.path == path) return f;
  }
  const std::string name = absl::StrCat(list, "#", index, ".", PathName(path));
  const bool is_bool = type.kind == TypeKind::kBool;
  Fact f{list,
         index,
         path,
         type.kind,
         type.enum_id,
         is_bool ? ctx_.bool_const(name.c_str()) : ctx_.int_const(name.c_str()),
         ctx_.bool_const(absl::StrCat(name, "?").c_str())};
  const bool can_be_missing = type.kind == TypeKind::kInstant || type.kind == TypeKind::kDate;
  if (!can_be_missing) facts_.push_back(f.present);
  if (type.kind == TypeKind::kInstant)
    facts_.push_back(z3::implies(f.present, calendar_.ValidInstant(f.value)));
  if (type.kind == TypeKind::kDate)
    facts_.push_back(z3::implies(f.present, calendar_.ValidDate(f.value)));
  if (type.kind == TypeKind::kString) facts_.push_back(f.value >= 0);
  facts_.push_back(Domain(f.value, type));
  // A record's required fields (the `required` option of contact.proto) are set, or the contact
  // is refused before any rule runs.
  if (!path.empty() && !path.back()->options().GetExtension(lawful::v1::required).empty() &&
      index >= 0) {
    // (A purpose the rules do not declare, -1, is still a non-empty text.)
    z3::expr set = type.kind == TypeKind::kEnum
                       ? (type.enum_id == 0 ? ctx_.bool_val(true) : f.value != 0)
                   : type.kind == TypeKind::kString ? f.value != 0
                                                    : f.present;
    facts_.push_back(z3::implies(lists_.at(list).exists[index], set));
  }
  contact_facts_.push_back(f);
  return contact_facts_.back();
}

Value Encoder::ReadFact(const Value& record, const pb::FieldDescriptor* field,
                        const dsl::Type& type) {
  std::vector<const pb::FieldDescriptor*> path = record.path;
  path.push_back(field);
  if (record.list.empty()) {
    const Fact& f = FactAt("", -1, path, type);
    return Plain(type.kind, f.value, f.present);
  }
  // A record of a list: its index is a number inside a quantifier, a term after `latest`.
  if (record.v.is_numeral()) {
    const Fact& f = FactAt(record.list, record.v.get_numeral_int(), path, type);
    return Plain(type.kind, f.value, f.present && record.present);
  }
  z3::expr value = FactAt(record.list, 0, path, type).value;
  z3::expr present = FactAt(record.list, 0, path, type).present;
  for (int k = 1; k < max_records_; ++k) {
    const Fact& f = FactAt(record.list, k, path, type);
    value = z3::ite(record.v == k, f.value, value);
    present = z3::ite(record.v == k, f.present, present);
  }
  // A missing record's texts are empty, its conditions false, everything else missing.
  if (type.kind == TypeKind::kString) value = z3::ite(record.present, value, ctx_.int_val(0));
  if (type.kind == TypeKind::kBool) value = value && record.present;
  return Plain(type.kind, value, present && record.present);
}

Value Encoder::EvalField(const Expr& e, const Args* args) {
  Value base = Eval(*e.kids[0], args);
  const pb::FieldDescriptor* f = base.message->FindFieldByName(e.text);
  if (e.type.kind == TypeKind::kList) {
    std::vector<const pb::FieldDescriptor*> path = base.path;
    path.push_back(f);
    Value list = Plain(TypeKind::kList, ctx_.int_val(0), ctx_.bool_val(true));
    list.list = PathName(path);
    list.path = path;
    list.element = *e.type.element;
    List(list.list, path, e.type.element->kind == TypeKind::kRecord);
    if (e.type.element->kind == TypeKind::kRecord) list.message = f->message_type();
    return list;
  }
  if (e.type.kind == TypeKind::kRecord) {
    Value nested = base;
    nested.message = f->message_type();
    nested.path.push_back(f);
    return nested;
  }
  return ReadFact(base, f, e.type);
}

z3::expr Encoder::InForce(const dsl::Effective& e) {
  z3::expr in_force = ctx_.bool_val(true);
  if (e.from) in_force = in_force && at >= ctx_.int_val(Seconds(*e.from));
  if (e.until) in_force = in_force && at < ctx_.int_val(Seconds(*e.until));
  return in_force;
}

Value Encoder::EvalConst(const dsl::Def& def) {
  const dsl::ConstValue& c = def.constant;
  switch (def.type.kind) {
    case TypeKind::kBool:
      return Bool(ctx_.bool_val(c.value != 0));
    case TypeKind::kString:
      return Plain(TypeKind::kString, ctx_.int_val(TextId(c.text)), ctx_.bool_val(true));
    case TypeKind::kInstant:
      return Plain(TypeKind::kInstant, ctx_.int_val(Seconds(c.value)), ctx_.bool_val(true));
    case TypeKind::kDuration: {
      Value d = Plain(TypeKind::kDuration, ctx_.int_val(0), ctx_.bool_val(true));
      d.duration = c.duration;
      return d;
    }
    case TypeKind::kSet: {
      Value s = Plain(TypeKind::kSet, ctx_.int_val(0), ctx_.bool_val(true));
      for (int64_t v : c.set) s.set.push_back(ctx_.int_val(v));
      return s;
    }
    default:  // numbers, dates, value names
      return Plain(def.type.kind, ctx_.int_val(c.value), ctx_.bool_val(true));
  }
}

Value Encoder::EvalDef(const dsl::Def& def, const std::vector<std::unique_ptr<Expr>>& kids,
                       const Args* args) {
  if (def.is_const) return EvalConst(def);
  Args values;
  for (const auto& k : kids) values.push_back(Eval(*k, args));
  return Eval(*def.body, &values);
}

Value Encoder::EvalName(const Expr& e, const Args* args) {
  using dsl::Resolution;
  const z3::expr yes = ctx_.bool_val(true);
  switch (e.resolution) {
    case Resolution::kAt:
      return Plain(TypeKind::kInstant, at, yes);
    case Resolution::kPurpose:
      return Plain(TypeKind::kEnum, purpose, yes);
    case Resolution::kChannel:
      return Plain(TypeKind::kEnum, channel, yes);
    case Resolution::kNoticeType:
      return Plain(TypeKind::kEnum, notice_type, yes);
    case Resolution::kContact: {
      Value contact = Plain(TypeKind::kRecord, ctx_.int_val(0), yes);
      contact.message = lawful::v1::Contact::descriptor();
      return contact;
    }
    case Resolution::kConst:
    case Resolution::kDef:
      return EvalDef(*e.def, e.kids, args);
    case Resolution::kParam:
      return (*args)[e.binding];
    case Resolution::kLoopVar:
      return loop_vars_.at(e.binding);
    case Resolution::kEnumValue:
      return Plain(TypeKind::kEnum, ctx_.int_val(e.value), yes);
    default:
      return Plain(TypeKind::kError, ctx_.int_val(0), ctx_.bool_val(false));
  }
}

Value Encoder::EvalCall(const Expr& e, const Args* args) {
  if (e.resolution != dsl::Resolution::kBuiltin) return EvalDef(*e.def, e.kids, args);
  Value a = Eval(*e.kids[0], args);
  if (e.text == "local_date") {
    // The checker leaves the zone's name in `builtin`.
    return Plain(TypeKind::kDate, calendar_.LocalDate(a.v, e.builtin), a.present);
  }
  // years_between: YYYYMMDD numbers make completed years a floor division (calendar.cc).
  Value b = Eval(*e.kids[1], args);
  return Plain(TypeKind::kInt, (b.v - a.v) / 10000, a.present && b.present);
}

z3::expr Encoder::Membership(const Value& x, const Value& collection) {
  z3::expr any = ctx_.bool_val(false);
  if (collection.kind == TypeKind::kSet) {
    for (const z3::expr& v : collection.set) any = any || x.v == v;
    return x.present && any;
  }
  const ListVars& list = lists_.at(collection.list);
  for (int k = 0; k < max_records_; ++k) {
    const Fact& f = FactAt(collection.list, k, {}, collection.element);
    any = any || (list.exists[k] && f.present && f.value == x.v);
  }
  return x.present && any;
}

Value Encoder::EvalBinary(const Expr& e, const Args* args) {
  using dsl::BinaryOp;
  Value a = Eval(*e.kids[0], args);
  Value b = Eval(*e.kids[1], args);
  const z3::expr both = a.present && b.present;
  switch (e.op) {
    case BinaryOp::kOr:
      return Bool(a.v || b.v);
    case BinaryOp::kAnd:
      return Bool(a.v && b.v);
    case BinaryOp::kIn:
      return Bool(Membership(a, b));
    case BinaryOp::kNotIn:
      return Bool(!Membership(a, b));
    case BinaryOp::kEq:
    case BinaryOp::kNe: {
      // Conditions and texts are never missing; anything else compared with a missing value is
      // false, `!=` included.
      const bool total = a.kind == TypeKind::kBool || a.kind == TypeKind::kString;
      z3::expr same = a.kind == TypeKind::kRecord ? a.v == b.v && a.list == b.list : a.v == b.v;
      if (a.kind == TypeKind::kRecord && a.list != b.list) same = ctx_.bool_val(false);
      z3::expr holds = e.op == BinaryOp::kEq ? same : !same;
      return Bool(total ? holds : both && holds);
    }
    case BinaryOp::kLt:
      return Bool(both && a.v < b.v);
    case BinaryOp::kLe:
      return Bool(both && a.v <= b.v);
    case BinaryOp::kGt:
      return Bool(both && a.v > b.v);
    case BinaryOp::kGe:
      return Bool(both && a.v >= b.v);
    case BinaryOp::kAdd:
    case BinaryOp::kSub: {
      const int sign = e.op == BinaryOp::kAdd ? 1 : -1;
      if (a.kind == TypeKind::kDuration && b.kind != TypeKind::kDuration) std::swap(a, b);
      if (b.kind == TypeKind::kDuration) {
        const int64_t months = sign * int64_t{b.duration.months};
        const int64_t days = sign * int64_t{b.duration.days};
        z3::expr moved = a.kind == TypeKind::kDate ? calendar_.AddToDate(a.v, months, days)
                                                   : calendar_.AddToInstant(a.v, months, days);
        return Plain(a.kind, moved, a.present);
      }
      return Plain(TypeKind::kInt, sign > 0 ? a.v + b.v : a.v - b.v, both);
    }
    case BinaryOp::kMul:
      return Plain(TypeKind::kInt, a.v * b.v, both);
    case BinaryOp::kDiv: {
      // C++'s division truncates toward zero; a division by zero is missing.
      z3::expr q = z3::ite((a.v >= 0) == (b.v >= 0), z3::abs(a.v) / z3::abs(b.v),
                           -(z3::abs(a.v) / z3::abs(b.v)));
      return Plain(TypeKind::kInt, q, both && b.v != 0);
    }
  }
  return Bool(ctx_.bool_val(false));
}

Value Encoder::EvalQuantifier(const Expr& e, const Args* args) {
  Value collection = Eval(*e.kids[0], args);
  const ListVars& list = lists_.at(collection.list);
  auto element = [&](int k) {
    if (collection.element.kind == TypeKind::kRecord) {
      Value record = Plain(TypeKind::kRecord, ctx_.int_val(k), ctx_.bool_val(true));
      record.list = collection.list;
      record.message = collection.message;
      return record;
    }
    const Fact& f = FactAt(collection.list, k, {}, collection.element);
    return Plain(collection.element.kind, f.value, f.present);
  };
  std::vector<z3::expr> holds, keys, keyed;
  std::vector<Value> elements;
  for (int k = 0; k < max_records_; ++k) {
    elements.push_back(element(k));
    loop_vars_.insert_or_assign(e.id, elements.back());
    holds.push_back(list.exists[k] && Eval(*e.kids[1], args).v);
    if (e.kind == ExprKind::kLatest) {
      Value key = Eval(*e.kids[2], args);
      keys.push_back(key.v);
      keyed.push_back(holds.back() && key.present);  // a record without a key is never latest
    }
  }
  loop_vars_.erase(e.id);
  switch (e.kind) {
    case ExprKind::kAny: {
      z3::expr any = ctx_.bool_val(false);
      for (const z3::expr& h : holds) any = any || h;
      return Bool(any);
    }
    case ExprKind::kAll: {
      z3::expr all = ctx_.bool_val(true);
      for (int k = 0; k < max_records_; ++k) all = all && z3::implies(list.exists[k], holds[k]);
      return Bool(all);
    }
    case ExprKind::kCount: {
      z3::expr n = ctx_.int_val(0);
      for (const z3::expr& h : holds) n = n + z3::ite(h, ctx_.int_val(1), ctx_.int_val(0));
      return Plain(TypeKind::kInt, n, ctx_.bool_val(true));
    }
    default:
      break;
  }
  // latest: the first record with the greatest key among those that qualify (compile_expr.cc).
  z3::expr any = ctx_.bool_val(false);
  Value result = elements.back();
  for (int k = max_records_ - 1; k >= 0; --k) {
    z3::expr best = keyed[k];
    for (int j = 0; j < max_records_; ++j) {
      if (j < k) best = best && !(keyed[j] && keys[j] >= keys[k]);
      if (j > k) best = best && !(keyed[j] && keys[j] > keys[k]);
    }
    result.v = z3::ite(best, elements[k].v, result.v);
    result.present = z3::ite(best, elements[k].present, result.present);
    any = any || keyed[k];
  }
  result.present = result.present && any;
  return result;
}

Value Encoder::Eval(const Expr& e, const Args* args) {
  const z3::expr yes = ctx_.bool_val(true);
  switch (e.kind) {
    case ExprKind::kBool:
      return Bool(ctx_.bool_val(e.value != 0));
    case ExprKind::kInt:
    case ExprKind::kDate:
      return Plain(e.kind == ExprKind::kInt ? TypeKind::kInt : TypeKind::kDate,
                   ctx_.int_val(e.value), yes);
    case ExprKind::kString:
      return Plain(TypeKind::kString, ctx_.int_val(TextId(e.text)), yes);
    case ExprKind::kInstant:
      return Plain(TypeKind::kInstant, ctx_.int_val(Seconds(e.value)), yes);
    case ExprKind::kDuration: {
      Value d = Plain(TypeKind::kDuration, ctx_.int_val(0), yes);
      d.duration = e.duration;
      return d;
    }
    case ExprKind::kName:
      return EvalName(e, args);
    case ExprKind::kField:
      return EvalField(e, args);
    case ExprKind::kCall:
      return EvalCall(e, args);
    case ExprKind::kSet: {
      Value s = Plain(TypeKind::kSet, ctx_.int_val(0), yes);
      for (const auto& k : e.kids) s.set.push_back(Eval(*k, args).v);
      return s;
    }
    case ExprKind::kNot:
      return Bool(!Eval(*e.kids[0], args).v);
    case ExprKind::kNeg: {
      Value a = Eval(*e.kids[0], args);
      return Plain(TypeKind::kInt, -a.v, a.present);
    }
    case ExprKind::kBinary:
      return EvalBinary(e, args);
    case ExprKind::kIf: {
      z3::expr c = Eval(*e.kids[0], args).v;
      Value a = Eval(*e.kids[1], args);
      Value b = Eval(*e.kids[2], args);
      a.v = z3::ite(c, a.v, b.v);
      a.present = z3::ite(c, a.present, b.present);
      return a;
    }
    case ExprKind::kAny:
    case ExprKind::kAll:
    case ExprKind::kCount:
    case ExprKind::kLatest:
      return EvalQuantifier(e, args);
    case ExprKind::kIsMissing:
    case ExprKind::kIsPresent: {
      Value a = Eval(*e.kids[0], args);
      z3::expr missing = a.kind == TypeKind::kString ? a.v == 0
                         : a.kind == TypeKind::kBool ? ctx_.bool_val(false)
                                                     : !a.present;
      return Bool(e.kind == ExprKind::kIsMissing ? missing : !missing);
    }
  }
  return Bool(ctx_.bool_val(false));
}

const std::vector<RuleTerm>& Encoder::Rules() {
  if (!rule_terms_.empty()) return rule_terms_;
  z3::expr earlier_policy = ctx_.bool_val(false);
  for (size_t i = 0; i < rules_.policies.size(); ++i) {
    const dsl::PolicyDecl& p = *rules_.policies[i];
    z3::expr covers = ctx_.bool_val(false);
    for (int32_t id : rules_.policy_purposes[i]) covers = covers || purpose == id;
    z3::expr on_channel = ctx_.bool_val(false);
    for (int c = 0; c < 32; ++c) {
      if (rules_.policy_channels[i] & (1u << c)) on_channel = on_channel || channel == c;
    }
    covers = covers && on_channel && InForce(p.effective);
    z3::expr chosen = covers && !earlier_policy;
    earlier_policy = earlier_policy || covers;
    z3::expr earlier_rule = ctx_.bool_val(false);
    for (const dsl::RuleDecl& r : p.rules) {
      z3::expr applies =
          r.when ? InForce(r.effective) && Eval(*r.when, nullptr).v : ctx_.bool_val(true);
      rule_terms_.push_back(RuleTerm{&p, &r, chosen && applies && !earlier_rule});
      earlier_rule = earlier_rule || applies;
    }
  }
  return rule_terms_;
}

z3::expr Encoder::Premise(const dsl::InvariantDecl& invariant) {
  z3::expr premise = ctx_.bool_val(false);
  for (int32_t id : invariant.purpose_ids) premise = premise || purpose == id;
  z3::expr on_channel = ctx_.bool_val(false);
  for (int c = 0; c < 32; ++c) {
    if (invariant.channel_mask & (1u << c)) on_channel = on_channel || channel == c;
  }
  premise = premise && on_channel;
  if (invariant.when) premise = premise && Eval(*invariant.when, nullptr).v;
  return premise;
}

}  // namespace lawful::prove
