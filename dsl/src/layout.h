// Fact layout: the VM slots and lists of the contact fields the rules read.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "lawful/engine.h"

namespace google::protobuf {
class FieldDescriptor;
}  // namespace google::protobuf

namespace lawful::dsl {

// Assigns VM slots and lists to the contact fields the rules read, and builds the FactLayout.
class LayoutBuilder {
 public:
  LayoutBuilder();
  // The slot of a scalar field at `path` ("relationship.last_purchase_at") within `list`'s
  // records, or within the contact when list is -1.
  int32_t Slot(int32_t list, const std::vector<const google::protobuf::FieldDescriptor*>& path,
               FactKind kind);
  // The list of a repeated field.
  int32_t List(int32_t parent_list,
               const std::vector<const google::protobuf::FieldDescriptor*>& path, FactKind kind,
               FactKind element);
  FactLayout Build() const { return layout_; }

 private:
  int32_t MessageFor(int32_t list,
                     const std::vector<const google::protobuf::FieldDescriptor*>& path,
                     size_t depth);
  FactLayout layout_;
  std::map<std::pair<int32_t, std::string>, int32_t> slots_;
  std::map<std::pair<int32_t, std::string>, int32_t> lists_;
  std::map<std::pair<int32_t, std::string>, int32_t> messages_;  // (list, message path) -> index
  std::vector<int32_t> list_message_;                            // list -> its element message
};

}  // namespace lawful::dsl
