// The short names of the lawful.v1 enums' values, as rules, flags, fixtures, the CLI's output and
// the audit log spell them (CHANNEL_EMAIL is `email`, OUTCOME_ALLOW is `allow`), taken from the
// proto's descriptor so that a value added to a .proto file is named everywhere at once.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/generated_enum_reflection.h>

namespace lawful::v1 {

// The short name of value `number` of `type`: its name without the prefix the type's name gives
// it (ConsentSource: CONSENT_SOURCE_), in lower case. "" for a number the type does not declare.
std::string_view ShortName(const google::protobuf::EnumDescriptor* type, int number);

// The value of `type` whose short name is `name`; nullopt when none is.
std::optional<int> FromShortName(const google::protobuf::EnumDescriptor* type,
                                 std::string_view name);

// The short names of every value but the zero one (UNSPECIFIED), in declaration order: what a
// flag's help or error lists.
std::vector<std::string_view> ShortNames(const google::protobuf::EnumDescriptor* type);

template <typename Enum>
std::string_view ShortName(Enum value) {
  return ShortName(google::protobuf::GetEnumDescriptor<Enum>(), static_cast<int>(value));
}

template <typename Enum>
std::optional<Enum> FromShortName(std::string_view name) {
  const std::optional<int> number =
      FromShortName(google::protobuf::GetEnumDescriptor<Enum>(), name);
  if (!number.has_value()) return std::nullopt;
  return static_cast<Enum>(*number);
}

}  // namespace lawful::v1
