#include "input.h"

#include <cstdio>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"

namespace lawful::cli {

absl::StatusOr<lawful::v1::Channel> ParseChannel(const std::string& name) {
  if (name == "email") return lawful::v1::CHANNEL_EMAIL;
  if (name == "sms") return lawful::v1::CHANNEL_SMS;
  if (name == "post") return lawful::v1::CHANNEL_POST;
  if (name == "phone") return lawful::v1::CHANNEL_PHONE;
  if (name.empty())
    return absl::InvalidArgumentError("--channel is required (email|sms|post|phone)");
  return absl::InvalidArgumentError(
      absl::StrFormat("--channel=%s: expected email, sms, post or phone", name));
}

std::string ChannelFlagName(lawful::v1::Channel channel) {
  switch (channel) {
    case lawful::v1::CHANNEL_EMAIL:
      return "email";
    case lawful::v1::CHANNEL_SMS:
      return "sms";
    case lawful::v1::CHANNEL_POST:
      return "post";
    case lawful::v1::CHANNEL_PHONE:
      return "phone";
    default:
      return lawful::v1::Channel_Name(channel);
  }
}

absl::StatusOr<lawful::v1::NoticeType> ParseNoticeType(const std::string& name) {
  if (name.empty()) return lawful::v1::NOTICE_TYPE_UNSPECIFIED;
  if (name == "contract") return lawful::v1::NOTICE_TYPE_CONTRACT;
  if (name == "legal_obligation") return lawful::v1::NOTICE_TYPE_LEGAL_OBLIGATION;
  if (name == "vital_interest") return lawful::v1::NOTICE_TYPE_VITAL_INTEREST;
  if (name == "public_task") return lawful::v1::NOTICE_TYPE_PUBLIC_TASK;
  return absl::InvalidArgumentError(absl::StrFormat(
      "--notice_type=%s: expected contract, legal_obligation, vital_interest or public_task",
      name));
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
