// Checks a contact for what the proto comments mark as required, before the engine sees it.
//
// The engine decides from the facts its rules read and already reports malformed ones (a bad
// birth_date) as an ERROR decision. A record missing a required field is different: the engine
// would read the gap as "never happened" (a consent with no granted_at) or as a purpose nobody
// declared, and might then deny — or, worse, allow — on facts the caller never meant to send.
// Such a contact gets its own ERROR decision instead; the other contacts of a batch are decided.
//
// No gRPC here: the messages only, so the CLI or a test can share the rules.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "lawful/v1/contact.pb.h"

namespace lawful::server {

struct ContactProblem {
  // The offending field, e.g. "consents[2].purpose".
  std::string field_path;
  std::string message;
};

// The first missing required field of `contact`, in field order; nullopt when there is none.
std::optional<ContactProblem> ValidateContact(const lawful::v1::Contact& contact);

// ValidateContact for a contact still in its wire bytes, for the batch path that never parses
// contacts into messages: the same problem (field path and message) for the same contact, found
// by walking the bytes, plus the contact's `id` as a view into `bytes`. Returns false when the
// bytes are not a well-formed message (truncated, bad tag, bad wire type); `id` and `problem`
// are then unspecified. Of the strings it checks only the ids a decision echoes (the contact's,
// its consents' and objections') for valid UTF-8, as a full parse would; an invalid contact id is
// reported as the problem and not returned.
bool ValidateContactBytes(std::string_view bytes, std::string_view* id,
                          std::optional<ContactProblem>* problem);

}  // namespace lawful::server
