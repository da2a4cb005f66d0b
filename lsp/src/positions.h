// Positions: the checker's 1-based lines and byte columns, LSP's 0-based lines and UTF-16 code
// units.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "nlohmann/json.hpp"

namespace lawful::lsp {

struct Position {
  uint32_t line = 0;       // 0-based
  uint32_t character = 0;  // UTF-16 code units
};

// The byte offset where 1-based `line` starts (the text's end past its last line).
size_t OffsetOfLine(const std::string& text, uint32_t line);
// The byte offset of 1-based `line`, byte `column`, clamped to the text.
size_t OffsetOfColumn(const std::string& text, uint32_t line, uint32_t column);
// The LSP position of byte `offset`.
Position PositionOf(const std::string& text, size_t offset);
// The byte offset of an LSP position, clamped to its line (a character past the end of the line
// is the line's end, as the protocol asks).
size_t OffsetOf(const std::string& text, Position position);

// {"start": ..., "end": ...} for `length` bytes from 1-based `line`, byte `column`.
nlohmann::json RangeOf(const std::string& text, uint32_t line, uint32_t column, uint32_t length);
nlohmann::json ToJson(Position p);

}  // namespace lawful::lsp
