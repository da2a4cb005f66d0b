// HMAC-SHA256 on OpenSSL's low-level SHA-256 (Hmac), hex and base64url, and the key file:
// parsing, checks and key derivation.
#include "crypto.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sha256_pair.h"

namespace lawful::audit {
namespace internal {
Hmac::Hmac(absl::string_view key) {
  constexpr size_t kBlock = SHA256_CBLOCK;  // 64
  uint8_t block[kBlock] = {};
  if (key.size() > kBlock) {
    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), block);
  } else {
    std::memcpy(block, key.data(), key.size());
  }
  uint8_t pad[kBlock];
  for (size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x36;
  SHA256_Init(&inner_);
  SHA256_Update(&inner_, pad, kBlock);
  for (size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x5c;
  SHA256_Init(&outer_);
  SHA256_Update(&outer_, pad, kBlock);
  OPENSSL_cleanse(block, sizeof block);
  OPENSSL_cleanse(pad, sizeof pad);
}

Digest Hmac::Sign(absl::string_view a, absl::string_view b) const {
  SHA256_CTX ctx = inner_;
  SHA256_Update(&ctx, a.data(), a.size());
  SHA256_Update(&ctx, b.data(), b.size());
  Digest inner_digest;
  SHA256_Final(inner_digest.data(), &ctx);
  ctx = outer_;
  SHA256_Update(&ctx, inner_digest.data(), inner_digest.size());
  Digest out;
  SHA256_Final(out.data(), &ctx);
  return out;
}

namespace {

// The last SHA-256 block of a message whose first 64 bytes (a key pad) are already absorbed and
// whose other `size` bytes (at most kMaxTail, so that they fit one block with the padding) are
// at `tail`: built here and hashed with SHA256_Transform (or two at once, Sha256CompressPair),
// as SHA256_Update and SHA256_Final would, without their buffering, cleansing and loops.
constexpr size_t kMaxTail = SHA256_CBLOCK - 1 - 8;  // 0x80, then the 64-bit length
void LastBlock(const uint8_t* tail, size_t size, uint8_t block[SHA256_CBLOCK]) {
  std::memset(block, 0, SHA256_CBLOCK);
  if (size > 0) std::memcpy(block, tail, size);
  block[size] = 0x80;
  const uint64_t bits = __builtin_bswap64((SHA256_CBLOCK + uint64_t{size}) * 8);  // big-endian
  std::memcpy(block + SHA256_CBLOCK - 8, &bits, 8);
}

// The first `words` words of a SHA-256 state as digest bytes (big-endian).
void DigestBytes(const uint32_t* h, size_t words, uint8_t* out) {
  for (size_t i = 0; i < words; ++i) {
    const uint32_t word = __builtin_bswap32(h[i]);
    std::memcpy(out + 4 * i, &word, 4);
  }
}

// An HMAC's outer block as message words: the inner hash (its state words), then the padding
// of a 64 + 32 byte message.
void OuterWords(const uint32_t inner[8], uint32_t words[16]) {
  std::memcpy(words, inner, 8 * sizeof(uint32_t));
  words[8] = 0x80000000;
  for (size_t i = 9; i < 15; ++i) words[i] = 0;
  words[15] = (SHA256_CBLOCK + kDigestBytes) * 8;
}

// SHA-256 of the pad `state` absorbed and `size` more bytes at `tail`; its first `words` words to
// `out`.
void FinishAfterPad(SHA256_CTX* state, const uint8_t* tail, size_t size, uint8_t* out,
                    size_t words) {
  uint8_t block[SHA256_CBLOCK];
  LastBlock(tail, size, block);
  SHA256_Transform(state, block);
  DigestBytes(state->h, words, out);
}

}  // namespace

Mac Hmac::Tag(absl::string_view a, absl::string_view b) const {
  if (a.size() + b.size() <= kMaxTail) {
    // A short message (a pseudonym's id): one block for the inner hash, one for the outer.
    uint8_t message[kMaxTail];
    if (!a.empty()) std::memcpy(message, a.data(), a.size());
    if (!b.empty()) std::memcpy(message + a.size(), b.data(), b.size());
    SHA256_CTX inner = inner_;
    Digest inner_digest;
    FinishAfterPad(&inner, message, a.size() + b.size(), inner_digest.data(), 8);
    SHA256_CTX outer = outer_;
    Mac out;
    FinishAfterPad(&outer, inner_digest.data(), inner_digest.size(), out.data(), kMacBytes / 4);
    return out;
  }
  SHA256_CTX state = Start();
  Absorb(&state, a);
  Absorb(&state, b);
  return Finish(&state);
}

void Hmac::TagPair(absl::string_view a, absl::string_view b, Mac* tag_a, Mac* tag_b) const {
  if (a.size() > kMaxTail || b.size() > kMaxTail || !Sha256PairSupported()) {
    *tag_a = Tag(a);
    *tag_b = Tag(b);
    return;
  }
  uint8_t block_a[SHA256_CBLOCK], block_b[SHA256_CBLOCK];
  LastBlock(reinterpret_cast<const uint8_t*>(a.data()), a.size(), block_a);
  LastBlock(reinterpret_cast<const uint8_t*>(b.data()), b.size(), block_b);
  uint32_t state_a[8], state_b[8];
  std::memcpy(state_a, inner_.h, sizeof state_a);
  std::memcpy(state_b, inner_.h, sizeof state_b);
  Sha256CompressPair(state_a, block_a, state_b, block_b);
  uint32_t words_a[16], words_b[16];
  OuterWords(state_a, words_a);
  OuterWords(state_b, words_b);
  std::memcpy(state_a, outer_.h, sizeof state_a);
  std::memcpy(state_b, outer_.h, sizeof state_b);
  Sha256CompressPairWords(state_a, words_a, state_b, words_b);
  DigestBytes(state_a, kMacBytes / 4, tag_a->data());
  DigestBytes(state_b, kMacBytes / 4, tag_b->data());
}

Mac Hmac::Finish(SHA256_CTX* state) const {
  // SHA256_Final's padding, on the bytes SHA256_Update left in the state's buffer, without its
  // cleansing of that buffer (the chain's lines are not secret).
  uint8_t* const buffer = reinterpret_cast<uint8_t*>(state->data);
  size_t used = state->num;
  buffer[used++] = 0x80;
  if (used > SHA256_CBLOCK - 8) {
    std::memset(buffer + used, 0, SHA256_CBLOCK - used);
    SHA256_Transform(state, buffer);
    used = 0;
  }
  std::memset(buffer + used, 0, SHA256_CBLOCK - 8 - used);
  const uint64_t bits = __builtin_bswap64((uint64_t{state->Nh} << 32) | state->Nl);
  std::memcpy(buffer + SHA256_CBLOCK - 8, &bits, 8);
  SHA256_Transform(state, buffer);
  Digest inner_digest;
  DigestBytes(state->h, 8, inner_digest.data());
  SHA256_CTX outer = outer_;
  Mac out;
  FinishAfterPad(&outer, inner_digest.data(), inner_digest.size(), out.data(), kMacBytes / 4);
  return out;
}

char* WriteHex(const uint8_t* data, size_t size, char* out) {
  static constexpr std::array<char, 512> kPairs = [] {
    constexpr char kDigits[] = "0123456789abcdef";
    std::array<char, 512> pairs{};
    for (int i = 0; i < 256; ++i) {
      pairs[2 * i] = kDigits[i >> 4];
      pairs[2 * i + 1] = kDigits[i & 0xf];
    }
    return pairs;
  }();
  for (size_t i = 0; i < size; ++i) std::memcpy(out + 2 * i, &kPairs[2 * data[i]], 2);
  return out + 2 * size;
}

char* WritePseudonym(const Mac& pseudonym, char* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  static_assert(kMacBytes % 3 == 1, "16 bytes: five groups of three, then one byte");
  const uint8_t* data = pseudonym.data();
  for (size_t i = 0; i + 3 <= kMacBytes; i += 3) {
    const uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    *out++ = kAlphabet[v >> 18];
    *out++ = kAlphabet[(v >> 12) & 63];
    *out++ = kAlphabet[(v >> 6) & 63];
    *out++ = kAlphabet[v & 63];
  }
  const uint8_t last = data[kMacBytes - 1];  // two digits, no padding
  *out++ = kAlphabet[last >> 2];
  *out++ = kAlphabet[(last & 3) << 4];
  return out;
}

std::string PseudonymText(const Mac& pseudonym) {
  std::string out(kPseudonymChars, '\0');
  WritePseudonym(pseudonym, out.data());
  return out;
}

void AppendHex(const uint8_t* data, size_t size, std::string* out) {
  const size_t start = out->size();
  out->resize(start + 2 * size);
  WriteHex(data, size, out->data() + start);
}

std::optional<Mac> ParseMacHex(absl::string_view hex) {
  if (hex.size() != 2 * kMacBytes) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Mac mac;
  for (size_t i = 0; i < kMacBytes; ++i) {
    const int high = digit(hex[2 * i]);
    const int low = digit(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    mac[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return mac;
}

}  // namespace internal

namespace {

constexpr size_t kMinKeyBytes = 32;

bool IsHex(absl::string_view text) {
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return !text.empty();
}

std::string Derive(absl::string_view master, absl::string_view label) {
  const internal::Digest mac = internal::Hmac(master).Sign(label);
  return std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
}

}  // namespace

absl::StatusOr<Key> Key::FromKeyFile(absl::string_view contents, absl::string_view source) {
  absl::string_view text = contents;
  if (absl::EndsWith(text, "\r\n")) {
    text.remove_suffix(2);
  } else if (absl::EndsWith(text, "\n")) {
    text.remove_suffix(1);
  }
  std::string master;
  if (contents.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit key file ", source, " is empty; it needs at least ", kMinKeyBytes,
                     " random bytes (e.g. `head -c 32 /dev/urandom > ", source, "`)"));
  }
  if (IsHex(text) && text.size() % 2 == 0) {
    if (text.size() < 2 * kMinKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("audit key file ", source, " holds ", text.size(), " hex digits (",
                       text.size() / 2, " bytes); an audit key needs at least ", kMinKeyBytes,
                       " bytes (", 2 * kMinKeyBytes, " hex digits)"));
    }
    master = absl::HexStringToBytes(text);
  } else {
    if (contents.size() < kMinKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("audit key file ", source, " holds ", contents.size(),
                       " bytes; an audit key needs at least ", kMinKeyBytes,
                       " random bytes (e.g. `head -c 32 /dev/urandom > ", source, "`)"));
    }
    master = std::string(contents);
  }
  Key key;
  key.chain_key_ = Derive(master, "lawful audit chain v1");
  key.pseudonym_key_ = Derive(master, "lawful audit pseudonym v1");
  key.id_ = internal::Hex(internal::Hmac(master).Sign("lawful audit key id v1")).substr(0, 16);
  return key;
}

std::string Key::Pseudonym(absl::string_view id) const {
  return internal::PseudonymText(internal::PseudonymOf(internal::Hmac(pseudonym_key_), id));
}

absl::StatusOr<Key> LoadKey(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read audit key file ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read audit key file ", path));
  return Key::FromKeyFile(contents.str(), path);
}

}  // namespace lawful::audit
