#include "input.h"

#include <cstdio>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lawful/v1/names.h"

namespace lawful::cli {

namespace {

// "a, b or c": the values a flag takes, from the enum's descriptor.
template <typename Enum>
std::string Choices(const char* last_separator) {
  const std::vector<std::string_view> names =
      lawful::v1::ShortNames(google::protobuf::GetEnumDescriptor<Enum>());
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) text += i + 1 == names.size() ? last_separator : ", ";
    text.append(names[i].data(), names[i].size());
  }
  return text;
}

}  // namespace

absl::StatusOr<lawful::v1::Channel> ParseChannel(const std::string& name) {
  const std::optional<lawful::v1::Channel> channel =
      lawful::v1::FromShortName<lawful::v1::Channel>(name);
  if (channel.has_value() && *channel != lawful::v1::CHANNEL_UNSPECIFIED) return *channel;
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--channel is required (", Choices<lawful::v1::Channel>("|"), ")"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--channel=", name, ": expected ", Choices<lawful::v1::Channel>(" or ")));
}

std::string ChannelFlagName(lawful::v1::Channel channel) {
  const std::string_view name = lawful::v1::ShortName(channel);
  return name.empty() ? lawful::v1::Channel_Name(channel) : std::string(name);
}

absl::StatusOr<lawful::v1::NoticeType> ParseNoticeType(const std::string& name) {
  if (name.empty()) return lawful::v1::NOTICE_TYPE_UNSPECIFIED;
  const std::optional<lawful::v1::NoticeType> notice_type =
      lawful::v1::FromShortName<lawful::v1::NoticeType>(name);
  if (notice_type.has_value() && *notice_type != lawful::v1::NOTICE_TYPE_UNSPECIFIED) {
    return *notice_type;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--notice_type=", name, ": expected ", Choices<lawful::v1::NoticeType>(" or ")));
}

absl::StatusOr<absl::Time> ParseAt(const std::string& rfc3339) {
  absl::Time at;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, rfc3339, &at, &error)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--at=%s: not an RFC 3339 instant such as 2026-03-02T09:00:00Z (%s)", rfc3339, error));
  }
  return at;
}

std::string FormatAt(absl::Time at) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", at, absl::UTCTimeZone());
}

ContactReader::ContactReader(std::istream* in, std::string name, std::string command)
    : in_(in), name_(std::move(name)), command_(std::move(command)) {
  // Unknown fields are errors: a misspelt field would otherwise be a fact silently not known.
  options_.ignore_unknown_fields = false;
}

bool ContactReader::Read(int max, ContactBatch* batch) {
  // Clear() keeps the cleared messages for reuse by Add(), so a long input allocates once.
  batch->Clear();
  std::string line;
  while (batch->size() < max && std::getline(*in_, line)) {
    ++line_number_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    lawful::v1::Contact* contact = batch->Add();
    const auto status = google::protobuf::util::JsonStringToMessage(line, contact, options_);
    if (!status.ok()) {
      std::fprintf(stderr, "%s: %s:%d: not a lawful.v1.Contact: %s\n", command_.c_str(),
                   name_.c_str(), line_number_, std::string(status.message()).c_str());
      ++malformed_;
      batch->RemoveLast();
    }
  }
  return !batch->empty();
}

}  // namespace lawful::cli
