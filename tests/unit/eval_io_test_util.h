// What lawful eval's format tests share (eval_io_test.cc, eval_csv_test.cc): generated contacts,
// and the JSON transcoder run with the padding simdjson wants.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "decision_lines.h"
#include "decision_output.h"
#include "lawful/synth.h"
#include "lawful/testkit.h"

namespace lawful::cli {

inline std::vector<v1::Contact> Contacts(size_t count) {
  return synth::Generate(7, count, testkit::At(testkit::kTestInstant));
}

// Transcodes `json` with the padding simdjson wants; the bytes, or the error.
struct Transcoded {
  bool ok = false;
  std::string bytes;
  FieldError error;
};
inline Transcoded Transcode(JsonTranscoder& transcoder, const std::string& json) {
  std::string padded = json + std::string(kJsonPadding, '\0');
  Transcoded result;
  result.ok = transcoder.Transcode(std::string_view(padded.data(), json.size()), &result.bytes,
                                   &result.error);
  return result;
}

}  // namespace lawful::cli
