// Proto JSON to protobuf wire bytes without building a message: `lawful eval` parses each input
// line with simdjson and writes the lawful.v1.Contact bytes the engine decodes, driven by the
// message's descriptor. It accepts what protobuf's JsonStringToMessage accepts for the types a
// contact uses (lowerCamelCase or original field names, enums by name or number, Timestamps as
// RFC 3339 strings, null as "not set"), writes the bytes SerializeToString would write for the
// same message, and rejects unknown fields as protobuf does by default. It is stricter in a few
// corners protobuf lets through: a field given twice, a single value where an array belongs, a
// Timestamp given as an object, and date parts without their leading zeros.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <google/protobuf/descriptor.h>

namespace lawful::cli {

// What is wrong with one input document: the field at fault as a path of proto field names
// ("consents[1].granted_at"; empty when the document as a whole is wrong) and why.
struct FieldError {
  std::string path;
  std::string message;
  std::string column;  // CSV input: the column the value came from
};


// The bytes simdjson may read past the end of a document (simdjson::SIMDJSON_PADDING), so that
// callers can size their buffers without including simdjson.
extern const size_t kJsonPadding;

// One per thread: holds simdjson's parser and scratch space, reused from line to line.
class JsonTranscoder {
 public:
  // `message` is the type every document is read as (lawful.v1.Contact for eval).
  explicit JsonTranscoder(const google::protobuf::Descriptor* message);
  ~JsonTranscoder();
  JsonTranscoder(const JsonTranscoder&) = delete;
  JsonTranscoder& operator=(const JsonTranscoder&) = delete;

  // Appends the wire bytes of the message `json` describes to `out`. `json` must be followed by
  // kJsonPadding readable bytes (they are not part of the document). On failure `out` is left as
  // it was and `error` says which field is at fault.
  bool Transcode(std::string_view json, std::string* out, FieldError* error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lawful::cli
