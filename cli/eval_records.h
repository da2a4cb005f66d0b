// Where records end in `lawful eval`'s input: a line of JSONL, a CSV row that may span lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lawful::cli {

enum class Format { kJsonl, kCsv };

// The end of the record starting at `begin`: the position of the line break that ends it, or
// the text's size. A CSV record runs on across line breaks inside quotes.
size_t RecordEnd(std::string_view text, size_t begin, Format format, bool* multiline);

// Counts the line breaks and the records of `text`, and finds where its last whole record ends
// (after its line break; 0 when no record ends in it).
struct TextShape {
  uint64_t lines = 0;
  uint64_t records = 0;
  size_t last_record_end = 0;
};
TextShape ShapeOf(std::string_view text, Format format);

bool IsBlank(std::string_view record);

}  // namespace lawful::cli
