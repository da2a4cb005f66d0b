#include "authz.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include <grpc/grpc_security_constants.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

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

// An attribute type as RFC 4514 spells one: a name (`CN`, `emailAddress`; a letter, then letters,
// digits and `-`) or a dotted OID (`2.5.4.3`).
bool IsAttributeType(absl::string_view type) {
  if (type.empty()) return false;
  if (absl::ascii_isalpha(type.front())) {
    return std::all_of(type.begin(), type.end(),
                       [](char c) { return absl::ascii_isalnum(c) || c == '-'; });
  }
  bool digit_before = false;  // no empty arc
  bool dotted = false;
  for (const char c : type) {
    if (absl::ascii_isdigit(c)) {
      digit_before = true;
    } else if (c == '.' && digit_before) {
      digit_before = false;
      dotted = true;
    } else {
      return false;
    }
  }
  return dotted && digit_before;
}

// Whether a line's identity is a certificate subject (see authz.h): `/...`, or `<type>=...`.
bool IsSubject(absl::string_view identity) {
  if (absl::StartsWith(identity, "/")) return true;
  const size_t equals = identity.find('=');
  return equals != absl::string_view::npos &&
         IsAttributeType(absl::StripAsciiWhitespace(identity.substr(0, equals)));
}

// Whether the character at `at` follows an odd number of backslashes, i.e. is escaped.
bool IsEscaped(absl::string_view text, size_t at) {
  size_t backslashes = 0;
  while (backslashes < at && text[at - 1 - backslashes] == '\\') ++backslashes;
  return backslashes % 2 == 1;
}

// `text` without blanks at its ends, but for an escaped one (`CN=a\ `) at its end.
absl::string_view StripUnescapedBlanks(absl::string_view text) {
  text = absl::StripLeadingAsciiWhitespace(text);
  while (!text.empty() && absl::ascii_isspace(text.back()) && !IsEscaped(text, text.size() - 1)) {
    text.remove_suffix(1);
  }
  return text;
}

// `line` up to its comment: the first `#` that no `\` escapes.
absl::string_view WithoutComment(absl::string_view line) {
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\') {
      ++i;
    } else if (line[i] == '#') {
      return line.substr(0, i);
    }
  }
  return line;
}

int HexDigit(char c) {
  if (absl::ascii_isdigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// How an unlisted caller is named in a denial: its subject, else its first name.
std::string CallerName(const std::vector<std::string>& identities) {
  return identities.empty() ? std::string("(no client certificate)") : identities.front();
}

// The certificate's subject, then each of its names not already listed.
std::vector<std::string> AllNames(const PeerCertificate& peer) {
  std::vector<std::string> names;
  if (!peer.subject.empty()) names.push_back(peer.subject);
  for (const std::string& name : peer.names) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

}  // namespace

absl::StatusOr<CertificateSubject> ParseCertificateSubject(std::string_view spelt) {
  absl::string_view text = StripUnescapedBlanks(absl::string_view(spelt.data(), spelt.size()));
  const bool slash_form = absl::ConsumePrefix(&text, "/");
  if (text.empty()) return absl::InvalidArgumentError("it names no attribute");
  const char separator = slash_form ? '/' : ',';

  CertificateSubject subject;
  std::string type;   // as written, up to the attribute's first `=`
  std::string value;  // unescaped, once `=` is seen
  bool in_value = false;
  size_t value_end = 0;  // the value's length without its unescaped trailing blanks
  auto end_attribute = [&]() -> absl::Status {
    const absl::string_view written = absl::StripAsciiWhitespace(type);
    if (!in_value) {
      if (written.empty()) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "an empty attribute (`%c` or `+` at an end, or two in a row)", separator));
      }
      return absl::InvalidArgumentError(absl::StrFormat("`%s` has no `=`", written));
    }
    if (!IsAttributeType(written)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "`%s` is not an attribute type (CN, O, OU, ... or a dotted OID)", written));
    }
    value.resize(value_end);
    if (value.empty()) {
      return absl::InvalidArgumentError(absl::StrFormat("`%s=` has no value", written));
    }
    subject.emplace_back(absl::AsciiStrToLower(written), std::move(value));
    type.clear();
    value.clear();
    in_value = false;
    return absl::OkStatus();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == separator || c == '+') {
      if (absl::Status ended = end_attribute(); !ended.ok()) return ended;
    } else if (!in_value) {
      if (c == '\\') {
        return absl::InvalidArgumentError(
            absl::StrFormat("`\\` in the attribute type `%s\\`", type));
      }
      if (c == '=') {
        in_value = true;
        value_end = 0;
      } else {
        type.push_back(c);
      }
    } else if (c == '\\') {
      if (i + 1 == text.size())
        return absl::InvalidArgumentError("`\\` at the end escapes nothing");
      const int high = HexDigit(text[i + 1]);
      const int low = i + 2 < text.size() ? HexDigit(text[i + 2]) : -1;
      if (high >= 0 && low >= 0) {
        value.push_back(static_cast<char>(high * 16 + low));
        i += 2;
      } else {
        value.push_back(text[++i]);
      }
      value_end = value.size();
    } else if (!(absl::ascii_isspace(c) && value.empty())) {  // blanks before a value go
      value.push_back(c);
      if (!absl::ascii_isspace(c)) value_end = value.size();
    }
  }
  if (absl::Status ended = end_attribute(); !ended.ok()) return ended;
  std::sort(subject.begin(), subject.end());
  subject.erase(std::unique(subject.begin(), subject.end()), subject.end());
  return subject;
}

absl::StatusOr<AuthzPolicy> AuthzPolicy::Parse(std::string_view text, std::string_view file_name) {
  AuthzPolicy policy;
  int line_number = 0;
  auto error = [&](const std::string& message) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s:%d: %s", std::string(file_name), line_number, message));
  };
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(WithoutComment(line));
    if (line.empty()) continue;
    const size_t colon = line.rfind(':');
    if (colon == absl::string_view::npos) {
      return error("expected `<certificate identity> : <purpose>, <purpose>, ...`");
    }
    const std::string identity(StripUnescapedBlanks(line.substr(0, colon)));
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
    const Grant* first = nullptr;
    if (IsSubject(identity)) {
      absl::StatusOr<CertificateSubject> subject = ParseCertificateSubject(identity);
      if (!subject.ok()) {
        return error(absl::StrFormat("`%s` is not a certificate subject: %s", identity,
                                     subject.status().message()));
      }
      auto [it, inserted] = policy.by_subject_.emplace(*std::move(subject), std::move(grant));
      if (!inserted) first = &it->second;
    } else {
      auto [it, inserted] = policy.by_name_.emplace(identity, std::move(grant));
      if (!inserted) first = &it->second;
    }
    if (first != nullptr) {
      return error(
          absl::StrFormat("`%s` is listed twice (first on line %d)", identity, first->line));
    }
  }
  if (policy.callers() == 0) {
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

absl::Status AuthzPolicy::Check(const PeerCertificate& peer, std::string_view purpose) const {
  const Grant* listed = nullptr;
  std::string listed_as;
  // Whether `grant` (matched as `as`) admits the call; the first grant that does not is the one a
  // denial cites.
  auto admits = [&](const Grant& grant, const std::string& as) {
    if (purpose.empty() || grant.every_purpose ||
        grant.purposes.contains(absl::string_view(purpose.data(), purpose.size()))) {
      return true;
    }
    if (listed == nullptr) {
      listed = &grant;
      listed_as = as;
    }
    return false;
  };
  if (!peer.subject.empty() && !by_subject_.empty()) {
    // A subject gRPC printed and this cannot parse matches no subject line.
    if (const absl::StatusOr<CertificateSubject> subject = ParseCertificateSubject(peer.subject);
        subject.ok()) {
      const auto it = by_subject_.find(*subject);
      if (it != by_subject_.end() && admits(it->second, peer.subject)) return absl::OkStatus();
    }
  }
  for (const std::string& name : peer.names) {
    const auto it = by_name_.find(name);
    if (it != by_name_.end() && admits(it->second, name)) return absl::OkStatus();
  }
  if (listed == nullptr) {
    const std::vector<std::string> names = AllNames(peer);
    return absl::PermissionDeniedError(
        absl::StrFormat("caller `%s` is not listed in --authz_file (certificate names: %s)",
                        CallerName(names), names.empty() ? "none" : absl::StrJoin(names, ", ")));
  }
  std::vector<std::string> granted(listed->purposes.begin(), listed->purposes.end());
  std::sort(granted.begin(), granted.end());
  return absl::PermissionDeniedError(absl::StrFormat(
      "caller `%s` may not ask about purpose `%s` (--authz_file line %d grants: %s)", listed_as,
      std::string(purpose), listed->line, absl::StrJoin(granted, ", ")));
}

PeerCertificate PeerCertificateOf(const grpc::AuthContext& auth) {
  PeerCertificate peer;
  // Only a certificate the handshake verified names a caller; without a client CA, gRPC does not
  // verify (nor, here, request) one.
  if (!auth.IsPeerAuthenticated()) return peer;
  for (const grpc::string_ref& value : auth.FindPropertyValues(GRPC_X509_SUBJECT_PROPERTY_NAME)) {
    if (peer.subject.empty()) peer.subject.assign(value.data(), value.size());
  }
  // The typed SAN properties, not GRPC_X509_SAN_PROPERTY_NAME: there gRPC records every SAN of
  // another type (otherName, directoryName, ...) as the text "other types of SAN".
  for (const char* property :
       {GRPC_X509_CN_PROPERTY_NAME, GRPC_PEER_DNS_PROPERTY_NAME, GRPC_PEER_URI_PROPERTY_NAME,
        GRPC_PEER_EMAIL_PROPERTY_NAME, GRPC_PEER_IP_PROPERTY_NAME}) {
    for (const grpc::string_ref& value : auth.FindPropertyValues(property)) {
      std::string name(value.data(), value.size());
      // gRPC records an empty common name for a certificate without one.
      if (!name.empty() &&
          std::find(peer.names.begin(), peer.names.end(), name) == peer.names.end()) {
        peer.names.push_back(std::move(name));
      }
    }
  }
  return peer;
}

std::vector<std::string> PeerIdentities(const grpc::AuthContext& auth) {
  return AllNames(PeerCertificateOf(auth));
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
      policy->Check(auth == nullptr ? PeerCertificate() : PeerCertificateOf(*auth), purpose);
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, std::string(status.message()));
}

}  // namespace lawful::server
