#include "validate.h"

#include "absl/strings/str_cat.h"

namespace lawful::server {
namespace {

// Built only for a problem: valid contacts, the hot path, allocate nothing here.
ContactProblem Problem(const char* list, int index, const char* field, const char* message) {
  return ContactProblem{absl::StrCat(list, "[", index, "].", field), message};
}

}  // namespace

std::optional<ContactProblem> ValidateContact(const lawful::v1::Contact& contact) {
  for (int i = 0; i < contact.consents_size(); ++i) {
    const lawful::v1::Consent& consent = contact.consents(i);
    if (consent.purpose().empty()) {
      return Problem("consents", i, "purpose", "a consent must name the purpose consented to");
    }
    if (consent.channel() == lawful::v1::CHANNEL_UNSPECIFIED) {
      return Problem("consents", i, "channel", "a consent must name the channel consented to");
    }
    if (!consent.has_granted_at()) {
      return Problem("consents", i, "granted_at", "a consent must say when it was given");
    }
  }
  for (int i = 0; i < contact.objections_size(); ++i) {
    const lawful::v1::Objection& objection = contact.objections(i);
    if (objection.scope() == lawful::v1::OBJECTION_SCOPE_UNSPECIFIED) {
      return Problem("objections", i, "scope", "an objection must say what it covers");
    }
    if (!objection.has_lodged_at()) {
      return Problem("objections", i, "lodged_at", "an objection must say when it was lodged");
    }
  }
  return std::nullopt;
}

}  // namespace lawful::server
