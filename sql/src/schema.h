// The relational form of lawful.v1.Contact that the query reads and the I/O writes: which table
// holds which list, and how a field is named as a column.
#pragma once

#include <string>
#include <string_view>

namespace lawful::sql {

// A list of lawful.v1.Contact held in its own table, one row per element, ordered by `position`.
struct ListTable {
  std::string_view field;  // the list's path below Contact, e.g. "relationship.opted_out_channels"
  std::string_view table;
  std::string_view value_column;  // for a list of values; empty for a list of records
};

// The list stored at `field` (a path as above), or nullptr when the schema has none.
const ListTable* FindListTable(std::string_view field);

// Whether `table` has a column `column` (contacts or a list's table).
bool HasColumn(std::string_view table, std::string_view column);

// Bounds of a google.protobuf.Timestamp the engine accepts, as PostgreSQL literals: a stored
// instant outside [kFirstInstant, kEndOfInstants) is an error, as CheckContact makes it.
inline constexpr char kFirstInstant[] = "TIMESTAMPTZ '0001-01-01 00:00:00+00'";
inline constexpr char kEndOfInstants[] = "TIMESTAMPTZ '10000-01-01 00:00:00+00'";

// Whether the text column holds a date the engine reads (YYYY-MM-DD, a real calendar day).
std::string ValidDate(const std::string& column);

// `'text'` as a standard SQL string literal.
std::string Quote(std::string_view text);

}  // namespace lawful::sql
