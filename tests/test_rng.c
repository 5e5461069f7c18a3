/* Tests for rng: reference values, determinism, stream independence and draw distributions. */
#include "ticketfarm/rng.h"

#include <stdint.h>

#include "test.h"

#define DRAWS 1000000

/* The generator is the published xoshiro256** (reference vector for state {1, 2, 3, 4}). */
static void test_rng_next_matches_xoshiro256starstar_reference(void) {
  tf_rng_t rng = {{1, 2, 3, 4}};
  ASSERT(tf_rng_next(&rng) == 11520u);
  ASSERT(tf_rng_next(&rng) == 0u);
  ASSERT(tf_rng_next(&rng) == 1509978240u);
  ASSERT(tf_rng_next(&rng) == 1215971899390074240u);
}

/* Seeding is part of the results' definition: these values come from an independent
 * implementation of the splitmix64 chain and must never change. */
static void test_rng_seed_is_stable_splitmix64_chain(void) {
  tf_rng_t rng;
  tf_rng_seed(&rng, 42, TF_STREAM_INIT, 0, 1);
  ASSERT(rng.s[0] == 0xa9098b7cf737695cu);
  ASSERT(rng.s[1] == 0xb46c3bebd52b78ebu);
  ASSERT(rng.s[2] == 0x1bbd09a914ec67cdu);
  ASSERT(rng.s[3] == 0x865d8c7347e9ddebu);
  ASSERT(tf_rng_next(&rng) == 0x83443a3c5220a9dbu);
  ASSERT(tf_rng_next(&rng) == 0x0c47f7d42269b999u);
  ASSERT(tf_rng_next(&rng) == 0x92bc583743e218c5u);
}

static void test_rng_same_tuple_gives_same_stream(void) {
  tf_rng_t a, b;
  tf_rng_seed(&a, 7, TF_STREAM_ORDER, 3, 11);
  tf_rng_seed(&b, 7, TF_STREAM_ORDER, 3, 11);
  for (int i = 0; i < 10000; i++) ASSERT(tf_rng_next(&a) == tf_rng_next(&b));
}

static void test_rng_state_is_never_all_zero(void) {
  for (uint64_t seed = 0; seed < 1000; seed++) {
    tf_rng_t rng;
    tf_rng_seed(&rng, seed, (tf_stream_t)0, 0, 0);
    ASSERT((rng.s[0] | rng.s[1] | rng.s[2] | rng.s[3]) != 0);
  }
}

/* Pearson correlation of the first n uniforms of two streams. */
static double stream_correlation(tf_rng_t a, tf_rng_t b, int n) {
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (int i = 0; i < n; i++) {
    double x = tf_rng_uniform(&a), y = tf_rng_uniform(&b);
    sa += x, sb += y, saa += x * x, sbb += y * y, sab += x * y;
  }
  double cov = sab / n - (sa / n) * (sb / n);
  double va = saa / n - (sa / n) * (sa / n), vb = sbb / n - (sb / n) * (sb / n);
  return cov / sqrt(va * vb);
}

/* Tuples differing in one word, or holding the same values in other positions, give
 * streams that share no values and are uncorrelated (|r| within 5 standard errors of 0). */
static void test_rng_different_tuples_give_uncorrelated_streams(void) {
  const uint64_t tuples[][4] = {
      {1, 3, 0, 0}, {2, 3, 0, 0}, {1, 4, 0, 0}, {1, 3, 1, 0}, {1, 3, 0, 1},
      {3, 1, 0, 0}, {0, 3, 1, 0}, {1, 3, 0, 2}, {0, 0, 0, 0}, {0, 0, 0, 1},
  };
  const int ntuples = (int)(sizeof tuples / sizeof tuples[0]);
  const int n = 100000;
  double tol = 5.0 / sqrt(n);
  for (int i = 0; i < ntuples; i++) {
    for (int j = i + 1; j < ntuples; j++) {
      tf_rng_t a, b;
      tf_rng_seed(&a, tuples[i][0], (tf_stream_t)tuples[i][1], tuples[i][2], tuples[i][3]);
      tf_rng_seed(&b, tuples[j][0], (tf_stream_t)tuples[j][1], tuples[j][2], tuples[j][3]);
      ASSERT(a.s[0] != b.s[0]);
      ASSERT_NEAR(stream_correlation(a, b, n), 0.0, tol);
      /* Half the bits of paired outputs agree, as for independent words. */
      long agree = 0;
      const int words = 2000;
      for (int k = 0; k < words; k++)
        agree += 64 - __builtin_popcountll(tf_rng_next(&a) ^ tf_rng_next(&b));
      ASSERT_NEAR((double)agree / (64.0 * words), 0.5, 5 * 0.5 / sqrt(64.0 * words));
    }
  }
}

static void test_rng_uniform_in_unit_interval_with_right_mean_and_variance(void) {
  tf_rng_t rng;
  tf_rng_seed(&rng, 1, TF_STREAM_INIT, 0, 0);
  double sum = 0, sum2 = 0, lo = 1, hi = 0;
  for (int i = 0; i < DRAWS; i++) {
    double u = tf_rng_uniform(&rng);
    ASSERT(u >= 0.0 && u < 1.0);
    /* 53 bits: every value is a multiple of 2^-53. */
    ASSERT(u * 0x1.0p53 == floor(u * 0x1.0p53));
    sum += u;
    sum2 += (u - 0.5) * (u - 0.5);
    if (u < lo) lo = u;
    if (u > hi) hi = u;
  }
  ASSERT_NEAR(sum / DRAWS, 0.5, 5 * sqrt(1.0 / 12 / DRAWS));
  /* Var((u - 1/2)^2) = 1/80 - 1/144 for U(0, 1). */
  ASSERT_NEAR(sum2 / DRAWS, 1.0 / 12, 5 * sqrt((1.0 / 80 - 1.0 / 144) / DRAWS));
  ASSERT(lo < 1e-4 && hi > 1 - 1e-4);
}

static void test_rng_normal_has_standard_moments(void) {
  tf_rng_t rng;
  tf_rng_seed(&rng, 2, TF_STREAM_INIT, 0, 0);
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
  long beyond3 = 0;
  for (int i = 0; i < DRAWS; i++) {
    double z = tf_rng_normal(&rng);
    ASSERT(isfinite(z));
    s1 += z, s2 += z * z, s3 += z * z * z, s4 += z * z * z * z;
    beyond3 += fabs(z) > 3;
  }
  /* Standard errors: Var(z) = 1, Var(z^2) = 2, Var(z^3) = 15, Var(z^4) = 105 - 9 = 96. */
  ASSERT_NEAR(s1 / DRAWS, 0.0, 5 * sqrt(1.0 / DRAWS));
  ASSERT_NEAR(s2 / DRAWS, 1.0, 5 * sqrt(2.0 / DRAWS));
  ASSERT_NEAR(s3 / DRAWS, 0.0, 5 * sqrt(15.0 / DRAWS));
  ASSERT_NEAR(s4 / DRAWS, 3.0, 5 * sqrt(96.0 / DRAWS));
  /* P(|z| > 3) = 0.0026998 */
  double p3 = 0.0026998;
  ASSERT_NEAR((double)beyond3 / DRAWS, p3, 5 * sqrt(p3 * (1 - p3) / DRAWS));
}

/* No hidden cache: a stream's k-th normal depends only on the stream, and each call uses
 * exactly two uniforms. */
static void test_rng_normal_uses_two_uniforms_per_call(void) {
  tf_rng_t a, b;
  tf_rng_seed(&a, 5, TF_STREAM_REINIT, 2, 1);
  tf_rng_seed(&b, 5, TF_STREAM_REINIT, 2, 1);
  for (int i = 0; i < 1000; i++) {
    double z = tf_rng_normal(&a);
    double u1 = tf_rng_uniform(&b), u2 = tf_rng_uniform(&b);
    double want = sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
    ASSERT_NEAR(z, want, 1e-12);
  }
  ASSERT(tf_rng_next(&a) == tf_rng_next(&b));
}

static void test_rng_below_stays_in_range_and_is_uniform(void) {
  tf_rng_t rng;
  tf_rng_seed(&rng, 3, TF_STREAM_MASK, 0, 0);
  for (int i = 0; i < 1000; i++) ASSERT(tf_rng_below(&rng, 1) == 0);
  const uint64_t ns[] = {2, 3, 7, 1000, 0x8000000000000001u, UINT64_MAX};
  for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
    for (int i = 0; i < 10000; i++) ASSERT(tf_rng_below(&rng, ns[k]) < ns[k]);

  enum { BINS = 10, N = 200000 };
  long count[BINS] = {0};
  for (int i = 0; i < N; i++) count[tf_rng_below(&rng, BINS)]++;
  double chi2 = 0, expect = (double)N / BINS;
  for (int b = 0; b < BINS; b++) chi2 += (count[b] - expect) * (count[b] - expect) / expect;
  ASSERT(chi2 < 33.7); /* chi-square, 9 degrees of freedom, p = 1e-4 */

  /* With n = 3 * 2^62 a biased modulo would put 1/2 of draws below 2^63 instead of 2/3. */
  uint64_t n = 3ull << 62;
  long low = 0;
  for (int i = 0; i < N; i++) low += tf_rng_below(&rng, n) < (1ull << 63);
  ASSERT_NEAR((double)low / N, 2.0 / 3, 5 * sqrt(2.0 / 9 / N));
}

static void test_rng_shuffle_is_a_deterministic_uniform_permutation(void) {
  enum { N = 1000 };
  int32_t a[N], b[N];
  for (int i = 0; i < N; i++) a[i] = b[i] = i;
  tf_rng_t ra, rb;
  tf_rng_seed(&ra, 9, TF_STREAM_SPLIT, 0, 0);
  tf_rng_seed(&rb, 9, TF_STREAM_SPLIT, 0, 0);
  tf_rng_shuffle(&ra, a, N);
  tf_rng_shuffle(&rb, b, N);
  int seen[N] = {0}, moved = 0;
  for (int i = 0; i < N; i++) {
    ASSERT_INT_EQ(a[i], b[i]);
    ASSERT(a[i] >= 0 && a[i] < N);
    seen[a[i]]++;
    moved += a[i] != i;
  }
  for (int i = 0; i < N; i++) ASSERT_INT_EQ(seen[i], 1);
  ASSERT(moved > N / 2);

  tf_rng_shuffle(&ra, a, 0);
  int32_t one = 5;
  tf_rng_shuffle(&ra, &one, 1);
  ASSERT_INT_EQ(one, 5);

  /* All 6 orders of 3 elements are equally likely. */
  enum { TRIALS = 60000 };
  long count[9] = {0};
  tf_rng_t rng;
  tf_rng_seed(&rng, 10, TF_STREAM_ORDER, 0, 0);
  for (int t = 0; t < TRIALS; t++) {
    int32_t p[3] = {0, 1, 2};
    tf_rng_shuffle(&rng, p, 3);
    count[p[0] * 3 + p[1]]++;
  }
  double expect = TRIALS / 6.0, chi2 = 0;
  int orders = 0;
  for (int k = 0; k < 9; k++) {
    if (k / 3 == k % 3) {
      ASSERT_INT_EQ(count[k], 0);
      continue;
    }
    orders++;
    chi2 += (count[k] - expect) * (count[k] - expect) / expect;
  }
  ASSERT_INT_EQ(orders, 6);
  ASSERT(chi2 < 25.7); /* chi-square, 5 degrees of freedom, p = 1e-4 */
}

int main(void) {
  RUN(test_rng_next_matches_xoshiro256starstar_reference);
  RUN(test_rng_seed_is_stable_splitmix64_chain);
  RUN(test_rng_same_tuple_gives_same_stream);
  RUN(test_rng_state_is_never_all_zero);
  RUN(test_rng_different_tuples_give_uncorrelated_streams);
  RUN(test_rng_uniform_in_unit_interval_with_right_mean_and_variance);
  RUN(test_rng_normal_has_standard_moments);
  RUN(test_rng_normal_uses_two_uniforms_per_call);
  RUN(test_rng_below_stays_in_range_and_is_uniform);
  RUN(test_rng_shuffle_is_a_deterministic_uniform_permutation);
  return 0;
}
