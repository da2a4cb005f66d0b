// Contacts on every time boundary the shipped rules draw, measured from one `at`, and contacts
// the engine refuses: the rows the SQL comparison needs beyond what random contacts reach.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "lawful/v1/contact.pb.h"

namespace lawful {

// Ids are "<prefix>-<what the contact tests>".
std::vector<lawful::v1::Contact> BoundaryContacts(absl::Time at, const std::string& prefix);

}  // namespace lawful
