/* xoshiro256** streams keyed by (seed, purpose, round, index), and the draws built on them. */
#include "ticketfarm/rng.h"

#include <math.h>

#define TF_GOLDEN_GAMMA 0x9E3779B97F4A7C15u
#define TF_TWO_PI 6.283185307179586476925286766559

/* splitmix64: advances *x by the golden gamma and returns a bijective mix of the new value. */
static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += TF_GOLDEN_GAMMA);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void tf_rng_seed(tf_rng_t *rng, uint64_t seed, tf_stream_t purpose, uint64_t round,
                 uint64_t index) {
  tf_rng_seed_variant(rng, seed, purpose, round, index, 0);
}

void tf_rng_seed_variant(tf_rng_t *rng, uint64_t seed, tf_stream_t purpose, uint64_t round,
                         uint64_t index, uint64_t variant) {
  /* Each word is absorbed through a full splitmix64 step, so tuples that differ in any word
   * (or only in where a value sits) end in unrelated keys. */
  const uint64_t words[5] = {seed, (uint64_t)purpose, round, index, variant};
  const int n_words = variant != 0 ? 5 : 4;
  uint64_t key = 0;
  for (int i = 0; i < n_words; i++) {
    uint64_t x = key ^ words[i];
    key = splitmix64(&x);
  }
  /* Four consecutive splitmix64 outputs are distinct (the mix is a bijection of distinct
   * inputs), so at most one word is zero and the state is never all-zero. */
  for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&key);
}

uint64_t tf_rng_next(tf_rng_t *rng) {
  uint64_t *s = rng->s;
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double tf_rng_uniform(tf_rng_t *rng) { return (double)(tf_rng_next(rng) >> 11) * 0x1.0p-53; }

double tf_rng_normal(tf_rng_t *rng) {
  /* 1 - u lies in (0, 1], so the logarithm is always finite. */
  double u1 = tf_rng_uniform(rng);
  double u2 = tf_rng_uniform(rng);
  double r = sqrt(-2.0 * log(1.0 - u1));
  return r * cos(TF_TWO_PI * u2);
}

uint64_t tf_rng_below(tf_rng_t *rng, uint64_t n) {
  __extension__ typedef unsigned __int128 u128;
  u128 m = (u128)tf_rng_next(rng) * n;
  uint64_t low = (uint64_t)m;
  if (low < n) {
    /* Reject the 2^64 mod n low products that would make some results more likely. */
    uint64_t threshold = -n % n;
    while (low < threshold) {
      m = (u128)tf_rng_next(rng) * n;
      low = (uint64_t)m;
    }
  }
  return (uint64_t)(m >> 64);
}

void tf_rng_shuffle(tf_rng_t *rng, int32_t *a, size_t n) {
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)tf_rng_below(rng, i);
    int32_t t = a[i - 1];
    a[i - 1] = a[j];
    a[j] = t;
  }
}
