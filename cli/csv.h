// CSV input for `lawful eval`: RFC 4180 records, and the mapping of a header's columns onto
// lawful.v1.Contact fields (README, "CSV input"). Each row is turned into the contact's proto
// JSON and read by the same JsonTranscoder as a JSONL line, so both formats accept the same
// values and name the same field paths; CSV errors also name the column.
//
// Columns, by field name (proto or lowerCamelCase), nested fields joined with dots:
//   id, email, birth_date, last_activity_at, relationship.is_customer, ...   one value per cell
//   consents.0.purpose, consents.0.granted_at, consents.1.purpose, ...       indexed records
//   consents, objections, relationship                                       a proto JSON cell
//   suppressions, collection_purposes, relationship.opted_out_channels       values split by |
// An empty cell is an unset field; a record whose cells are all empty is left out. Enums take
// the proto name (CHANNEL_EMAIL), the short name in any case (email) or the number; booleans
// true/false/yes/no/1/0; instants RFC 3339.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/descriptor.h>

#include "absl/status/statusor.h"
#include "transcoder.h"

namespace lawful::cli {

// The delimiter of a header row: the first of `,` `;` and TAB outside quotes (spreadsheets set
// to a locale with decimal commas export with `;`), else `,`.
char DetectCsvDelimiter(std::string_view header);

// Splits one record, without its line terminator, into cells (RFC 4180: a quoted cell may hold
// the delimiter, line breaks and doubled quotes). Unquoted cells are views into `record`, quoted
// ones into `scratch`, which must not change until the cells are used. False, with `error`, on a
// stray quote.
bool SplitCsvRecord(std::string_view record, char delimiter, std::vector<std::string_view>* cells,
                    std::string* scratch, std::string* error);

class CsvContactMapping;

// One per thread: turns rows into proto JSON under a shared mapping.
class CsvRowConverter {
 public:
  CsvRowConverter(std::shared_ptr<const CsvContactMapping> mapping, char delimiter);
  ~CsvRowConverter();
  CsvRowConverter(const CsvRowConverter&) = delete;
  CsvRowConverter& operator=(const CsvRowConverter&) = delete;

  // Writes the proto JSON of the contact in `record` (one row, without its line terminator) to
  // `json`, replacing its contents. False with `error` (its column set) when a cell cannot be
  // read or the row has the wrong number of cells.
  bool ToJson(std::string_view record, std::string* json, FieldError* error);

  // Sets `error->column` for an error the JsonTranscoder found in the last row's JSON.
  void NameColumn(FieldError* error) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// How a header's columns map onto the contact's fields; immutable, shared by the threads.
class CsvContactMapping {
 public:
  // InvalidArgument naming the first column that names no field (unless listed in `ignored`;
  // columns with an empty name are ignored too), a column given twice, or a repeated field given
  // both as a JSON cell and as indexed columns.
  static absl::StatusOr<std::shared_ptr<const CsvContactMapping>> Create(
      const std::vector<std::string>& header, const std::vector<std::string>& ignored,
      const google::protobuf::Descriptor* message);
  ~CsvContactMapping();

  size_t columns() const;

 private:
  friend class CsvRowConverter;
  struct Tree;
  CsvContactMapping();
  std::unique_ptr<Tree> tree_;
};

}  // namespace lawful::cli
