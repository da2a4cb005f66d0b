// Short enum value names from the descriptors: built once for every enum of the lawful.v1 files,
// then read without locks (the audit log names an outcome per decision).
#include "lawful/v1/names.h"

#include <map>

#include <google/protobuf/descriptor.h>

#include "lawful/v1/contact.pb.h"
#include "lawful/v1/decision.pb.h"
#include "lawful/v1/service.pb.h"

namespace lawful::v1 {
namespace {

using google::protobuf::EnumDescriptor;

// "ConsentSource" -> "CONSENT_SOURCE_".
std::string Prefix(const EnumDescriptor& type) {
  std::string prefix;
  for (const char c : type.name()) {
    if (c >= 'A' && c <= 'Z' && !prefix.empty()) prefix += '_';
    prefix += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  }
  return prefix + '_';
}

struct Names {
  // Per enum type, per value index: the short name.
  std::map<const EnumDescriptor*, std::vector<std::string>> by_type;

  Names() {
    for (const google::protobuf::FileDescriptor* file :
         {Contact::descriptor()->file(), Decision::descriptor()->file(),
          DecideRequest::descriptor()->file()}) {
      for (int i = 0; i < file->enum_type_count(); ++i) Add(*file->enum_type(i));
    }
  }

  void Add(const EnumDescriptor& type) {
    const std::string prefix = Prefix(type);
    std::vector<std::string>& names = by_type[&type];
    for (int v = 0; v < type.value_count(); ++v) {
      std::string name = type.value(v)->name();
      if (name.compare(0, prefix.size(), prefix) == 0) name = name.substr(prefix.size());
      for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      names.push_back(std::move(name));
    }
  }
};

const Names& AllNames() {
  static const Names* const names = new Names();
  return *names;
}

const std::vector<std::string>* NamesOf(const EnumDescriptor* type) {
  const Names& all = AllNames();
  const auto it = all.by_type.find(type);
  return it == all.by_type.end() ? nullptr : &it->second;
}

}  // namespace

std::string_view ShortName(const EnumDescriptor* type, int number) {
  const google::protobuf::EnumValueDescriptor* value = type->FindValueByNumber(number);
  const std::vector<std::string>* names = NamesOf(type);
  if (value == nullptr || names == nullptr) return {};
  return (*names)[static_cast<size_t>(value->index())];
}

std::optional<int> FromShortName(const EnumDescriptor* type, std::string_view name) {
  const std::vector<std::string>* names = NamesOf(type);
  if (names == nullptr) return std::nullopt;
  for (size_t i = 0; i < names->size(); ++i) {
    if ((*names)[i] == name) return type->value(static_cast<int>(i))->number();
  }
  return std::nullopt;
}

std::vector<std::string_view> ShortNames(const EnumDescriptor* type) {
  std::vector<std::string_view> out;
  const std::vector<std::string>* names = NamesOf(type);
  if (names == nullptr) return out;
  for (size_t i = 0; i < names->size(); ++i) {
    if (type->value(static_cast<int>(i))->number() != 0) out.push_back((*names)[i]);
  }
  return out;
}

}  // namespace lawful::v1
