// Two SHA-256 block compressions at once with the x86 SHA extensions: the two pseudonyms of a
// decision line (its contact's and its record's) hashed side by side, since one SHA-256 block is
// a chain of dependent rounds that leaves the SHA unit idle between them.
#pragma once

#include <cstdint>

namespace lawful::audit::internal {

// Whether this CPU has the instructions Sha256CompressPair needs (SHA, SSE4.1, SSSE3).
bool Sha256PairSupported();

// Compresses `block_a` (64 bytes) into `state_a` (SHA-256's eight words, h0..h7) and `block_b`
// into `state_b`, exactly as SHA256_Transform does each. Only when Sha256PairSupported().
void Sha256CompressPair(uint32_t state_a[8], const uint8_t* block_a, uint32_t state_b[8],
                        const uint8_t* block_b);
// The same for blocks given as SHA-256's sixteen message words (the block read big-endian), as
// an HMAC's outer block is most easily made: from the inner hash's state words.
void Sha256CompressPairWords(uint32_t state_a[8], const uint32_t* words_a, uint32_t state_b[8],
                             const uint32_t* words_b);

}  // namespace lawful::audit::internal
