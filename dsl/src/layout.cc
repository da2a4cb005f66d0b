// LayoutBuilder (layout.h): slots and lists, assigned as the checker meets field accesses.
#include "layout.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"

namespace lawful::dsl {

namespace pb = google::protobuf;

namespace {
std::string JoinPath(const std::vector<const pb::FieldDescriptor*>& path, size_t n) {
  std::string out;
  for (size_t i = 0; i < n && i < path.size(); ++i)
    absl::StrAppend(&out, i ? "." : "", path[i]->name());
  return out;
}
}  // namespace

LayoutBuilder::LayoutBuilder() { layout_.messages.emplace_back(); }

int32_t LayoutBuilder::MessageFor(int32_t list, const std::vector<const pb::FieldDescriptor*>& path,
                                  size_t depth) {
  if (depth == 0) return list < 0 ? 0 : list_message_[list];
  auto key = std::make_pair(list, JoinPath(path, depth));
  if (auto it = messages_.find(key); it != messages_.end()) return it->second;
  int32_t parent = MessageFor(list, path, depth - 1);
  int32_t index = static_cast<int32_t>(layout_.messages.size());
  layout_.messages.emplace_back();
  FactField f;
  f.number = static_cast<uint32_t>(path[depth - 1]->number());
  f.kind = FactKind::kMessage;
  f.message = index;
  f.name = path[depth - 1]->name();
  layout_.messages[parent].fields.push_back(f);
  messages_[key] = index;
  return index;
}

int32_t LayoutBuilder::Slot(int32_t list, const std::vector<const pb::FieldDescriptor*>& path,
                            FactKind kind) {
  auto key = std::make_pair(list, JoinPath(path, path.size()));
  if (auto it = slots_.find(key); it != slots_.end()) return it->second;
  int32_t slot = list < 0 ? layout_.contact_slots++ : layout_.lists[list].width++;
  int32_t message = MessageFor(list, path, path.size() - 1);
  FactField f;
  f.number = static_cast<uint32_t>(path.back()->number());
  f.kind = kind;
  f.slot = slot;
  f.name = path.back()->name();
  layout_.messages[message].fields.push_back(f);
  slots_[key] = slot;
  return slot;
}

int32_t LayoutBuilder::List(int32_t parent_list,
                            const std::vector<const pb::FieldDescriptor*>& path, FactKind kind,
                            FactKind element) {
  auto key = std::make_pair(parent_list, JoinPath(path, path.size()));
  if (auto it = lists_.find(key); it != lists_.end()) return it->second;
  int32_t id = static_cast<int32_t>(layout_.lists.size());
  ListLayout list;
  list.name = JoinPath(path, path.size());
  list.records = kind == FactKind::kRecordList;
  list.width = list.records ? 0 : 1;
  layout_.lists.push_back(list);
  int32_t element_message = -1;
  if (list.records) {
    element_message = static_cast<int32_t>(layout_.messages.size());
    layout_.messages.emplace_back();
  }
  list_message_.push_back(element_message);
  FactField f;
  f.number = static_cast<uint32_t>(path.back()->number());
  f.kind = kind;
  f.element = element;
  f.slot = id;
  f.message = element_message;
  f.name = path.back()->name();
  layout_.messages[MessageFor(parent_list, path, path.size() - 1)].fields.push_back(f);
  lists_[key] = id;
  // A record's caller-side id lets a decision's evidence point at it.
  if (list.records) {
    const pb::FieldDescriptor* id_field = path.back()->message_type()->FindFieldByName("id");
    if (id_field != nullptr && id_field->type() == pb::FieldDescriptor::TYPE_STRING &&
        !id_field->is_repeated()) {
      layout_.lists[id].id_slot = Slot(id, {id_field}, FactKind::kString);
    }
  }
  return id;
}

}  // namespace lawful::dsl
