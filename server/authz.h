// Per-caller authorisation (lawfuld --authz_file): which purposes each caller, known by its client
// certificate, may ask about. The newsletter service may ask whether it may send the newsletter;
// it has no business learning who may be profiled.
//
// The file, one caller a line; blank lines and `#` comments are ignored (`\#` is no comment):
//
//   # <certificate identity> : <purpose>, <purpose>, ...
//   newsletter.internal : newsletter, product_offer
//   CN=crm,O=Example AB : *
//   /O=Example AB/CN=analytics : profiling
//
// The line splits at its last `:` (purposes never contain one, URIs and subjects may). `*` grants
// every purpose. A caller that matches several lines gets what any of them grants. An identity is
// either a certificate subject or a name:
//
// - A subject begins with `/` (the slash form of `openssl req -subj`: `/CN=crm/O=Example AB`) or
//   with an attribute type and `=` (the RFC 4514 comma form, as gRPC reports a peer's subject:
//   `O=Example AB,CN=crm`). It is a set of (attribute type, value) pairs, and matches a caller
//   whose certificate subject has the same pairs in any order: none missing, none extra. Types
//   compare case-insensitively (`cn` is `CN`), values exactly; a type is spelt as OpenSSL prints
//   it (`CN`, `O`, `OU`, `C`, `L`, `ST`, `DC`, `UID`, `emailAddress`, ...; a dotted OID for one it
//   has no name for). Pairs are separated by `/` in the slash form and by `,` in the comma form
//   (the other is an ordinary character there), and by `+` (a multi-valued RDN) in both. `\`
//   escapes the next character (`\,` `\+` `\/` `\#` `\\` `\ `), or with two hex digits gives that
//   byte (`\C3\A9`, as gRPC escapes non-ASCII). Blanks around a type or a value are ignored unless
//   escaped. A subject that does not parse fails the file.
// - Any other identity is a name, equal to the certificate's common name or to one of its subject
//   alternative names (DNS name, URI, e-mail address, IP address).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <grpcpp/security/auth_context.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace lawful::server {

// A certificate subject as a set of (attribute type, value) pairs: types in lower case, values
// unescaped, sorted, each pair once. Neither the order of the attributes nor their spelling
// survives.
using CertificateSubject = std::vector<std::pair<std::string, std::string>>;

// Parses a subject in the slash or the comma form (see above). Errors say what is wrong, not
// where: the caller knows.
absl::StatusOr<CertificateSubject> ParseCertificateSubject(std::string_view text);

// A caller's client certificate, as gRPC's TLS handshake verified and recorded it.
struct PeerCertificate {
  // As gRPC prints it: RFC 4514, the last RDN first (`O=Example AB,CN=analytics` for
  // `/CN=analytics/O=Example AB`); empty when there is none.
  std::string subject;
  // Its common name, then its DNS names, URIs, e-mail addresses and IP addresses; each once.
  std::vector<std::string> names;
};

// The certificate of a caller; empty for a caller without a verified one (plaintext, or TLS
// without a client CA).
PeerCertificate PeerCertificateOf(const grpc::AuthContext& auth);

// The same as one list (for naming the caller: its subject first), each name once.
std::vector<std::string> PeerIdentities(const grpc::AuthContext& auth);

// One parsed --authz_file.
class AuthzPolicy {
 public:
  // Parses the file's text; errors are `file_name:line: message`.
  static absl::StatusOr<AuthzPolicy> Parse(std::string_view text, std::string_view file_name);
  static absl::StatusOr<AuthzPolicy> Load(const std::string& path);

  // OK when the caller with certificate `peer` may ask about `purpose`; PERMISSION_DENIED naming
  // the caller and the purpose otherwise. An empty purpose checks only that the caller is listed
  // (the request's own check then reports the missing purpose).
  absl::Status Check(const PeerCertificate& peer, std::string_view purpose) const;

  size_t callers() const { return by_name_.size() + by_subject_.size(); }

 private:
  struct Grant {
    bool every_purpose = false;
    absl::flat_hash_set<std::string> purposes;
    int line = 0;
  };
  absl::flat_hash_map<std::string, Grant> by_name_;
  absl::flat_hash_map<CertificateSubject, Grant> by_subject_;
};

// The policy in force, reloaded on SIGHUP with the rules. A reload that fails keeps the old one.
class Authorizer {
 public:
  explicit Authorizer(std::string path) : path_(std::move(path)) {}

  absl::Status Reload();
  const std::string& path() const { return path_; }
  size_t callers() const;

  // The check each deciding RPC makes first: OK, or PERMISSION_DENIED naming the caller and the
  // purpose (never anything of the request's contacts).
  grpc::Status Check(const grpc::ServerContextBase& context, std::string_view purpose) const;

 private:
  const std::string path_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const AuthzPolicy> policy_ ABSL_GUARDED_BY(mu_);
};

// Authorizer::Check, where no --authz_file (a null authorizer) admits every caller the transport
// admitted.
inline grpc::Status Authorize(const Authorizer* authorizer, const grpc::ServerContextBase& context,
                              std::string_view purpose) {
  return authorizer == nullptr ? grpc::Status::OK : authorizer->Check(context, purpose);
}

}  // namespace lawful::server
