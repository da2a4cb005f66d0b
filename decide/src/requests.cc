// Requests read on their wire bytes: the envelope and the outreach are parsed, the contacts are
// left as views for CheckContact and the engine. A request whose envelope or outreach cannot be
// read is refused whole, naming the field; what is wrong inside a contact is that contact's own.
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lawful/decide.h"

namespace lawful::decide {
namespace {

absl::Status Malformed(const std::string& what) {
  return absl::InvalidArgumentError(what + ": the message is truncated or malformed");
}

// Reads the fields of a request message: `outreach_number` (a message), `contact_number` (one
// contact or a repeated list), `version_number` (a string). Other field numbers are skipped.
absl::Status ReadFields(std::string_view bytes, uint32_t outreach_number, uint32_t contact_number,
                        uint32_t version_number, bool single_contact, const char* prefix,
                        Request* out) {
  wire::Reader r(bytes);
  std::vector<std::string_view> pieces;  // a singular contact's occurrences, merged below
  while (!r.done()) {
    uint32_t number, type;
    if (!r.Tag(number, type))
      return Malformed(prefix[0] ? std::string(prefix, std::strlen(prefix) - 1) : "request");
    std::string_view body;
    const bool ours =
        number == outreach_number || number == contact_number || number == version_number;
    if (!ours) {
      if (!r.Skip(number, type))
        return Malformed(prefix[0] ? std::string(prefix, std::strlen(prefix) - 1) : "request");
      continue;
    }
    const char* name = number == outreach_number  ? "outreach"
                       : number == contact_number ? (single_contact ? "contact" : "contacts")
                                                  : "rule_set_version";
    if (type != wire::kLengthDelimited || !r.Bytes(body)) {
      return Malformed(absl::StrCat(prefix, name));
    }
    if (number == outreach_number) {
      out->has_outreach = true;
      if (!out->outreach.MergeFromString(std::string(body))) {
        return Malformed(absl::StrCat(prefix, "outreach"));
      }
    } else if (number == contact_number) {
      (single_contact ? pieces : out->contacts).push_back(body);
    } else {
      if (!IsValidUtf8(body)) {
        return absl::InvalidArgumentError(
            absl::StrCat(prefix, "rule_set_version: the text is not valid UTF-8"));
      }
      out->rule_set_version.assign(body.data(), body.size());
    }
  }
  if (pieces.size() == 1) {
    out->contacts.push_back(pieces[0]);
  } else if (pieces.size() > 1) {
    // A message given twice is the two merged, which on the wire is their concatenation.
    for (std::string_view piece : pieces) out->joined.append(piece.data(), piece.size());
    out->contacts.push_back(out->joined);
  }
  return absl::OkStatus();
}

void Reset(Request* out) {
  out->has_outreach = false;
  out->outreach.Clear();
  out->rule_set_version.clear();
  out->contacts.clear();
  out->joined.clear();
}

}  // namespace

absl::Status ReadSingleRequest(std::string_view bytes, Request* out) {
  Reset(out);
  return ReadFields(bytes, 1, 2, 3, /*single_contact=*/true, "", out);
}

absl::Status ReadBatchRequest(std::string_view bytes, Request* out) {
  Reset(out);
  return ReadFields(bytes, 1, 2, 3, /*single_contact=*/false, "", out);
}

absl::StatusOr<StreamPart> ReadStreamRequest(std::string_view bytes, Request* out) {
  Reset(out);
  // DecideStreamRequest { oneof kind { StreamStart start = 1; ContactChunk contacts = 2; } }:
  // the last member given wins, and one given twice is merged.
  StreamPart part = StreamPart::kNone;
  std::vector<std::string_view> bodies;
  wire::Reader r(bytes);
  while (!r.done()) {
    uint32_t number, type;
    if (!r.Tag(number, type)) return Malformed("request");
    std::string_view body;
    if (number != 1 && number != 2) {
      if (!r.Skip(number, type)) return Malformed("request");
      continue;
    }
    const StreamPart member = number == 1 ? StreamPart::kStart : StreamPart::kContacts;
    if (type != wire::kLengthDelimited || !r.Bytes(body)) {
      return Malformed(member == StreamPart::kStart ? "start" : "contacts");
    }
    if (member != part) bodies.clear();
    part = member;
    bodies.push_back(body);
  }
  for (std::string_view body : bodies) {
    // StreamStart { outreach = 1; rule_set_version = 2; }, ContactChunk { contacts = 1; }.
    absl::Status read = part == StreamPart::kStart
                            ? ReadFields(body, 1, 0, 2, false, "start.", out)
                            : ReadFields(body, 0, 1, 0, false, "contacts.", out);
    if (!read.ok()) return read;
  }
  return part;
}

absl::StatusOr<ResolvedOutreach> ResolveOutreach(const RuleSet& rule_set, const Request& request,
                                                 absl::Time now) {
  const lawful::v1::Outreach& outreach = request.outreach;
  if (!request.has_outreach) return absl::InvalidArgumentError("outreach is required");
  if (outreach.purpose().empty()) return absl::InvalidArgumentError("outreach.purpose is required");
  if (outreach.channel() == lawful::v1::CHANNEL_UNSPECIFIED) {
    return absl::InvalidArgumentError("outreach.channel is required");
  }
  if (!lawful::v1::Channel_IsValid(outreach.channel())) {
    return absl::InvalidArgumentError(
        absl::StrFormat("outreach.channel: unknown channel %d", outreach.channel()));
  }
  if (!lawful::v1::NoticeType_IsValid(outreach.notice_type())) {
    return absl::InvalidArgumentError(
        absl::StrFormat("outreach.notice_type: unknown notice type %d", outreach.notice_type()));
  }
  if (outreach.has_at()) {
    if (const char* problem = TimestampProblem(outreach.at().seconds(), outreach.at().nanos())) {
      return absl::InvalidArgumentError(absl::StrCat("outreach.at: ", problem));
    }
  }
  const std::string& served = rule_set.version();
  if (!request.rule_set_version.empty() && request.rule_set_version != served) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "rule_set_version: requested %s, serving %s", request.rule_set_version, served));
  }
  ResolvedOutreach resolved;
  resolved.at = outreach.has_at() ? FromProto(outreach.at()) : now;
  absl::StatusOr<PreparedOutreach> prepared = rule_set.Prepare(
      Outreach{outreach.purpose(), outreach.channel(), outreach.notice_type(), resolved.at});
  if (!prepared.ok()) return prepared.status();
  resolved.prepared = *std::move(prepared);
  return resolved;
}

}  // namespace lawful::decide
