// HMAC-SHA256 with a reusable OpenSSL context, hex, and access to the derived keys: the pieces
// the writer and the verifier share.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include <openssl/sha.h>

#include "absl/strings/string_view.h"
#include "lawful/audit.h"

namespace lawful::audit::internal {

inline constexpr size_t kMacBytes = 32;
using Mac = std::array<uint8_t, kMacBytes>;

// HMAC-SHA256 (RFC 2104) under one key, with the SHA-256 states after the key's inner and outer
// pads computed once and copied by value for each message. OpenSSL 3.0's EVP interfaces allocate
// on every context copy or re-init, which cost more than the hashing itself for 10,000 records a
// batch; the low-level SHA256_* calls (deprecated in 3.0, built here with OPENSSL_API_COMPAT set
// to 1.1.1) run the same SHA-NI code without allocating. The result is checked against OpenSSL's
// HMAC() in the tests.
class Hmac {
 public:
  explicit Hmac(absl::string_view key);

  // HMAC(key, a || b).
  Mac Sign(absl::string_view a, absl::string_view b = {}) const;

 private:
  SHA256_CTX inner_;  // after absorbing key ^ ipad
  SHA256_CTX outer_;  // after absorbing key ^ opad
};

// The chain's mac of a line: HMAC(chain key, previous mac || the line's bytes before `,"mac":"`).
inline Mac ChainMac(Hmac& chain, const Mac& prev, absl::string_view body) {
  return chain.Sign(absl::string_view(reinterpret_cast<const char*>(prev.data()), prev.size()),
                    body);
}

void AppendHex(const uint8_t* data, size_t size, std::string* out);
inline std::string Hex(const Mac& mac) {
  std::string out;
  AppendHex(mac.data(), mac.size(), &out);
  return out;
}
// Lower- or upper-case hex of exactly 2 * kMacBytes digits.
std::optional<Mac> ParseMacHex(absl::string_view hex);

struct KeyAccess {
  static const std::string& chain_key(const Key& key) { return key.chain_key_; }
  static const std::string& pseudonym_key(const Key& key) { return key.pseudonym_key_; }
};

}  // namespace lawful::audit::internal
