// What `lawful eval` and `lawful diff` share: the outreach flags' parsing and the JSONL reader.
#pragma once

#include <istream>
#include <string>

#include <google/protobuf/repeated_ptr_field.h>
#include <google/protobuf/util/json_util.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lawful/v1/contact.pb.h"
#include "lawful/v1/decision.pb.h"

namespace lawful::cli {

using ContactBatch = google::protobuf::RepeatedPtrField<lawful::v1::Contact>;

// --channel: email|sms|post|phone.
absl::StatusOr<lawful::v1::Channel> ParseChannel(const std::string& name);
// The flag spelling of a channel ("email"); the inverse of ParseChannel.
std::string ChannelFlagName(lawful::v1::Channel channel);
// --notice_type: empty (unspecified) or contract|legal_obligation|vital_interest|public_task.
absl::StatusOr<lawful::v1::NoticeType> ParseNoticeType(const std::string& name);
// --at: an RFC 3339 instant.
absl::StatusOr<absl::Time> ParseAt(const std::string& rfc3339);
// An instant as RFC 3339 in UTC, as --at takes it.
std::string FormatAt(absl::Time at);

// Reads contacts from JSONL, reporting (on stderr, prefixed with `command`, with the line number)
// and counting malformed lines instead of dropping them silently.
class ContactReader {
 public:
  ContactReader(std::istream* in, std::string name, std::string command);

  // Fills `batch` with up to `max` contacts; false when the input is exhausted and none was read.
  // Reuses the batch's allocated messages.
  bool Read(int max, ContactBatch* batch);

  bool failed() const { return in_->bad(); }
  int malformed() const { return malformed_; }

 private:
  std::istream* in_;
  const std::string name_;
  const std::string command_;
  google::protobuf::util::JsonParseOptions options_;
  int line_number_ = 0;
  int malformed_ = 0;
};

}  // namespace lawful::cli
