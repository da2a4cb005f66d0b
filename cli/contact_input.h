// The contacts' JSON and CSV readers and the proto JSON value kinds, as the CLI names them: they
// live in the deciding layer, below every front door, so that any door taking JSON or CSV reuses
// them.
#pragma once

#include "lawful/decide.h"

namespace lawful::cli {

using decide::CsvContactMapping;
using decide::CsvRowConverter;
using decide::DetectCsvDelimiter;
using decide::FieldError;
using decide::JsonTranscoder;
using decide::kJsonPadding;
using decide::SplitCsvRecord;
using decide::ValueKind;
using decide::ValueKindOf;

}  // namespace lawful::cli
