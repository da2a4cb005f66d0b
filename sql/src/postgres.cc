// The contact schema in PostgreSQL through libpq: COPY contacts in, read them back as the engine
// receives them, run a compiled query. Every session reads and writes instants in UTC.
#include <libpq-fe.h>

#include <cctype>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "lawful/sql.h"

namespace lawful::sql {
namespace {

using lawful::v1::Contact;
using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

struct Connection {
  PGconn* conn = nullptr;
  ~Connection() {
    if (conn != nullptr) PQfinish(conn);
  }
};

absl::Status Open(const std::string& conninfo, Connection& c) {
  c.conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(c.conn) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("PostgreSQL: ", PQerrorMessage(c.conn)));
  }
  ResultPtr r(PQexec(c.conn,
                     // jit off: compiling the query's many short expressions costs more than it
                     // saves (measured: 7.8 s against 2.0 s on 20,000 contacts, bench/README.md).
                     "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET jit = off"),
              &PQclear);
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    return absl::InternalError(absl::StrCat("PostgreSQL: ", PQerrorMessage(c.conn)));
  }
  return absl::OkStatus();
}

absl::StatusOr<ResultPtr> Query(Connection& c, const std::string& sql,
                                const std::vector<std::string>& params = {}) {
  std::vector<const char*> values;
  for (const std::string& p : params) values.push_back(p.c_str());
  ResultPtr r(PQexecParams(c.conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                           values.data(), nullptr, nullptr, 0),
              &PQclear);
  const ExecStatusType status = PQresultStatus(r.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    return absl::InvalidArgumentError(absl::StrCat("PostgreSQL: ", PQerrorMessage(c.conn)));
  }
  return r;
}

// ---- enums: the rules' spelling ----

// CHANNEL_EMAIL -> "email": the value's name without the enum's prefix (that of its
// UNSPECIFIED value), in lower case.
std::string EnumText(const google::protobuf::EnumDescriptor* type, int number) {
  if (number == 0) return "";
  const auto* value = type->FindValueByNumber(number);
  if (value == nullptr) return absl::StrCat("#", number);
  const std::string& zero = type->value(0)->name();
  const size_t prefix = zero.size() - std::string("UNSPECIFIED").size();
  return absl::AsciiStrToLower(value->name().substr(prefix));
}

int EnumNumber(const google::protobuf::EnumDescriptor* type, absl::string_view text) {
  if (text.empty()) return 0;
  int number = 0;
  if (text[0] == '#' && absl::SimpleAtoi(text.substr(1), &number)) return number;
  const std::string& zero = type->value(0)->name();
  const std::string name = absl::StrCat(
      zero.substr(0, zero.size() - std::string("UNSPECIFIED").size()), absl::AsciiStrToUpper(text));
  const auto* value = type->FindValueByName(name);
  // A name the proto does not declare: a number it does not declare, which the engine refuses.
  return value != nullptr && value->number() != 0 ? value->number() : -1;
}

// ---- COPY text format ----

void Field(std::string& line, absl::string_view text, bool null = false) {
  if (!line.empty() && line.back() != '\n') line += '\t';
  if (null) {
    line += "\\N";
    return;
  }
  for (char ch : text) {
    switch (ch) {
      case '\\':
        line += "\\\\";
        break;
      case '\t':
        line += "\\t";
        break;
      case '\n':
        line += "\\n";
        break;
      case '\r':
        line += "\\r";
        break;
      default:
        line += ch;
    }
  }
}

void Text(std::string& line, const std::string& text) { Field(line, text, text.empty()); }

void Instant(std::string& line, bool has, const google::protobuf::Timestamp& ts) {
  if (!has) return Field(line, "", true);
  const absl::Time t = absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  Field(line, absl::FormatTime("%E4Y-%m-%d %H:%M:%E6S+00", t, absl::UTCTimeZone()));
}

void Enum(std::string& line, const google::protobuf::EnumDescriptor* type, int number) {
  Text(line, EnumText(type, number));
}

absl::Status Copy(Connection& c, const std::string& table, const std::string& data) {
  ResultPtr r(PQexec(c.conn, absl::StrCat("COPY ", table, " FROM STDIN").c_str()), &PQclear);
  if (PQresultStatus(r.get()) != PGRES_COPY_IN) {
    return absl::InternalError(absl::StrCat("PostgreSQL: ", PQerrorMessage(c.conn)));
  }
  if (PQputCopyData(c.conn, data.data(), static_cast<int>(data.size())) != 1 ||
      PQputCopyEnd(c.conn, nullptr) != 1) {
    return absl::InternalError(absl::StrCat("PostgreSQL: ", PQerrorMessage(c.conn)));
  }
  ResultPtr done(PQgetResult(c.conn), &PQclear);
  if (PQresultStatus(done.get()) != PGRES_COMMAND_OK) {
    return absl::InvalidArgumentError(absl::StrCat("PostgreSQL: ", PQerrorMessage(c.conn)));
  }
  while (PGresult* more = PQgetResult(c.conn)) PQclear(more);
  return absl::OkStatus();
}

// ---- reading ----

bool ReadInstant(const char* text, google::protobuf::Timestamp* ts) {
  // EXTRACT(EPOCH ...) as text: "-123.456789"; Infinity beyond any year.
  absl::string_view s(text);
  if (s == "Infinity" || s == "-Infinity") {
    ts->set_seconds(s[0] == '-' ? -1'000'000'000'000'000 : 1'000'000'000'000'000);
    return true;
  }
  const bool negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(s, '.');
  int64_t seconds = 0, micros = 0;
  if (!absl::SimpleAtoi(parts.first, &seconds)) return false;
  std::string fraction(parts.second.substr(0, 6));
  fraction.resize(6, '0');
  if (!absl::SimpleAtoi(fraction, &micros)) return false;
  int64_t total = seconds * 1'000'000 + micros;
  if (negative) total = -total;
  const int64_t floor_seconds = total >= 0 ? total / 1'000'000 : -((-total + 999'999) / 1'000'000);
  ts->set_seconds(floor_seconds);
  ts->set_nanos(static_cast<int32_t>((total - floor_seconds * 1'000'000) * 1000));
  return true;
}

// The rows of one table for contacts [first, last], in (contact_id, position) order.
struct ListRows {
  ResultPtr rows{nullptr, &PQclear};
  int next = 0;
  // Rows of `id` (the cursor is on the first of them afterwards), as row numbers.
  std::vector<int> Take(const std::string& id) {
    std::vector<int> out;
    while (next < PQntuples(rows.get()) && id == PQgetvalue(rows.get(), next, 0)) {
      out.push_back(next++);
    }
    return out;
  }
  const char* At(int row, int column) const { return PQgetvalue(rows.get(), row, column); }
  bool Null(int row, int column) const { return PQgetisnull(rows.get(), row, column) != 0; }
};

constexpr char kEpoch[] = "EXTRACT(EPOCH FROM ";

}  // namespace

absl::Status Execute(const std::string& conninfo, const std::string& statements) {
  Connection c;
  if (absl::Status s = Open(conninfo, c); !s.ok()) return s;
  ResultPtr r(PQexec(c.conn, statements.c_str()), &PQclear);
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK && PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    return absl::InvalidArgumentError(absl::StrCat("PostgreSQL: ", PQerrorMessage(c.conn)));
  }
  return absl::OkStatus();
}

absl::Status LoadContacts(const std::string& conninfo, const std::vector<Contact>& contacts) {
  Connection c;
  if (absl::Status s = Open(conninfo, c); !s.ok()) return s;
  const auto* channel = lawful::v1::Channel_descriptor();
  std::string people, consents, objections, suppressions, opted_out, purposes;
  for (const Contact& p : contacts) {
    Text(people, p.id());
    Text(people, p.birth_date());
    Text(people, p.country());
    Text(people, p.email());
    Text(people, p.phone());
    Text(people, p.postal_address());
    Instant(people, p.has_postal_address_verified_at(), p.postal_address_verified_at());
    Instant(people, p.has_erasure_requested_at(), p.erasure_requested_at());
    const auto& rel = p.relationship();
    Field(people, rel.is_customer() ? "t" : "f");
    Instant(people, rel.has_customer_since(), rel.customer_since());
    Instant(people, rel.has_last_purchase_at(), rel.last_purchase_at());
    Field(people, rel.soft_opt_in_notice_given() ? "t" : "f");
    Instant(people, p.has_last_activity_at(), p.last_activity_at());
    people += '\n';
    for (int i = 0; i < p.consents_size(); ++i) {
      const auto& k = p.consents(i);
      Field(consents, p.id());
      Field(consents, absl::StrCat(i));
      Text(consents, k.id());
      Text(consents, k.purpose());
      Enum(consents, channel, k.channel());
      Instant(consents, k.has_granted_at(), k.granted_at());
      Instant(consents, k.has_withdrawn_at(), k.withdrawn_at());
      Enum(consents, lawful::v1::ConsentSource_descriptor(), k.source());
      consents += '\n';
    }
    for (int i = 0; i < p.objections_size(); ++i) {
      const auto& o = p.objections(i);
      Field(objections, p.id());
      Field(objections, absl::StrCat(i));
      Text(objections, o.id());
      Enum(objections, lawful::v1::ObjectionScope_descriptor(), o.scope());
      Instant(objections, o.has_lodged_at(), o.lodged_at());
      Instant(objections, o.has_withdrawn_at(), o.withdrawn_at());
      Text(objections, o.lodged_via());
      objections += '\n';
    }
    auto values = [&p](std::string& out, int count, auto text) {
      for (int i = 0; i < count; ++i) {
        Field(out, p.id());
        Field(out, absl::StrCat(i));
        Text(out, text(i));
        out += '\n';
      }
    };
    values(suppressions, p.suppressions_size(), [&](int i) {
      return EnumText(lawful::v1::Suppression_descriptor(), p.suppressions(i));
    });
    values(opted_out, rel.opted_out_channels_size(),
           [&](int i) { return EnumText(channel, rel.opted_out_channels(i)); });
    values(purposes, p.collection_purposes_size(), [&](int i) { return p.collection_purposes(i); });
  }
  for (const auto& [table, data] : {std::pair<const char*, std::string*>{"contacts", &people},
                                    {"consents", &consents},
                                    {"objections", &objections},
                                    {"suppressions", &suppressions},
                                    {"opted_out_channels", &opted_out},
                                    {"collection_purposes", &purposes}}) {
    if (data->empty()) continue;
    if (absl::Status s = Copy(c, table, *data); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ReadContacts(const std::string& conninfo,
                          absl::FunctionRef<void(const Contact&)> contact) {
  Connection c;
  if (absl::Status s = Open(conninfo, c); !s.ok()) return s;
  const auto* channel = lawful::v1::Channel_descriptor();
  auto epoch = [](const char* column) { return absl::StrCat(kEpoch, column, ")"); };
  const std::string people_sql = absl::StrCat(
      "SELECT contact_id, birth_date, country, email, phone, postal_address, ",
      epoch("postal_address_verified_at"), ", ", epoch("erasure_requested_at"),
      ", relationship_is_customer, ", epoch("relationship_customer_since"), ", ",
      epoch("relationship_last_purchase_at"), ", relationship_soft_opt_in_notice_given, ",
      epoch("last_activity_at"),
      " FROM contacts WHERE $1 = '' OR contact_id > $1 ORDER BY contact_id LIMIT 10000");
  const std::string range =
      " WHERE contact_id >= $1 AND contact_id <= $2 ORDER BY contact_id, position";
  const std::string consents_sql =
      absl::StrCat("SELECT contact_id, id, purpose, channel, ", epoch("granted_at"), ", ",
                   epoch("withdrawn_at"), ", source FROM consents", range);
  const std::string objections_sql =
      absl::StrCat("SELECT contact_id, id, scope, ", epoch("lodged_at"), ", ",
                   epoch("withdrawn_at"), ", lodged_via FROM objections", range);
  auto list_sql = [&range](const char* table, const char* column) {
    return absl::StrCat("SELECT contact_id, ", column, " FROM ", table, range);
  };
  std::string after;
  while (true) {
    absl::StatusOr<ResultPtr> people = Query(c, people_sql, {after});
    if (!people.ok()) return people.status();
    PGresult* p = people->get();
    const int n = PQntuples(p);
    if (n == 0) return absl::OkStatus();
    const std::vector<std::string> span = {PQgetvalue(p, 0, 0), PQgetvalue(p, n - 1, 0)};
    ListRows lists[5];
    const std::string sqls[5] = {
        consents_sql, objections_sql, list_sql("suppressions", "suppression"),
        list_sql("opted_out_channels", "channel"), list_sql("collection_purposes", "purpose")};
    for (int i = 0; i < 5; ++i) {
      absl::StatusOr<ResultPtr> r = Query(c, sqls[i], span);
      if (!r.ok()) return r.status();
      lists[i].rows = std::move(*r);
    }
    for (int row = 0; row < n; ++row) {
      Contact out;
      auto instant = [&](int column, google::protobuf::Timestamp* (*mutable_ts)(Contact&)) {
        if (!PQgetisnull(p, row, column)) ReadInstant(PQgetvalue(p, row, column), mutable_ts(out));
      };
      out.set_id(PQgetvalue(p, row, 0));
      out.set_birth_date(PQgetvalue(p, row, 1));
      out.set_country(PQgetvalue(p, row, 2));
      out.set_email(PQgetvalue(p, row, 3));
      out.set_phone(PQgetvalue(p, row, 4));
      out.set_postal_address(PQgetvalue(p, row, 5));
      instant(6, [](Contact& x) { return x.mutable_postal_address_verified_at(); });
      instant(7, [](Contact& x) { return x.mutable_erasure_requested_at(); });
      if (std::string(PQgetvalue(p, row, 8)) == "t")
        out.mutable_relationship()->set_is_customer(true);
      instant(9, [](Contact& x) { return x.mutable_relationship()->mutable_customer_since(); });
      instant(10, [](Contact& x) { return x.mutable_relationship()->mutable_last_purchase_at(); });
      if (std::string(PQgetvalue(p, row, 11)) == "t") {
        out.mutable_relationship()->set_soft_opt_in_notice_given(true);
      }
      instant(12, [](Contact& x) { return x.mutable_last_activity_at(); });
      const std::string& id = out.id();
      for (int r : lists[0].Take(id)) {
        auto* k = out.add_consents();
        k->set_id(lists[0].At(r, 1));
        k->set_purpose(lists[0].At(r, 2));
        k->set_channel(static_cast<lawful::v1::Channel>(EnumNumber(channel, lists[0].At(r, 3))));
        if (!lists[0].Null(r, 4)) ReadInstant(lists[0].At(r, 4), k->mutable_granted_at());
        if (!lists[0].Null(r, 5)) ReadInstant(lists[0].At(r, 5), k->mutable_withdrawn_at());
        k->set_source(static_cast<lawful::v1::ConsentSource>(
            EnumNumber(lawful::v1::ConsentSource_descriptor(), lists[0].At(r, 6))));
      }
      for (int r : lists[1].Take(id)) {
        auto* o = out.add_objections();
        o->set_id(lists[1].At(r, 1));
        o->set_scope(static_cast<lawful::v1::ObjectionScope>(
            EnumNumber(lawful::v1::ObjectionScope_descriptor(), lists[1].At(r, 2))));
        if (!lists[1].Null(r, 3)) ReadInstant(lists[1].At(r, 3), o->mutable_lodged_at());
        if (!lists[1].Null(r, 4)) ReadInstant(lists[1].At(r, 4), o->mutable_withdrawn_at());
        o->set_lodged_via(lists[1].At(r, 5));
      }
      for (int r : lists[2].Take(id)) {
        out.add_suppressions(static_cast<lawful::v1::Suppression>(
            EnumNumber(lawful::v1::Suppression_descriptor(), lists[2].At(r, 1))));
      }
      for (int r : lists[3].Take(id)) {
        out.mutable_relationship()->add_opted_out_channels(
            static_cast<lawful::v1::Channel>(EnumNumber(channel, lists[3].At(r, 1))));
      }
      for (int r : lists[4].Take(id)) out.add_collection_purposes(lists[4].At(r, 1));
      contact(out);
    }
    after = span[1];
  }
}

absl::StatusOr<std::vector<Row>> RunQuery(const std::string& conninfo, const std::string& query,
                                          absl::Time at) {
  Connection c;
  if (absl::Status s = Open(conninfo, c); !s.ok()) return s;
  absl::StatusOr<ResultPtr> r =
      Query(c, query, {absl::FormatTime("%E4Y-%m-%d %H:%M:%E6S+00", at, absl::UTCTimeZone())});
  if (!r.ok()) return r.status();
  std::vector<Row> rows;
  const int n = PQntuples(r->get());
  rows.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto v = [&](int column) {
      return column < PQnfields(r->get()) ? std::string(PQgetvalue(r->get(), i, column)) : "";
    };
    rows.push_back({v(0), v(1), v(2), v(3), v(4), v(5), v(6)});
  }
  return rows;
}

}  // namespace lawful::sql
