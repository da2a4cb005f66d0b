// Byte columns to UTF-16 code units and back: the shipped rules contain "§" (two bytes, one
// code unit), so a column after it differs in the two measures.
#include "positions.h"

#include <algorithm>

namespace lawful::lsp {
namespace {

size_t LineEnd(const std::string& text, size_t start) {
  size_t nl = text.find('\n', start);
  size_t end = nl == std::string::npos ? text.size() : nl;
  if (end > start && text[end - 1] == '\r') --end;
  return end;
}

// Bytes in the UTF-8 sequence led by `c` (1 for a stray continuation byte).
size_t SequenceLength(unsigned char c) {
  if (c >= 0xF0 && c < 0xF8) return 4;
  if (c >= 0xE0) return 3;
  if (c >= 0xC0) return 2;
  return 1;
}

}  // namespace

size_t OffsetOfLine(const std::string& text, uint32_t line) {
  size_t start = 0;
  for (uint32_t l = 1; l < line; ++l) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) return text.size();
    start = nl + 1;
  }
  return start;
}

size_t OffsetOfColumn(const std::string& text, uint32_t line, uint32_t column) {
  size_t start = OffsetOfLine(text, line);
  return std::min(text.size(), start + (column > 0 ? column - 1 : 0));
}

Position PositionOf(const std::string& text, size_t offset) {
  offset = std::min(offset, text.size());
  Position p;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      line_start = i + 1;
    }
  }
  for (size_t i = line_start; i < offset;) {
    size_t n = SequenceLength(static_cast<unsigned char>(text[i]));
    p.character += n == 4 ? 2 : 1;  // four-byte sequences are surrogate pairs in UTF-16
    i += n;
  }
  return p;
}

size_t OffsetOf(const std::string& text, Position position) {
  size_t start = OffsetOfLine(text, position.line + 1);
  size_t end = LineEnd(text, start);
  size_t i = start;
  uint32_t units = 0;
  while (i < end && units < position.character) {
    size_t n = SequenceLength(static_cast<unsigned char>(text[i]));
    units += n == 4 ? 2 : 1;
    i = std::min(end, i + n);
  }
  return i;
}

nlohmann::json ToJson(Position p) { return {{"line", p.line}, {"character", p.character}}; }

nlohmann::json RangeOf(const std::string& text, uint32_t line, uint32_t column, uint32_t length) {
  size_t start = OffsetOfColumn(text, line, column);
  size_t end = std::min(text.size(), start + length);
  return {{"start", ToJson(PositionOf(text, start))}, {"end", ToJson(PositionOf(text, end))}};
}

}  // namespace lawful::lsp
