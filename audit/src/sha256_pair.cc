// Two SHA-256 compressions interleaved with the SHA extensions (see sha256_pair.h); the round
// structure is Intel's (the SHA extensions white paper), each step done for both blocks.
#include "sha256_pair.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include <cstdlib>

namespace lawful::audit::internal {

#if defined(__x86_64__)

bool Sha256PairSupported() {
  static const bool supported = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
    const bool ssse3 = (ecx & bit_SSSE3) != 0, sse41 = (ecx & bit_SSE4_1) != 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
    return ssse3 && sse41 && (ebx & bit_SHA) != 0;
  }();
  return supported;
}

namespace {

alignas(16) constexpr uint32_t kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define LAWFUL_SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

// h0..h7 as the rounds instruction takes them: ABEF and CDGH.
LAWFUL_SHA_TARGET inline void Load(const uint32_t* state, __m128i* abef, __m128i* cdgh) {
  const __m128i cdab =
      _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state)), 0xB1);
  const __m128i efgh =
      _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4)), 0x1B);
  *abef = _mm_alignr_epi8(cdab, efgh, 8);
  *cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
}

LAWFUL_SHA_TARGET inline void Store(__m128i abef, __m128i cdgh, uint32_t* state) {
  const __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  const __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), _mm_blend_epi16(feba, dchg, 0xF0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), _mm_alignr_epi8(dchg, feba, 8));
}

// Both blocks' rounds, from their first sixteen message words in a_w and b_w (four a slot).
LAWFUL_SHA_TARGET inline void Rounds(uint32_t* state_a, __m128i* a_w, uint32_t* state_b,
                                     __m128i* b_w) {
  __m128i a_abef, a_cdgh, b_abef, b_cdgh;
  Load(state_a, &a_abef, &a_cdgh);
  Load(state_b, &b_abef, &b_cdgh);
  const __m128i a_abef0 = a_abef, a_cdgh0 = a_cdgh, b_abef0 = b_abef, b_cdgh0 = b_cdgh;
  // The message schedule goes on in the four slots: slot g & 3 holds W[4g..4g+3].
  for (int g = 0; g < 16; ++g) {  // four rounds each
    const __m128i k = _mm_load_si128(reinterpret_cast<const __m128i*>(kRound + 4 * g));
    __m128i a_wk = _mm_add_epi32(a_w[g & 3], k);
    __m128i b_wk = _mm_add_epi32(b_w[g & 3], k);
    a_cdgh = _mm_sha256rnds2_epu32(a_cdgh, a_abef, a_wk);
    b_cdgh = _mm_sha256rnds2_epu32(b_cdgh, b_abef, b_wk);
    a_wk = _mm_shuffle_epi32(a_wk, 0x0E);
    b_wk = _mm_shuffle_epi32(b_wk, 0x0E);
    a_abef = _mm_sha256rnds2_epu32(a_abef, a_cdgh, a_wk);
    b_abef = _mm_sha256rnds2_epu32(b_abef, b_cdgh, b_wk);
    if (g < 12) {  // W[4(g+4)..]: from the four slots, into the one just used
      const __m128i a1 = a_w[(g + 1) & 3], a2 = a_w[(g + 2) & 3], a3 = a_w[(g + 3) & 3];
      const __m128i b1 = b_w[(g + 1) & 3], b2 = b_w[(g + 2) & 3], b3 = b_w[(g + 3) & 3];
      a_w[g & 3] = _mm_sha256msg2_epu32(
          _mm_add_epi32(_mm_sha256msg1_epu32(a_w[g & 3], a1), _mm_alignr_epi8(a3, a2, 4)), a3);
      b_w[g & 3] = _mm_sha256msg2_epu32(
          _mm_add_epi32(_mm_sha256msg1_epu32(b_w[g & 3], b1), _mm_alignr_epi8(b3, b2, 4)), b3);
    }
  }
  Store(_mm_add_epi32(a_abef, a_abef0), _mm_add_epi32(a_cdgh, a_cdgh0), state_a);
  Store(_mm_add_epi32(b_abef, b_abef0), _mm_add_epi32(b_cdgh, b_cdgh0), state_b);
}

}  // namespace

LAWFUL_SHA_TARGET void Sha256CompressPair(uint32_t state_a[8], const uint8_t* block_a,
                                          uint32_t state_b[8], const uint8_t* block_b) {
  const __m128i big_endian = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i a_w[4], b_w[4];
  for (int i = 0; i < 4; ++i) {
    a_w[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block_a + 16 * i)),
                              big_endian);
    b_w[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block_b + 16 * i)),
                              big_endian);
  }
  Rounds(state_a, a_w, state_b, b_w);
}

LAWFUL_SHA_TARGET void Sha256CompressPairWords(uint32_t state_a[8], const uint32_t* words_a,
                                               uint32_t state_b[8], const uint32_t* words_b) {
  __m128i a_w[4], b_w[4];
  for (int i = 0; i < 4; ++i) {
    a_w[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(words_a + 4 * i));
    b_w[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(words_b + 4 * i));
  }
  Rounds(state_a, a_w, state_b, b_w);
}

#undef LAWFUL_SHA_TARGET

#else  // not x86-64: never supported, never called

bool Sha256PairSupported() { return false; }

void Sha256CompressPair(uint32_t*, const uint8_t*, uint32_t*, const uint8_t*) { std::abort(); }
void Sha256CompressPairWords(uint32_t*, const uint32_t*, uint32_t*, const uint32_t*) {
  std::abort();
}

#endif

}  // namespace lawful::audit::internal
