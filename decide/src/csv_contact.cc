// CSV rows to contacts: RFC 4180 records and the mapping of a header's columns onto
// lawful.v1.Contact fields, through the JSON transcoder; see decide.h.
#include "lawful/decide.h"
#include "lawful/text.h"

#include <simdjson.h>

#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace lawful::decide {
namespace {

namespace pb = google::protobuf;

absl::string_view Absl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

std::string_view Trim(std::string_view text) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(Absl(text));
  return std::string_view(trimmed.data(), trimmed.size());
}

// How a cell is read into the contact's JSON.
enum class CellKind : uint8_t {
  kString,
  kBool,
  kEnum,
  kInteger,
  kTimestamp,
  kJsonObject,  // a singular message given whole, in proto JSON
  kJsonArray,   // a repeated message given whole, in proto JSON
  kList,        // repeated scalars separated by `|` (or a JSON array)
  kUnsupported,
};

CellKind ScalarKind(const pb::FieldDescriptor* field) {
  switch (ValueKindOf(field)) {
    case ValueKind::kString:
      return CellKind::kString;
    case ValueKind::kBool:
      return CellKind::kBool;
    case ValueKind::kEnum:
      return CellKind::kEnum;
    case ValueKind::kInt32:
    case ValueKind::kInt64:
    case ValueKind::kUInt32:
    case ValueKind::kUInt64:
      return CellKind::kInteger;
    case ValueKind::kTimestamp:
      return CellKind::kTimestamp;
    default:
      return CellKind::kUnsupported;
  }
}

// A field holding a message with fields of its own (a Timestamp is read as one value).
bool IsRecord(const pb::FieldDescriptor* field) {
  return ValueKindOf(field) == ValueKind::kMessage;
}

struct Node;

// One field of a message as the header gives it: a cell, sub-columns, or indexed records.
struct Member {
  const pb::FieldDescriptor* field = nullptr;
  std::string key;  // "jsonName":
  int column = -1;  // the cell holding the whole field
  CellKind kind = CellKind::kUnsupported;
  CellKind element = CellKind::kUnsupported;     // kList: each value's kind
  std::unique_ptr<Node> message;                 // a singular message given column by column
  std::map<int, std::unique_ptr<Node>> records;  // consents.0.*, consents.1.*: by index
  int repeated_id = -1;                          // this field's slot in the row's record positions
};

struct Node {
  std::vector<Member> members;  // in the order of their first column

  Member& Get(const pb::FieldDescriptor* field) {
    for (Member& member : members) {
      if (member.field == field) return member;
    }
    Member& member = members.emplace_back();
    member.field = field;
    member.key = absl::StrCat("\"", field->json_name(), "\":");
    return member;
  }
  const Member* Find(std::string_view proto_name) const {
    for (const Member& member : members) {
      if (member.field->name() == proto_name) return &member;
    }
    return nullptr;
  }
};

// An enum's spellings in CSV cells, lower-cased: the proto name (channel_email), the short name
// without the enum's prefix (email), mapped to the proto name.
struct EnumSpellings {
  absl::flat_hash_map<std::string, std::string> names;
  std::string expected;  // "email, sms, post or phone"
};

std::unique_ptr<EnumSpellings> SpellingsOf(const pb::EnumDescriptor* type) {
  std::string prefix;  // ConsentSource -> CONSENT_SOURCE_
  for (size_t i = 0; i < type->name().size(); ++i) {
    const char c = type->name()[i];
    if (i > 0 && absl::ascii_isupper(c)) prefix.push_back('_');
    prefix.push_back(absl::ascii_toupper(c));
  }
  prefix.push_back('_');
  auto spellings = std::make_unique<EnumSpellings>();
  std::vector<std::string> shorts;
  for (int i = 0; i < type->value_count(); ++i) {
    const std::string& name = type->value(i)->name();
    spellings->names[absl::AsciiStrToLower(name)] = name;
    if (name.rfind(prefix, 0) == 0 && name.size() > prefix.size()) {
      const std::string short_name = absl::AsciiStrToLower(name.substr(prefix.size()));
      spellings->names[short_name] = name;
      if (type->value(i)->number() != 0) shorts.push_back(short_name);
    }
  }
  if (shorts.size() > 1) {
    spellings->expected =
        absl::StrCat(absl::StrJoin(shorts.begin(), shorts.end() - 1, ", "), " or ", shorts.back());
  } else if (!shorts.empty()) {
    spellings->expected = shorts[0];
  }
  return spellings;
}

const pb::FieldDescriptor* FindField(const pb::Descriptor* type, std::string_view name) {
  for (int i = 0; i < type->field_count(); ++i) {
    const pb::FieldDescriptor* field = type->field(i);
    if (field->name() == name || field->json_name() == name) return field;
  }
  return nullptr;
}

}  // namespace

char DetectCsvDelimiter(std::string_view header) {
  bool quoted = false;
  for (const char c : header) {
    if (c == '"') quoted = !quoted;
    if (!quoted && (c == ',' || c == ';' || c == '\t')) return c;
  }
  return ',';
}

bool SplitCsvRecord(std::string_view record, char delimiter, std::vector<std::string_view>* cells,
                    std::string* scratch, std::string* error) {
  cells->clear();
  scratch->clear();
  scratch->reserve(record.size());  // unquoted cells are never longer: views stay valid
  size_t i = 0;
  const size_t n = record.size();
  while (true) {
    if (i < n && record[i] == '"') {
      const size_t start = scratch->size();
      ++i;
      while (true) {
        if (i >= n) {
          *error = "a quoted cell is not closed";
          return false;
        }
        const char c = record[i++];
        if (c != '"') {
          scratch->push_back(c);
        } else if (i < n && record[i] == '"') {
          scratch->push_back('"');
          ++i;
        } else {
          break;
        }
      }
      cells->emplace_back(scratch->data() + start, scratch->size() - start);
      if (i == n) return true;
      if (record[i] != delimiter) {
        *error = absl::StrCat("cell ", cells->size(),
                              ": text after the closing quote (write a quote inside a quoted "
                              "cell as two quotes)");
        return false;
      }
      ++i;
      continue;
    }
    const size_t end = record.find(delimiter, i);
    cells->push_back(record.substr(i, end == std::string_view::npos ? n - i : end - i));
    if (end == std::string_view::npos) return true;
    i = end + 1;
  }
}

struct CsvContactMapping::Tree {
  Node root;
  std::vector<std::string> header;
  int repeated_fields = 0;
  absl::flat_hash_map<const pb::EnumDescriptor*, std::unique_ptr<EnumSpellings>> enums;
};

CsvContactMapping::CsvContactMapping() : tree_(std::make_unique<Tree>()) {}
CsvContactMapping::~CsvContactMapping() = default;

size_t CsvContactMapping::columns() const { return tree_->header.size(); }

absl::StatusOr<std::shared_ptr<const CsvContactMapping>> CsvContactMapping::Create(
    const std::vector<std::string>& header, const std::vector<std::string>& ignored,
    const pb::Descriptor* message) {
  std::shared_ptr<CsvContactMapping> mapping(new CsvContactMapping());
  Tree& tree = *mapping->tree_;
  tree.header = header;
  const absl::flat_hash_set<std::string> skip(ignored.begin(), ignored.end());
  absl::flat_hash_map<std::string, int> seen;  // column name -> position
  for (size_t c = 0; c < header.size(); ++c) {
    const std::string name(Trim(header[c]));
    if (name.empty() || skip.contains(name)) continue;
    auto fail = [&](const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat("column ", c + 1, " `", name, "`: ", why));
    };
    if (const auto [it, inserted] = seen.emplace(name, static_cast<int>(c)); !inserted) {
      return fail(absl::StrCat("given twice (also column ", it->second + 1, ")"));
    }
    const std::vector<std::string> parts = absl::StrSplit(name, '.');
    Node* node = &tree.root;
    const pb::Descriptor* type = message;
    for (size_t k = 0; k < parts.size(); ++k) {
      const pb::FieldDescriptor* field = FindField(type, parts[k]);
      if (field == nullptr) {
        return fail(absl::StrCat(
            type->full_name(), " has no field `", parts[k],
            "` (columns lawful does not read can be passed through with --ignore_columns)"));
      }
      Member& member = node->Get(field);
      const bool last = k + 1 == parts.size();
      if (last) {
        if (member.column >= 0 || member.message != nullptr || !member.records.empty()) {
          return fail(absl::StrCat("`", field->name(), "` is also given by other columns"));
        }
        member.column = static_cast<int>(c);
        if (field->is_repeated()) {
          member.kind = IsRecord(field) ? CellKind::kJsonArray : CellKind::kList;
          if (!IsRecord(field)) member.element = ScalarKind(field);
          if (member.kind == CellKind::kList && member.element == CellKind::kUnsupported) {
            member.kind = CellKind::kUnsupported;
          }
        } else {
          member.kind = IsRecord(field) ? CellKind::kJsonObject : ScalarKind(field);
        }
        if (member.kind == CellKind::kUnsupported) {
          return fail("lawful eval cannot read this field's type from CSV");
        }
        const pb::EnumDescriptor* enum_type = field->enum_type();
        if (enum_type != nullptr && !tree.enums.contains(enum_type)) {
          tree.enums[enum_type] = SpellingsOf(enum_type);
        }
        break;
      }
      if (!IsRecord(field)) {
        return fail(absl::StrCat("`", field->name(), "` has no fields"));
      }
      if (member.column >= 0) {
        return fail(absl::StrCat("`", field->name(), "` is also given whole, by column `",
                                 tree.header[member.column], "`"));
      }
      if (!field->is_repeated()) {
        if (member.message == nullptr) member.message = std::make_unique<Node>();
        node = member.message.get();
        type = field->message_type();
        continue;
      }
      int index = -1;
      if (k + 2 >= parts.size() || !absl::SimpleAtoi(parts[k + 1], &index) || index < 0 ||
          index > 9999) {
        return fail(absl::StrCat(
            "`", field->name(), "` holds records: name one of its fields as ", field->name(), ".0.",
            field->message_type()->field(0)->name(), ", ", field->name(), ".1.",
            field->message_type()->field(0)->name(),
            ", ... or give the whole list as proto JSON in a column named `", field->name(), "`"));
      }
      if (member.repeated_id < 0) member.repeated_id = tree.repeated_fields++;
      std::unique_ptr<Node>& record = member.records[index];
      if (record == nullptr) record = std::make_unique<Node>();
      node = record.get();
      type = field->message_type();
      ++k;  // the index
    }
  }
  return std::shared_ptr<const CsvContactMapping>(std::move(mapping));
}

struct CsvRowConverter::Impl {
  Impl(std::shared_ptr<const CsvContactMapping> m, char d)
      : mapping(std::move(m)),
        tree(*mapping->tree_),
        delimiter(d),
        positions(static_cast<size_t>(tree.repeated_fields)) {}

  bool Fail(int column, std::string message) {
    error->path.clear();
    error->column = tree.header[column];
    error->message = std::move(message);
    return false;
  }

  // A whole message or list given as proto JSON: it must be one JSON value of that shape, so
  // that a cell cannot reach into the fields of the row around it.
  bool CheckJsonCell(int column, std::string_view cell, bool array) {
    padded.assign(cell);
    padded.append(kJsonPadding, '\0');
    simdjson::dom::element value;
    if (parser.parse(padded.data(), cell.size(), false).get(value) != simdjson::SUCCESS) {
      return Fail(column, "not valid JSON");
    }
    const auto type = value.type();
    if (array ? type != simdjson::dom::element_type::ARRAY
              : type != simdjson::dom::element_type::OBJECT) {
      return Fail(column, array ? "expected a JSON array of records in proto JSON"
                                : "expected a JSON object in proto JSON");
    }
    return true;
  }

  bool WriteValue(const Member& member, CellKind kind, int column, std::string_view cell,
                  std::string* json) {
    switch (kind) {
      case CellKind::kString:
      case CellKind::kTimestamp:  // checked by the transcoder, which names the field
        if (!text::AppendJsonString(cell, text::JsonEscaping::kProtobuf, json)) {
          return Fail(column, "not UTF-8 text (save the file as CSV UTF-8)");
        }
        return true;
      case CellKind::kBool: {
        lower = absl::AsciiStrToLower(Absl(cell));
        if (lower == "true" || lower == "yes" || lower == "1") {
          json->append("true");
        } else if (lower == "false" || lower == "no" || lower == "0") {
          json->append("false");
        } else {
          return Fail(column,
                      absl::StrCat("`", Absl(cell), "` is not a boolean: expected true or false"));
        }
        return true;
      }
      case CellKind::kEnum: {
        const EnumSpellings& spellings = *tree.enums.at(member.field->enum_type());
        lower = absl::AsciiStrToLower(Absl(cell));
        if (const auto it = spellings.names.find(lower); it != spellings.names.end()) {
          absl::StrAppend(json, "\"", it->second, "\"");
          return true;
        }
        int32_t number = 0;
        if (absl::SimpleAtoi(Absl(cell), &number)) {
          absl::StrAppend(json, number);
          return true;
        }
        return Fail(column, absl::StrCat("`", Absl(cell), "` is not a ",
                                         member.field->enum_type()->full_name(), ": expected ",
                                         spellings.expected));
      }
      case CellKind::kInteger: {
        int64_t number = 0;
        uint64_t unsigned_number = 0;
        if (!absl::SimpleAtoi(Absl(cell), &number) &&
            !absl::SimpleAtoi(Absl(cell), &unsigned_number)) {
          return Fail(column, absl::StrCat("`", Absl(cell), "` is not an integer"));
        }
        absl::StrAppend(json, "\"", Absl(cell), "\"");  // proto JSON takes integers as strings
        return true;
      }
      case CellKind::kJsonObject:
      case CellKind::kJsonArray:
        if (!CheckJsonCell(column, cell, kind == CellKind::kJsonArray)) return false;
        json->append(cell);
        return true;
      case CellKind::kList: {
        if (cell.front() == '[') {
          if (!CheckJsonCell(column, cell, /*array=*/true)) return false;
          json->append(cell);
          return true;
        }
        json->push_back('[');
        bool first = true;
        for (const absl::string_view part : absl::StrSplit(Absl(cell), '|')) {
          const std::string_view value = Trim(std::string_view(part.data(), part.size()));
          if (value.empty()) continue;
          if (!first) json->push_back(',');
          first = false;
          if (!WriteValue(member, member.element, column, value, json)) return false;
        }
        json->push_back(']');
        return true;
      }
      case CellKind::kUnsupported:
        break;
    }
    return Fail(column, "lawful eval cannot read this field's type from CSV");
  }

  // Writes `node`'s message as a JSON object; an object whose cells are all empty is "{}".
  bool WriteNode(const Node& node, std::string* json) {
    json->push_back('{');
    bool first = true;
    for (const Member& member : node.members) {
      const size_t mark = json->size();
      if (!first) json->push_back(',');
      json->append(member.key);
      const size_t body = json->size();
      if (member.column >= 0) {
        std::string_view cell = cells[member.column];
        if (member.kind != CellKind::kString) cell = Trim(cell);
        if (cell.empty()) {
          json->resize(mark);
          continue;
        }
        if (!WriteValue(member, member.kind, member.column, cell, json)) return false;
      } else if (member.message != nullptr) {
        if (!WriteNode(*member.message, json)) return false;
        if (json->size() == body + 2) {  // {}: every cell empty, the field is not set
          json->resize(mark);
          continue;
        }
      } else {
        std::vector<int>& used = positions[member.repeated_id];
        used.clear();
        json->push_back('[');
        for (const auto& [index, record] : member.records) {
          const size_t record_mark = json->size();
          if (!used.empty()) json->push_back(',');
          const size_t record_body = json->size();
          if (!WriteNode(*record, json)) return false;
          if (json->size() == record_body + 2) {  // a record with no cells filled is left out
            json->resize(record_mark);
            continue;
          }
          used.push_back(index);
        }
        if (used.empty()) {
          json->resize(mark);
          continue;
        }
        json->push_back(']');
      }
      first = false;
    }
    json->push_back('}');
    return true;
  }

  const std::shared_ptr<const CsvContactMapping> mapping;
  const CsvContactMapping::Tree& tree;
  const char delimiter;
  std::vector<std::string_view> cells;
  std::string scratch;
  std::string lower;
  std::string padded;
  simdjson::dom::parser parser;
  // Per repeated field given as indexed columns: the index of each record written, in order, so
  // that consents[1] in an error can be traced back to the columns consents.3.*.
  std::vector<std::vector<int>> positions;
  FieldError* error = nullptr;
};

CsvRowConverter::CsvRowConverter(std::shared_ptr<const CsvContactMapping> mapping, char delimiter)
    : impl_(std::make_unique<Impl>(std::move(mapping), delimiter)) {}

CsvRowConverter::~CsvRowConverter() = default;

bool CsvRowConverter::ToJson(std::string_view record, std::string* json, FieldError* error) {
  Impl& impl = *impl_;
  impl.error = error;
  error->path.clear();
  error->column.clear();
  std::string split_error;
  if (!SplitCsvRecord(record, impl.delimiter, &impl.cells, &impl.scratch, &split_error)) {
    error->message = std::move(split_error);
    return false;
  }
  if (impl.cells.size() != impl.tree.header.size()) {
    error->message = absl::StrCat(impl.cells.size(), " cells, but the header has ",
                                  impl.tree.header.size(), " columns");
    return false;
  }
  json->clear();
  for (std::vector<int>& used : impl.positions) used.clear();
  return impl.WriteNode(impl.tree.root, json);
}

void CsvRowConverter::NameColumn(FieldError* error) const {
  const Impl& impl = *impl_;
  const Node* node = &impl.tree.root;
  for (const absl::string_view part : absl::StrSplit(Absl(error->path), '.')) {
    absl::string_view name = part;
    int index = -1;
    if (const size_t bracket = part.find('['); bracket != absl::string_view::npos) {
      name = part.substr(0, bracket);
      if (!absl::SimpleAtoi(part.substr(bracket + 1, part.size() - bracket - 2), &index)) return;
    }
    const Member* member = node->Find(std::string_view(name.data(), name.size()));
    if (member == nullptr) return;
    if (member->column >= 0) {
      error->column = impl.tree.header[member->column];
      return;
    }
    if (member->message != nullptr) {
      node = member->message.get();
      continue;
    }
    const std::vector<int>& used = impl.positions[member->repeated_id];
    if (index < 0 || static_cast<size_t>(index) >= used.size()) return;
    node = member->records.at(used[index]).get();
  }
}

}  // namespace lawful::decide
