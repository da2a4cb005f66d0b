// How `lawful eval` writes decisions: proto JSON lines exactly as protobuf prints them, or CSV.
#pragma once

#include "contact_input.h"

#include <memory>
#include <string>
#include <string_view>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "lawful/v1/decision.pb.h"

namespace lawful::cli {

// Prints messages as protobuf's MessageToJsonString does with its default options (lowerCamelCase
// names, fields at their default value left out, enums by name, 64-bit integers quoted,
// Timestamps in RFC 3339, no whitespace), byte for byte, at a fraction of its cost: it walks a
// plan made once per message type instead of converting through protobuf's generic JSON
// machinery. Anything it has no plan for (double, bytes, maps, other well-known types, invalid
// UTF-8) is handed to protobuf itself, so the output is always protobuf's. Not thread-safe: one
// per thread.
class ProtoJsonPrinter {
 public:
  explicit ProtoJsonPrinter(const google::protobuf::Descriptor* type);
  ~ProtoJsonPrinter();
  ProtoJsonPrinter(const ProtoJsonPrinter&) = delete;
  ProtoJsonPrinter& operator=(const ProtoJsonPrinter&) = delete;

  // Appends the JSON of `message` (of the type given to the constructor) to `out`.
  void Print(const google::protobuf::Message& message, std::string* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The columns of `--output_format=csv`, one decision per row.
inline constexpr char kDecisionCsvHeader[] =
    "index,contact_id,outcome,reason,citation,rule,rule_location,obligations,evidence,"
    "evidence_id,valid_until,error_field,error_message\n";

// Appends one CSV row (RFC 4180 quoting, `\n`-terminated) for `decision`: outcome as
// allow|deny|error, rule as policy.rule, rule_location as file:line, obligations joined by `|`,
// evidence as field[index], valid_until in RFC 3339.
void AppendDecisionCsv(const lawful::v1::Decision& decision, std::string* out);

// The columns outcome through obligations of that row, which only the deciding rule sets.
void AppendDecisionCsvRuleColumns(const lawful::v1::Decision& decision, std::string* out);

// Appends `cell` to a CSV row, quoted when it holds a comma, a quote or a line break.
void AppendCsvCell(std::string_view cell, std::string* out);

}  // namespace lawful::cli
