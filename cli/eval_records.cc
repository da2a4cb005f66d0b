// Splits `lawful eval`'s input into records without parsing them, so that threads can share it.
#include "eval_records.h"

#include <algorithm>
#include <cstring>

namespace lawful::cli {

size_t RecordEnd(std::string_view text, size_t begin, Format format, bool* multiline) {
  const char* const data = text.data();
  const void* nl = std::memchr(data + begin, '\n', text.size() - begin);
  const size_t line_end = nl == nullptr ? text.size() : static_cast<const char*>(nl) - data;
  *multiline = false;
  if (format != Format::kCsv || std::memchr(data + begin, '"', line_end - begin) == nullptr) {
    return line_end;
  }
  bool quoted = false;
  for (size_t i = begin; i < text.size(); ++i) {
    if (data[i] == '"') {
      quoted = !quoted;
    } else if (data[i] == '\n') {
      if (!quoted) return i;
      *multiline = true;
    }
  }
  return text.size();
}

TextShape ShapeOf(std::string_view text, Format format) {
  TextShape shape;
  if (format == Format::kJsonl) {
    // A record per line: memchr from line break to line break.
    const char* p = text.data();
    const char* const end = p + text.size();
    while (const void* nl = std::memchr(p, '\n', static_cast<size_t>(end - p))) {
      ++shape.lines;
      p = static_cast<const char*>(nl) + 1;
    }
    shape.records = shape.lines;
    shape.last_record_end = static_cast<size_t>(p - text.data());
    return shape;
  }
  size_t at = 0;
  bool multiline = false;
  while (at < text.size()) {
    const size_t end = RecordEnd(text, at, format, &multiline);
    if (end == text.size()) break;
    shape.lines += 1 + (multiline ? std::count(text.begin() + at, text.begin() + end, '\n') : 0);
    ++shape.records;
    at = end + 1;
    shape.last_record_end = at;
  }
  return shape;
}

bool IsBlank(std::string_view record) {
  for (const char c : record) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

}  // namespace lawful::cli
