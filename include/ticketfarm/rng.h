/* Deterministic random streams derived from (seed, purpose, round, index): never from the rank,
 * the task id or the schedule, so results are the same bits for any number of ranks. */
#ifndef TICKETFARM_RNG_H
#define TICKETFARM_RNG_H

#include <stddef.h>
#include <stdint.h>

/* What a stream is for. Values are part of the results' definition: never renumber. */
typedef enum {
  TF_STREAM_SPLIT = 1,  /* validation split: (seed) */
  TF_STREAM_ORDER = 2,  /* training order: (seed, epoch, round under data.order per_round);
                         * an instability analysis's second copy: (seed, epoch, round; copy 1) */
  TF_STREAM_INIT = 3,   /* initial weights: (seed, layer) */
  TF_STREAM_REINIT = 4, /* reinit / sign_reinit / sparse_reinit draws: (seed, round, layer;
                         * control_seed) */
  TF_STREAM_MASK = 5,   /* random_mask positions: (seed, round, layer; control_seed) */
  TF_STREAM_TRANSFER = 6, /* a transfer's output layer for another class count: (seed, 0,
                           * layer) */
} tf_stream_t;

/* xoshiro256** state. */
typedef struct tf_rng {
  uint64_t s[4];
} tf_rng_t;

/* Seeds rng for one stream; different argument tuples give independent streams. Rank-local. */
void tf_rng_seed(tf_rng_t *rng, uint64_t seed, tf_stream_t purpose, uint64_t round, uint64_t index);

/* tf_rng_seed with a fifth word, variant, absorbed only when it is not 0: variant 0 gives
 * tf_rng_seed's stream, so a word added to a stream's key keeps its old bits at 0. Rank-local. */
void tf_rng_seed_variant(tf_rng_t *rng, uint64_t seed, tf_stream_t purpose, uint64_t round,
                         uint64_t index, uint64_t variant);

uint64_t tf_rng_next(tf_rng_t *rng);

/* Uniform double in [0, 1) with 53 random bits. */
double tf_rng_uniform(tf_rng_t *rng);

/* Standard normal (Box-Muller on two uniforms; one value per call, no hidden cache, so a
 * stream's values do not depend on how calls interleave). */
double tf_rng_normal(tf_rng_t *rng);

/* Uniform integer in [0, n), unbiased (Lemire's method); n > 0. */
uint64_t tf_rng_below(tf_rng_t *rng, uint64_t n);

/* Fisher-Yates shuffle of a[0..n). */
void tf_rng_shuffle(tf_rng_t *rng, int32_t *a, size_t n);

#endif
