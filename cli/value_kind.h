// The kinds of field values `lawful eval` reads and writes in proto JSON, for the JSON
// transcoder, the decision printer and the CSV mapping alike.
#pragma once

#include <cstdint>

#include <google/protobuf/descriptor.h>

namespace lawful::cli {

enum class ValueKind : uint8_t {
  kString,
  kBool,
  kEnum,
  kInt32,
  kInt64,  // written as a quoted string in proto JSON
  kUInt32,
  kUInt64,  // quoted
  kMessage,
  kTimestamp,    // google.protobuf.Timestamp: an RFC 3339 string
  kUnsupported,  // double, bytes, maps, sint/fixed encodings, other well-known types
};

// The kind of one value of `field` (of each element, when repeated).
inline ValueKind ValueKindOf(const google::protobuf::FieldDescriptor* field) {
  namespace pb = google::protobuf;
  if (field->is_map()) return ValueKind::kUnsupported;
  switch (field->type()) {
    case pb::FieldDescriptor::TYPE_STRING:
      return ValueKind::kString;
    case pb::FieldDescriptor::TYPE_BOOL:
      return ValueKind::kBool;
    case pb::FieldDescriptor::TYPE_ENUM:
      // NullValue's JSON form is `null`, which means "not set" here.
      return field->enum_type()->full_name() == "google.protobuf.NullValue"
                 ? ValueKind::kUnsupported
                 : ValueKind::kEnum;
    case pb::FieldDescriptor::TYPE_INT32:
      return ValueKind::kInt32;
    case pb::FieldDescriptor::TYPE_INT64:
      return ValueKind::kInt64;
    case pb::FieldDescriptor::TYPE_UINT32:
      return ValueKind::kUInt32;
    case pb::FieldDescriptor::TYPE_UINT64:
      return ValueKind::kUInt64;
    case pb::FieldDescriptor::TYPE_MESSAGE: {
      const std::string& name = field->message_type()->full_name();
      if (name == "google.protobuf.Timestamp") return ValueKind::kTimestamp;
      // The other well-known types have JSON forms of their own.
      if (name.rfind("google.protobuf.", 0) == 0 && name != "google.protobuf.Empty") {
        return ValueKind::kUnsupported;
      }
      return ValueKind::kMessage;
    }
    default:
      return ValueKind::kUnsupported;
  }
}

}  // namespace lawful::cli
