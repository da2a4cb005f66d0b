// Prints what `lawful diff` tallied, most frequent transitions and largest rule changes first.
#include "diff_report.h"

#include "lawful/text.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "input.h"
#include "lawful/engine.h"

namespace lawful::cli {
namespace {

struct TransitionRow {
  const Label* from;
  const Label* to;
  int64_t count;
  const std::vector<std::string>* examples;
};

// Most frequent first; ties in label order so the output is deterministic.
std::vector<TransitionRow> SortedTransitions(const Comparison& c, const Labels& labels) {
  std::vector<TransitionRow> rows;
  for (const auto& [key, t] : c.transitions) {
    rows.push_back({&labels[key.first], &labels[key.second], t.count, &t.examples});
  }
  std::sort(rows.begin(), rows.end(), [](const TransitionRow& x, const TransitionRow& y) {
    if (x.count != y.count) return x.count > y.count;
    if (x.from->Text() != y.from->Text()) return x.from->Text() < y.from->Text();
    return x.to->Text() < y.to->Text();
  });
  return rows;
}

struct RuleRow {
  std::string rule;  // policy.rule
  int64_t before = 0;
  int64_t after = 0;
  int64_t delta() const { return after - before; }
};

// Rules are matched by name across the two rule sets (their indices differ when rules move);
// only those whose firing count changed are listed, the largest change first.
std::vector<RuleRow> ChangedRules(const Comparison& c, const Program& before,
                                  const Program& after) {
  std::map<std::string, RuleRow> by_name;
  for (size_t i = 0; i < before.rules.size(); ++i) {
    const Rule& r = before.rules[i];
    by_name[absl::StrCat(r.policy, ".", r.name)].before += c.before_fired[i];
  }
  for (size_t i = 0; i < after.rules.size(); ++i) {
    const Rule& r = after.rules[i];
    by_name[absl::StrCat(r.policy, ".", r.name)].after += c.after_fired[i];
  }
  std::vector<RuleRow> rows;
  for (auto& [name, row] : by_name) {
    if (row.delta() == 0) continue;
    row.rule = name;
    rows.push_back(row);
  }
  std::stable_sort(rows.begin(), rows.end(), [](const RuleRow& x, const RuleRow& y) {
    return std::abs(x.delta()) > std::abs(y.delta());
  });
  return rows;
}

std::string Percent(int64_t part, int64_t whole) {
  return absl::StrFormat(
      "%.2f%%", whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

// Columns padded to their widest cell; `right[i]` right-aligns column i (numbers).
std::string Table(const std::vector<std::vector<std::string>>& rows,
                  const std::vector<bool>& right) {
  std::vector<size_t> width(right.size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = "  ";
    for (size_t i = 0; i < row.size(); ++i) {
      const std::string pad(width[i] - row[i].size(), ' ');
      if (i > 0) line += "  ";
      line += right[i] ? pad + row[i] : (i + 1 == row.size() ? row[i] : row[i] + pad);
    }
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  return out;
}

}  // namespace

std::string OutreachName(const std::string& purpose, lawful::v1::Channel channel) {
  return absl::StrCat(purpose, " by ", ChannelFlagName(channel));
}

std::string TextReport(const Side& before, const Side& after, absl::Time at, int64_t contacts,
                       int malformed, const Differ& differ, const std::vector<Skipped>& skipped) {
  std::string out = absl::StrCat(
      "before:   ", before.label, "  version ", before.loaded.rule_set->version().substr(0, 12),
      "\n", "after:    ", after.label, "  version ", after.loaded.rule_set->version().substr(0, 12),
      "\n", "at:       ", FormatAt(at), "\n", "contacts: ", contacts, "\n");
  if (malformed > 0) absl::StrAppend(&out, "malformed lines (not decided): ", malformed, "\n");
  for (const Comparison& c : differ.comparisons()) {
    absl::StrAppend(&out, "\n", OutreachName(c.purpose, c.channel), ": ");
    if (c.changed == 0) {
      absl::StrAppend(&out, "no decision changed (", c.contacts, " contacts)\n");
      continue;
    }
    absl::StrAppend(&out, c.changed, " of ", c.contacts, " decisions changed (",
                    Percent(c.changed, c.contacts), ")\n\n");
    std::vector<std::vector<std::string>> rows = {{"from", "to", "contacts", "share", "examples"}};
    for (const TransitionRow& row : SortedTransitions(c, differ.labels())) {
      rows.push_back({row.from->Text(), row.to->Text(), absl::StrCat(row.count),
                      Percent(row.count, c.contacts), absl::StrJoin(*row.examples, ", ")});
    }
    absl::StrAppend(&out, Table(rows, {false, false, true, true, false}));
    std::vector<std::vector<std::string>> rules = {{"rule", "before", "after", "delta"}};
    for (const RuleRow& row : ChangedRules(c, before.program(), after.program())) {
      rules.push_back({row.rule, absl::StrCat(row.before), absl::StrCat(row.after),
                       absl::StrFormat("%+d", row.delta())});
    }
    absl::StrAppend(&out, "\n", Table(rules, {false, true, true, true}));
  }
  for (const Skipped& s : skipped) {
    absl::StrAppend(&out, "\n", OutreachName(s.purpose, s.channel), ": skipped: ", s.reason, "\n");
  }
  return out;
}

namespace {

// A JSON string literal.
// A JSON string for the report: the minimal escaping the audit log uses, which refuses nothing
// (bytes that are not UTF-8, as an id in a contacts file may hold, become U+FFFD).
std::string Quote(std::string_view s) {
  std::string out;
  text::AppendJsonString(s, text::JsonEscaping::kAuditLog, &out);
  return out;
}

std::string JsonLabel(const Label& label) {
  return absl::StrCat("{\"outcome\":", Quote(label.outcome), ",\"reason\":", Quote(label.reason),
                      "}");
}

std::string JsonSide(const Side& side) {
  return absl::StrCat("{\"source\":", Quote(side.label),
                      ",\"version\":", Quote(side.loaded.rule_set->version()), "}");
}

}  // namespace

std::string JsonReport(const Side& before, const Side& after, absl::Time at, int64_t contacts,
                       int malformed, const Differ& differ, const std::vector<Skipped>& skipped) {
  std::string out = absl::StrCat("{\"before\":", JsonSide(before), ",\"after\":", JsonSide(after),
                                 ",\"at\":", Quote(FormatAt(at)), ",\"contacts\":", contacts,
                                 ",\"malformed_lines\":", malformed, ",\"outreaches\":[");
  bool first = true;
  for (const Comparison& c : differ.comparisons()) {
    absl::StrAppend(&out, first ? "" : ",", "{\"purpose\":", Quote(c.purpose),
                    ",\"channel\":", Quote(ChannelFlagName(c.channel)),
                    ",\"contacts\":", c.contacts, ",\"changed\":", c.changed, ",\"transitions\":[");
    first = false;
    bool first_row = true;
    for (const TransitionRow& row : SortedTransitions(c, differ.labels())) {
      std::vector<std::string> examples;
      for (const std::string& id : *row.examples) examples.push_back(Quote(id));
      absl::StrAppend(
          &out, first_row ? "" : ",", "{\"from\":", JsonLabel(*row.from),
          ",\"to\":", JsonLabel(*row.to), ",\"count\":", row.count, ",\"share\":",
          c.contacts == 0 ? 0.0 : static_cast<double>(row.count) / static_cast<double>(c.contacts),
          ",\"examples\":[", absl::StrJoin(examples, ","), "]}");
      first_row = false;
    }
    absl::StrAppend(&out, "],\"rules\":[");
    first_row = true;
    for (const RuleRow& row : ChangedRules(c, before.program(), after.program())) {
      absl::StrAppend(&out, first_row ? "" : ",", "{\"rule\":", Quote(row.rule),
                      ",\"before\":", row.before, ",\"after\":", row.after,
                      ",\"delta\":", row.delta(), "}");
      first_row = false;
    }
    absl::StrAppend(&out, "]}");
  }
  absl::StrAppend(&out, "],\"skipped\":[");
  first = true;
  for (const Skipped& s : skipped) {
    absl::StrAppend(&out, first ? "" : ",", "{\"purpose\":", Quote(s.purpose),
                    ",\"channel\":", Quote(ChannelFlagName(s.channel)),
                    ",\"reason\":", Quote(s.reason), "}");
    first = false;
  }
  absl::StrAppend(&out, "]}\n");
  return out;
}

}  // namespace lawful::cli
