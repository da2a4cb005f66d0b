// Per-caller authorisation (lawfuld --authz_file): which purposes each caller, known by its client
// certificate, may ask about. The newsletter service may ask whether it may send the newsletter;
// it has no business learning who may be profiled.
//
// The file, one caller a line; blank lines and `#` comments are ignored:
//
//   # <certificate identity> : <purpose>, <purpose>, ...
//   newsletter.internal : newsletter, product_offer
//   CN=crm,O=Example AB : *
//
// A caller's identity is matched against its certificate's subject (as gRPC prints it, e.g.
// `CN=crm,O=Example AB`), its common name and each subject alternative name (DNS name, URI,
// e-mail address, IP address). The line splits at its last `:` (purposes never contain one, URIs
// and subjects may). `*` grants every purpose. A caller that matches several lines gets what any
// of them grants.
#pragma once

#include <memory>
#include <string>
#include <string_view>
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

// One parsed --authz_file.
class AuthzPolicy {
 public:
  // Parses the file's text; errors are `file_name:line: message`.
  static absl::StatusOr<AuthzPolicy> Parse(std::string_view text, std::string_view file_name);
  static absl::StatusOr<AuthzPolicy> Load(const std::string& path);

  // OK when the caller known by `identities` (its certificate's names, see above) may ask about
  // `purpose`; PERMISSION_DENIED naming the caller and the purpose otherwise. An empty purpose
  // checks only that the caller is listed (the request's own check then reports the missing
  // purpose).
  absl::Status Check(const std::vector<std::string>& identities, std::string_view purpose) const;

  size_t callers() const { return grants_.size(); }

 private:
  struct Grant {
    bool every_purpose = false;
    absl::flat_hash_set<std::string> purposes;
    int line = 0;
  };
  absl::flat_hash_map<std::string, Grant> grants_;  // by identity
};

// The names a caller's client certificate gives it, as gRPC's TLS handshake recorded them:
// subject, common name and subject alternative names, in that order; empty for a caller without
// a verified certificate (plaintext, or TLS without a client CA).
std::vector<std::string> PeerIdentities(const grpc::AuthContext& auth);

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
