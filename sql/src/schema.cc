// The contact schema: the DDL `lawful sql --schema` prints, and the column map the query
// compiler and the PostgreSQL I/O share.
#include "schema.h"

#include <array>
#include <string>

#include "absl/strings/str_cat.h"

#include "lawful/sql.h"

namespace lawful::sql {
namespace {

struct Table {
  std::string_view name;
  std::string_view columns;  // "name type, ..."; every table's key comes first
};

// Mirrors lawful.v1.Contact column for column. A nested message's fields are prefixed with its
// field name (relationship_is_customer); enums are text in the rules' spelling ('email',
// 'web_form'), NULL for unspecified; a date is text as in the proto ('2012-02-29'); an unset
// instant, date or text is NULL.
constexpr std::array<Table, 6> kTables = {{
    {"contacts",
     "contact_id text PRIMARY KEY, birth_date text, country text, email text, phone text, "
     "postal_address text, postal_address_verified_at timestamptz, "
     "erasure_requested_at timestamptz, relationship_is_customer boolean, "
     "relationship_customer_since timestamptz, relationship_last_purchase_at timestamptz, "
     "relationship_soft_opt_in_notice_given boolean, last_activity_at timestamptz"},
    {"consents",
     "contact_id text NOT NULL, position integer NOT NULL, id text, purpose text, channel text, "
     "granted_at timestamptz, withdrawn_at timestamptz, source text"},
    {"objections",
     "contact_id text NOT NULL, position integer NOT NULL, id text, scope text, "
     "lodged_at timestamptz, withdrawn_at timestamptz, lodged_via text"},
    {"suppressions", "contact_id text NOT NULL, position integer NOT NULL, suppression text"},
    {"opted_out_channels", "contact_id text NOT NULL, position integer NOT NULL, channel text"},
    {"collection_purposes", "contact_id text NOT NULL, position integer NOT NULL, purpose text"},
}};

constexpr std::array<ListTable, 5> kLists = {{
    {"consents", "consents", ""},
    {"objections", "objections", ""},
    {"suppressions", "suppressions", "suppression"},
    {"relationship.opted_out_channels", "opted_out_channels", "channel"},
    {"collection_purposes", "collection_purposes", "purpose"},
}};

}  // namespace

const ListTable* FindListTable(std::string_view field) {
  for (const ListTable& l : kLists) {
    if (l.field == field) return &l;
  }
  return nullptr;
}

bool HasColumn(std::string_view table, std::string_view column) {
  for (const Table& t : kTables) {
    if (t.name != table) continue;
    std::string_view rest = t.columns;
    while (!rest.empty()) {
      const size_t end = rest.find(", ");
      std::string_view item = rest.substr(0, end);
      if (item.substr(0, item.find(' ')) == column) return true;
      if (end == std::string_view::npos) break;
      rest.remove_prefix(end + 2);
    }
  }
  return false;
}

std::string ValidDate(const std::string& column) {
  auto part = [&](int from, int length) {
    return absl::StrCat("CAST(substr(", column, ", ", from, ", ", length, ") AS integer)");
  };
  const std::string y = part(1, 4), m = part(6, 2), d = part(9, 2);
  const std::string leap =
      absl::StrCat("(", y, " % 4 = 0 AND (", y, " % 100 <> 0 OR ", y, " % 400 = 0))");
  // CASE, not AND: the parts are cast only once the text has the form.
  return absl::StrCat("(CASE WHEN ", column, " ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN ", m,
                      " BETWEEN 1 AND 12 AND ", d, " BETWEEN 1 AND CASE WHEN ", m,
                      " = 2 THEN CASE WHEN ", leap, " THEN 29 ELSE 28 END WHEN ", m,
                      " IN (4, 6, 9, 11) THEN 30 ELSE 31 END ELSE FALSE END)");
}

std::string Quote(std::string_view text) {
  std::string out = "'";
  for (char ch : text) {
    if (ch == '\'') out += '\'';
    out += ch;
  }
  out += '\'';
  return out;
}

std::string SchemaDdl() {
  std::string ddl =
      "-- lawful's contact schema: lawful.v1.Contact, one table per list (docs: sql/README.md).\n";
  for (const Table& t : kTables) {
    ddl += "CREATE TABLE ";
    ddl += t.name;
    ddl += " (";
    ddl += t.columns;
    if (t.name != "contacts") {
      ddl += ", PRIMARY KEY (contact_id, position)";
    }
    ddl += ");\n";
  }
  return ddl;
}

}  // namespace lawful::sql
