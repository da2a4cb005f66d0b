// Contact fields' doc comments. The compiled-in descriptors carry no comments, so the build embeds
// a descriptor set of proto/lawful/v1 made with `protoc --include_source_info` (embed.cmake).
#include <cstddef>
#include <memory>

#include "analysis.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"

extern const unsigned char kLawfulV1DescriptorSet[];
extern const size_t kLawfulV1DescriptorSetSize;

namespace lawful::lsp {
namespace {

namespace pb = google::protobuf;

// Built once, read-only afterwards.
const pb::DescriptorPool& DocumentedPool() {
  static const pb::DescriptorPool* pool = [] {
    auto* p = new pb::DescriptorPool();
    pb::FileDescriptorSet set;
    if (set.ParseFromArray(kLawfulV1DescriptorSet, static_cast<int>(kLawfulV1DescriptorSetSize))) {
      for (const pb::FileDescriptorProto& file : set.file()) p->BuildFile(file);
    }
    return p;
  }();
  return *pool;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::string out;
  // protoc keeps the space after `//` on every line.
  for (size_t i = 0; i < s.size(); ++i) {
    if ((i == 0 || s[i - 1] == '\n') && s[i] == ' ') continue;
    out += s[i];
  }
  return out;
}

}  // namespace

std::string FieldComment(const pb::FieldDescriptor* field) {
  const pb::FieldDescriptor* documented = DocumentedPool().FindFieldByName(field->full_name());
  if (documented == nullptr) return "";
  pb::SourceLocation location;
  if (!documented->GetSourceLocation(&location)) return "";
  std::string comment = Trim(location.leading_comments);
  std::string trailing = Trim(location.trailing_comments);
  if (!trailing.empty()) comment += (comment.empty() ? "" : "\n") + trailing;
  return comment;
}

}  // namespace lawful::lsp
