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

// An HMAC-SHA256 output, whole: what the key derivations use.
inline constexpr size_t kDigestBytes = 32;
using Digest = std::array<uint8_t, kDigestBytes>;
// What the log keeps of an HMAC-SHA256: its first 128 bits (RFC 2104 §5 truncation), for the
// chain's macs and the pseudonyms. Forging a line then takes 2^128 guesses, and two of a billion
// contacts share a pseudonym with odds of about 10^-21; the full 256 bits would add 64 hex digits
// to every line the disk writes and the chain hashes.
inline constexpr size_t kMacBytes = 16;
using Mac = std::array<uint8_t, kMacBytes>;

// HMAC-SHA256 (RFC 2104) under one key, with the SHA-256 states after the key's inner and outer
// pads computed once and copied by value for each message. OpenSSL 3.0's EVP interfaces allocate
// on every context copy or re-init, which cost more than the hashing itself for 10,000 records a
// batch; the low-level SHA256_* calls (deprecated in 3.0, built here with OPENSSL_API_COMPAT set
// to 1.1.1) run the same SHA-NI code without allocating. The result is checked against OpenSSL's
// HMAC() in the tests. Sign only reads the pad states, so threads may share one Hmac.
class Hmac {
 public:
  explicit Hmac(absl::string_view key);

  // HMAC(key, a || b).
  Digest Sign(absl::string_view a, absl::string_view b = {}) const;
  // Its first kMacBytes.
  Mac Tag(absl::string_view a, absl::string_view b = {}) const;
  // Tag(a) and Tag(b), the same bytes, computed side by side when both are short and the CPU can
  // (sha256_pair.h): a decision line's two pseudonyms.
  void TagPair(absl::string_view a, absl::string_view b, Mac* tag_a, Mac* tag_b) const;

  // The same in steps, for a message whose start is known before its end: Start(), Absorb() any
  // number of times, Finish() gives Tag() of everything absorbed.
  SHA256_CTX Start() const { return inner_; }
  static void Absorb(SHA256_CTX* state, absl::string_view data) {
    SHA256_Update(state, data.data(), data.size());
  }
  Mac Finish(SHA256_CTX* state) const;

 private:
  SHA256_CTX inner_;  // after absorbing key ^ ipad
  SHA256_CTX outer_;  // after absorbing key ^ opad
};

inline absl::string_view AsBytes(const Mac& mac) {
  return absl::string_view(reinterpret_cast<const char*>(mac.data()), mac.size());
}

// The chain's mac of a line: HMAC(chain key, the line's bytes before `,"mac":"` || previous
// mac). The previous mac comes last so that a line's bytes up to its seq, which come last too,
// can be absorbed before the line's place in the chain is known (Log::Format, outside the lock).
inline Mac ChainMac(const Hmac& chain, const Mac& prev, absl::string_view body) {
  return chain.Tag(body, AsBytes(prev));
}

// The pseudonym of an identifier a caller chose, a contact id or an evidence record id:
// HMAC(pseudonym key, id). The one function for both, so that equal ids give equal pseudonyms.
inline Mac PseudonymOf(const Hmac& pseudonym, absl::string_view id) { return pseudonym.Tag(id); }
// PseudonymOf(a) and PseudonymOf(b) at once.
inline void PseudonymsOf(const Hmac& pseudonym, absl::string_view a, absl::string_view b, Mac* of_a,
                         Mac* of_b) {
  pseudonym.TagPair(a, b, of_a, of_b);
}
// As the log writes it: unpadded base64url (RFC 4648 §5), 22 characters rather than hex's 32,
// since every byte of a line is written, synced and hashed by the chain. It only has to match
// itself: `Find` computes it from the id.
inline constexpr size_t kPseudonymChars = (4 * kMacBytes + 2) / 3;
std::string PseudonymText(const Mac& pseudonym);
// The same at `out`; returns the end.
char* WritePseudonym(const Mac& pseudonym, char* out);

// Lower-case hex: 2 * size digits at `out`; returns their end.
char* WriteHex(const uint8_t* data, size_t size, char* out);
void AppendHex(const uint8_t* data, size_t size, std::string* out);
template <size_t N>
std::string Hex(const std::array<uint8_t, N>& bytes) {
  std::string out;
  AppendHex(bytes.data(), bytes.size(), &out);
  return out;
}
// Lower- or upper-case hex of exactly 2 * kMacBytes digits.
std::optional<Mac> ParseMacHex(absl::string_view hex);

struct KeyAccess {
  static const std::string& chain_key(const Key& key) { return key.chain_key_; }
  static const std::string& pseudonym_key(const Key& key) { return key.pseudonym_key_; }
};

}  // namespace lawful::audit::internal
