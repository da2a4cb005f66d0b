#include "authz.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include <grpc/grpc_security_constants.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace lawful::server {
namespace {

// A purpose as the rules language spells one: an identifier.
bool IsPurposeName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name.front())) return false;
  for (const char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

// How an unlisted caller is named in a denial: its first name (its certificate's subject).
std::string CallerName(const std::vector<std::string>& identities) {
  return identities.empty() ? std::string("(no client certificate)") : identities.front();
}

}  // namespace

absl::StatusOr<AuthzPolicy> AuthzPolicy::Parse(std::string_view text, std::string_view file_name) {
  AuthzPolicy policy;
  int line_number = 0;
  auto error = [&](const std::string& message) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s:%d: %s", std::string(file_name), line_number, message));
  };
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++line_number;
    if (const size_t hash = line.find('#'); hash != absl::string_view::npos) {
      line = line.substr(0, hash);
    }
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    const size_t colon = line.rfind(':');
    if (colon == absl::string_view::npos) {
      return error("expected `<certificate identity> : <purpose>, <purpose>, ...`");
    }
    const std::string identity(absl::StripAsciiWhitespace(line.substr(0, colon)));
    if (identity.empty()) return error("the caller's certificate identity is missing before `:`");
    Grant grant;
    grant.line = line_number;
    const absl::string_view purposes = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (purposes.empty()) {
      return error(absl::StrFormat(
          "no purpose listed for `%s` (list its purposes, or `*` for every purpose)", identity));
    }
    for (absl::string_view purpose : absl::StrSplit(purposes, ',')) {
      purpose = absl::StripAsciiWhitespace(purpose);
      if (purpose == "*") {
        grant.every_purpose = true;
      } else if (IsPurposeName(purpose)) {
        grant.purposes.insert(std::string(purpose));
      } else {
        return error(absl::StrFormat("`%s` is not a purpose name (letters, digits and `_`, or `*`)",
                                     std::string(purpose)));
      }
    }
    auto [it, inserted] = policy.grants_.emplace(identity, std::move(grant));
    if (!inserted) {
      return error(
          absl::StrFormat("`%s` is listed twice (first on line %d)", identity, it->second.line));
    }
  }
  if (policy.grants_.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: lists no caller, so every call would be refused", std::string(file_name)));
  }
  return policy;
}

absl::StatusOr<AuthzPolicy> AuthzPolicy::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot read the file", path));
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

absl::Status AuthzPolicy::Check(const std::vector<std::string>& identities,
                                std::string_view purpose) const {
  const Grant* listed = nullptr;
  std::string listed_as;
  for (const std::string& identity : identities) {
    const auto it = grants_.find(identity);
    if (it == grants_.end()) continue;
    const Grant& grant = it->second;
    if (purpose.empty() || grant.every_purpose ||
        grant.purposes.contains(absl::string_view(purpose.data(), purpose.size()))) {
      return absl::OkStatus();
    }
    if (listed == nullptr) {
      listed = &grant;
      listed_as = identity;
    }
  }
  if (listed == nullptr) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "caller `%s` is not listed in --authz_file (certificate names: %s)", CallerName(identities),
        identities.empty() ? "none" : absl::StrJoin(identities, ", ")));
  }
  std::vector<std::string> granted(listed->purposes.begin(), listed->purposes.end());
  std::sort(granted.begin(), granted.end());
  return absl::PermissionDeniedError(absl::StrFormat(
      "caller `%s` may not ask about purpose `%s` (--authz_file line %d grants: %s)", listed_as,
      std::string(purpose), listed->line, absl::StrJoin(granted, ", ")));
}

std::vector<std::string> PeerIdentities(const grpc::AuthContext& auth) {
  std::vector<std::string> identities;
  // Only a certificate the handshake verified names a caller; without a client CA, gRPC does not
  // verify (nor, here, request) one.
  if (!auth.IsPeerAuthenticated()) return identities;
  for (const char* property :
       {GRPC_X509_SUBJECT_PROPERTY_NAME, GRPC_X509_CN_PROPERTY_NAME, GRPC_X509_SAN_PROPERTY_NAME}) {
    for (const grpc::string_ref& value : auth.FindPropertyValues(property)) {
      std::string name(value.data(), value.size());
      bool seen = false;
      for (const std::string& other : identities) seen = seen || other == name;
      if (!seen) identities.push_back(std::move(name));
    }
  }
  return identities;
}

absl::Status Authorizer::Reload() {
  absl::StatusOr<AuthzPolicy> loaded = AuthzPolicy::Load(path_);
  if (!loaded.ok()) return loaded.status();
  auto policy = std::make_shared<const AuthzPolicy>(*std::move(loaded));
  absl::MutexLock lock(&mu_);
  policy_ = std::move(policy);
  return absl::OkStatus();
}

size_t Authorizer::callers() const {
  absl::MutexLock lock(&mu_);
  return policy_ == nullptr ? 0 : policy_->callers();
}

grpc::Status Authorizer::Check(const grpc::ServerContextBase& context,
                               std::string_view purpose) const {
  std::shared_ptr<const AuthzPolicy> policy;
  {
    absl::MutexLock lock(&mu_);
    policy = policy_;
  }
  if (policy == nullptr) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no --authz_file loaded");
  }
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  const absl::Status status =
      policy->Check(auth == nullptr ? std::vector<std::string>() : PeerIdentities(*auth), purpose);
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, std::string(status.message()));
}

}  // namespace lawful::server
