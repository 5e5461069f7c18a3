/* Tests of pruning: Frankle's LeNet-300-100 counts, magnitude order and tie rule, global scope,
 * biases untouched, pruned stays pruned, prune counts, random masks, and numpy-order packing. */
#include "ticketfarm/prune.h"

#include <stdint.h>

#include "test.h"

static uint64_t rand_state = 0xa4093822299f31d0ull;

static double urand(void) { return tf_test_urand(&rand_state); }

static void create_lenet(tf_net_t *net) {
  int hidden[2] = {300, 100};
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_net_create(net, 784, hidden, 2, 10, 1, &err), 0);
}

/* A 3-2-2 net: layer 0 has 6 weights, layer 1 has 4. */
static void create_tiny(tf_net_t *net) {
  int hidden[1] = {2};
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_net_create(net, 3, hidden, 1, 2, 1, &err), 0);
}

static size_t layer_weights(const tf_net_t *net, int l) {
  return (size_t)net->sizes[l] * (size_t)net->sizes[l + 1];
}

/* Glorot-scaled weights for survivors, 5.0 (larger than any survivor) at pruned positions so a
 * prune that looked at them would show, and zero biases (smaller than any weight). */
static void fresh_weights(const tf_net_t *net, float *w, const float *mask) {
  for (int l = 0; l < net->n_layers; l++) {
    double a = sqrt(6.0 / (net->sizes[l] + net->sizes[l + 1]));
    for (size_t i = 0; i < layer_weights(net, l); i++) {
      size_t k = net->w_off[l] + i;
      w[k] = mask[k] != 0.0f ? (float)(a * (2.0 * urand() - 1.0)) : 5.0f;
    }
    for (int j = 0; j < net->sizes[l + 1]; j++) w[net->b_off[l] + (size_t)j] = 0.0f;
  }
}

/* Checks one pruning step from old to mask: nothing revived, biases kept, and in each group
 * (a layer, or the whole net when global) every newly pruned |w| <= every kept |w|. Returns the
 * number of weights newly pruned. */
static long check_prune_step(const tf_net_t *net, const float *w, const float *old,
                             const float *mask, int global) {
  long pruned = 0;
  double max_pruned = 0.0, min_kept = INFINITY;
  for (int l = 0; l < net->n_layers; l++) {
    if (!global) {
      max_pruned = 0.0;
      min_kept = INFINITY;
    }
    for (size_t i = 0; i < layer_weights(net, l); i++) {
      size_t k = net->w_off[l] + i;
      ASSERT(mask[k] == 0.0f || mask[k] == 1.0f);
      if (old[k] == 0.0f) {
        ASSERT(mask[k] == 0.0f);
      } else if (mask[k] == 0.0f) {
        pruned++;
        max_pruned = fmax(max_pruned, fabsf(w[k]));
      } else {
        min_kept = fmin(min_kept, fabsf(w[k]));
      }
    }
    for (int j = 0; j < net->sizes[l + 1]; j++) ASSERT(mask[net->b_off[l] + (size_t)j] == 1.0f);
    if (!global) ASSERT(max_pruned <= min_kept);
  }
  if (global) ASSERT(max_pruned <= min_kept);
  return pruned;
}

static void test_prune_count_rounds_half_up_and_clamps(void) {
  ASSERT_INT_EQ(tf_prune_count(235200, 0.2), 47040);
  ASSERT_INT_EQ(tf_prune_count(188160, 0.2), 37632);
  ASSERT_INT_EQ(tf_prune_count(150528, 0.2), 30106); /* 30105.6 */
  ASSERT_INT_EQ(tf_prune_count(1000, 0.1), 100);
  ASSERT_INT_EQ(tf_prune_count(810, 0.1), 81);
  ASSERT_INT_EQ(tf_prune_count(25, 0.1), 3); /* 2.5 rounds up */
  ASSERT_INT_EQ(tf_prune_count(5, 0.5), 3);  /* 2.5 */
  ASSERT_INT_EQ(tf_prune_count(3, 0.5), 2);  /* 1.5 */
  ASSERT_INT_EQ(tf_prune_count(1, 0.5), 1);  /* 0.5 */
  ASSERT_INT_EQ(tf_prune_count(7, 0.1), 1);  /* 0.7 */
  ASSERT_INT_EQ(tf_prune_count(4, 0.1), 0);  /* 0.4 */
  ASSERT_INT_EQ(tf_prune_count(12345, 1.0), 12345);
  ASSERT_INT_EQ(tf_prune_count(12345, 1.5), 12345);
  ASSERT_INT_EQ(tf_prune_count(12345, 0.0), 0);
  ASSERT_INT_EQ(tf_prune_count(12345, -0.3), 0);
  ASSERT_INT_EQ(tf_prune_count(0, 0.2), 0);
  ASSERT_INT_EQ(tf_prune_count(12345, NAN), 0);
}

/* Frankle & Carbin's schedule: 20% of each hidden layer, 10% of the output layer per round. */
static void test_prune_layerwise_lenet_keeps_frankle_counts(void) {
  tf_net_t net;
  create_lenet(&net);
  float *w = malloc(net.n_params * sizeof *w);
  float *old = malloc(net.n_params * sizeof *old);
  float *mask = net.mask;
  tf_err_t err = {0};
  const long round1[3] = {188160, 24000, 900}, round2[3] = {150528, 19200, 810};
  const long round3[3] = {120422, 15360, 729};
  long expect[3] = {235200, 30000, 1000};
  for (int r = 1; r <= 7; r++) {
    memcpy(old, mask, net.n_params * sizeof *old);
    fresh_weights(&net, w, mask);
    long want_pruned = 0;
    for (int l = 0; l < 3; l++) {
      long c = tf_prune_count(expect[l], l == 2 ? 0.1 : 0.2);
      want_pruned += c;
      expect[l] -= c;
    }
    ASSERT_INT_EQ(tf_prune_magnitude(&net, w, mask, 0.2, 0.1, TF_SCOPE_LAYERWISE, 0, &err), 0);
    ASSERT_INT_EQ(check_prune_step(&net, w, old, mask, 0), want_pruned);
    long remaining[3];
    tf_prune_remaining(&net, mask, remaining);
    for (int l = 0; l < 3; l++) {
      ASSERT_INT_EQ(remaining[l], expect[l]);
      if (r == 1) ASSERT_INT_EQ(remaining[l], round1[l]);
      if (r == 2) ASSERT_INT_EQ(remaining[l], round2[l]);
      if (r == 3) ASSERT_INT_EQ(remaining[l], round3[l]);
    }
  }
  free(w);
  free(old);
  tf_net_free(&net);
}

/* Equal magnitudes: layerwise pruning takes the lower indices; global pruning takes the lower
 * layer first, then the lower index, and ignores already-pruned weights however small. */
static void test_prune_ties_go_to_lower_layer_then_lower_index(void) {
  tf_net_t net;
  create_tiny(&net);
  tf_err_t err = {0};
  float *w = calloc(net.n_params, sizeof *w);
  const float l0_equal[6] = {0.5f, -0.5f, 0.5f, -0.5f, 0.5f, 0.5f};
  const float l1_equal[4] = {0.25f, -0.25f, 0.25f, 0.25f};
  memcpy(w + net.w_off[0], l0_equal, sizeof l0_equal);
  memcpy(w + net.w_off[1], l1_equal, sizeof l1_equal);
  ASSERT_INT_EQ(tf_prune_magnitude(&net, w, net.mask, 0.5, 0.5, TF_SCOPE_LAYERWISE, 0, &err), 0);
  const float want_l0[6] = {0, 0, 0, 1, 1, 1}, want_l1[4] = {0, 0, 1, 1};
  ASSERT(memcmp(net.mask + net.w_off[0], want_l0, sizeof want_l0) == 0);
  ASSERT(memcmp(net.mask + net.w_off[1], want_l1, sizeof want_l1) == 0);

  for (size_t i = 0; i < net.n_params; i++) net.mask[i] = 1.0f;
  const float l0_mixed[6] = {0.5f, -0.1f, 0.3f, 0.1f, 0.9f, 0.1f};
  const float l1_mixed[4] = {0.1f, -0.2f, 0.1f, 0.7f};
  memcpy(w + net.w_off[0], l0_mixed, sizeof l0_mixed);
  memcpy(w + net.w_off[1], l1_mixed, sizeof l1_mixed);
  /* 4 of 10: five weights share |w| = 0.1; the one at layer 1, index 2 survives. */
  ASSERT_INT_EQ(tf_prune_magnitude(&net, w, net.mask, 0.4, 0.9, TF_SCOPE_GLOBAL, 0, &err), 0);
  const float want_g0[6] = {1, 0, 1, 0, 1, 0}, want_g1[4] = {0, 1, 1, 1};
  ASSERT(memcmp(net.mask + net.w_off[0], want_g0, sizeof want_g0) == 0);
  ASSERT(memcmp(net.mask + net.w_off[1], want_g1, sizeof want_g1) == 0);

  /* 6 remain; round(0.5 * 6) = 3: |w| 0.1 (layer 1), 0.2, 0.3 go; the pruned zeros are not
   * candidates. */
  for (size_t i = 0; i < net.n_params; i++) w[i] = net.mask[i] != 0.0f ? w[i] : 0.0f;
  ASSERT_INT_EQ(tf_prune_magnitude(&net, w, net.mask, 0.5, 0.9, TF_SCOPE_GLOBAL, 0, &err), 0);
  const float want_h0[6] = {1, 0, 0, 0, 1, 0}, want_h1[4] = {0, 0, 0, 1};
  ASSERT(memcmp(net.mask + net.w_off[0], want_h0, sizeof want_h0) == 0);
  ASSERT(memcmp(net.mask + net.w_off[1], want_h1, sizeof want_h1) == 0);
  for (int l = 0; l < 2; l++)
    for (int j = 0; j < net.sizes[l + 1]; j++) ASSERT(net.mask[net.b_off[l] + (size_t)j] == 1.0f);
  free(w);
  tf_net_free(&net);
}

/* Global scope removes round(rate * all remaining) and keeps one magnitude order across layers:
 * layers with a larger Glorot scale lose less than the rate, the largest layer more. */
static void test_prune_global_lenet_keeps_global_order(void) {
  tf_net_t net;
  create_lenet(&net);
  float *w = malloc(net.n_params * sizeof *w);
  float *old = malloc(net.n_params * sizeof *old);
  tf_err_t err = {0};
  long total = 266200;
  for (int r = 1; r <= 3; r++) {
    memcpy(old, net.mask, net.n_params * sizeof *old);
    fresh_weights(&net, w, net.mask);
    long c = tf_prune_count(total, 0.2);
    ASSERT_INT_EQ(tf_prune_magnitude(&net, w, net.mask, 0.2, 0.1, TF_SCOPE_GLOBAL, 0, &err), 0);
    ASSERT_INT_EQ(check_prune_step(&net, w, old, net.mask, 1), c);
    total -= c;
    long remaining[3];
    tf_prune_remaining(&net, net.mask, remaining);
    ASSERT_INT_EQ(remaining[0] + remaining[1] + remaining[2], total);
    if (r == 1) {
      ASSERT_INT_EQ(total, 212960);
      ASSERT(remaining[0] < 188160);
      ASSERT(remaining[1] > 25000);
      ASSERT(remaining[2] > 900);
    }
  }
  free(w);
  free(old);
  tf_net_free(&net);
}

/* keep[l] positions per layer, all entries 0 or 1, biases 1; the same (seed, round) gives the
 * same mask, another round or seed another; every position is drawn about equally often. */
static void test_prune_random_mask_keeps_counts_and_is_deterministic(void) {
  tf_net_t net;
  create_lenet(&net);
  tf_err_t err = {0};
  float *a = malloc(net.n_params * sizeof *a);
  float *b = malloc(net.n_params * sizeof *b);
  const long keep[3] = {188160, 24000, 900};
  for (size_t i = 0; i < net.n_params; i++) a[i] = b[i] = 0.5f;
  ASSERT_INT_EQ(tf_prune_random(&net, a, keep, 42, 1, 0, &err), 0);
  long remaining[3];
  tf_prune_remaining(&net, a, remaining);
  for (int l = 0; l < 3; l++) ASSERT_INT_EQ(remaining[l], keep[l]);
  for (int l = 0; l < 3; l++) {
    for (size_t i = 0; i < layer_weights(&net, l); i++)
      ASSERT(a[net.w_off[l] + i] == 0.0f || a[net.w_off[l] + i] == 1.0f);
    for (int j = 0; j < net.sizes[l + 1]; j++) ASSERT(a[net.b_off[l] + (size_t)j] == 1.0f);
  }
  ASSERT_INT_EQ(tf_prune_random(&net, b, keep, 42, 1, 0, &err), 0);
  ASSERT(memcmp(a, b, net.n_params * sizeof *a) == 0);
  ASSERT_INT_EQ(tf_prune_random(&net, b, keep, 42, 2, 0, &err), 0);
  for (int l = 0; l < 3; l++) {
    size_t o = net.w_off[l], n = layer_weights(&net, l);
    ASSERT(memcmp(a + o, b + o, n * sizeof *a) != 0);
  }
  ASSERT_INT_EQ(tf_prune_random(&net, b, keep, 43, 1, 0, &err), 0);
  ASSERT(memcmp(a, b, net.n_params * sizeof *a) != 0);

  const long too_many[3] = {235201, 0, 0};
  ASSERT_INT_EQ(tf_prune_random(&net, b, too_many, 42, 1, 0, &err), TF_EINPUT);
  free(a);
  free(b);
  tf_net_free(&net);

  /* Layer 0 of the tiny net: 6 positions, keep 2, over 3000 rounds each position is kept with
   * probability 1/3 (1000 expected, sd 26); keep 0 and keep all for layer 1. */
  create_tiny(&net);
  const long small_keep[2] = {2, 4};
  int hits[6] = {0};
  for (int r = 0; r < 3000; r++) {
    ASSERT_INT_EQ(tf_prune_random(&net, net.mask, small_keep, 7, r, 0, &err), 0);
    for (int i = 0; i < 6; i++) hits[i] += net.mask[net.w_off[0] + (size_t)i] == 1.0f;
    for (int i = 0; i < 4; i++) ASSERT(net.mask[net.w_off[1] + (size_t)i] == 1.0f);
  }
  for (int i = 0; i < 6; i++) ASSERT(hits[i] > 1000 - 150 && hits[i] < 1000 + 150);
  const long none[2] = {0, 0};
  ASSERT_INT_EQ(tf_prune_random(&net, net.mask, none, 7, 0, 0, &err), 0);
  for (size_t i = 0; i < net.n_params; i++) ASSERT(net.mask[i] == (i == 6 || i == 7 || i >= 12));
  tf_net_free(&net);
}

/* Bit j of the packed mask is bit 7 - j % 8 of byte j / 8 (numpy.packbits), layers in order. */
static void test_prune_pack_uses_numpy_bit_order(void) {
  tf_net_t net;
  create_lenet(&net);
  ASSERT_INT_EQ(tf_prune_packed_size(&net), 33275);
  uint8_t *bits = malloc(33275);
  float *back = malloc(net.n_params * sizeof *back);
  net.mask[net.w_off[0] + 0] = 0.0f;       /* weight 0 */
  net.mask[net.w_off[0] + 9] = 0.0f;       /* weight 9: byte 1, bit 6 */
  net.mask[net.w_off[1] + 0] = 0.0f;       /* weight 235200: byte 29400, bit 7 */
  net.mask[net.w_off[2] + 999] = 0.0f;     /* weight 266199: byte 33274, bit 0 */
  net.mask[net.b_off[0] + 3] = 0.0f;       /* biases are not packed */
  tf_prune_pack(&net, net.mask, bits);
  for (size_t i = 0; i < 33275; i++) {
    uint8_t want = i == 0 ? 0x7F : i == 1 ? 0xBF : i == 29400 ? 0x7F : i == 33274 ? 0xFE : 0xFF;
    ASSERT_INT_EQ(bits[i], want);
  }
  for (size_t i = 0; i < net.n_params; i++) back[i] = 0.5f;
  tf_prune_unpack(&net, bits, back);
  net.mask[net.b_off[0] + 3] = 1.0f;
  ASSERT(memcmp(back, net.mask, net.n_params * sizeof *back) == 0);

  const long keep[3] = {100000, 12345, 77};
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_prune_random(&net, net.mask, keep, 9, 3, 0, &err), 0);
  tf_prune_pack(&net, net.mask, bits);
  tf_prune_unpack(&net, bits, back);
  ASSERT(memcmp(back, net.mask, net.n_params * sizeof *back) == 0);
  free(bits);
  free(back);
  tf_net_free(&net);

  /* 10 weights: two bytes, the last six bits padding. */
  create_tiny(&net);
  uint8_t two[2];
  ASSERT_INT_EQ(tf_prune_packed_size(&net), 2);
  tf_prune_pack(&net, net.mask, two);
  ASSERT_INT_EQ(two[0], 0xFF);
  ASSERT_INT_EQ(two[1], 0xC0);
  for (size_t i = 0; i < net.n_params; i++) net.mask[i] = 0.0f;
  net.mask[net.w_off[1] + 2] = 1.0f; /* weight 8 */
  tf_prune_pack(&net, net.mask, two);
  ASSERT_INT_EQ(two[0], 0x00);
  ASSERT_INT_EQ(two[1], 0x80);
  tf_net_free(&net);
}

/* prune.exclude: an excluded layer keeps every weight under both scopes; layerwise the others
 * lose their exact counts, global removes round(rate * the others' remaining) among them only. */
static void test_prune_excluded_layer_keeps_every_weight_and_others_exact_counts(void) {
  tf_net_t net;
  create_lenet(&net);
  float *w = malloc(net.n_params * sizeof *w);
  float *old = malloc(net.n_params * sizeof *old);
  tf_err_t err = {0};
  long expect[3] = {235200, 30000, 1000};
  for (int r = 1; r <= 3; r++) {
    memcpy(old, net.mask, net.n_params * sizeof *old);
    fresh_weights(&net, w, net.mask);
    expect[0] -= tf_prune_count(expect[0], 0.2);
    expect[1] -= tf_prune_count(expect[1], 0.2);
    /* exclude the output layer (bit 2) */
    ASSERT_INT_EQ(tf_prune_magnitude(&net, w, net.mask, 0.2, 0.1, TF_SCOPE_LAYERWISE, 1u << 2,
                                     &err), 0);
    long remaining[3];
    tf_prune_remaining(&net, net.mask, remaining);
    for (int l = 0; l < 3; l++) ASSERT_INT_EQ(remaining[l], expect[l]);
    for (size_t i = 0; i < layer_weights(&net, 2); i++) ASSERT(net.mask[net.w_off[2] + i] == 1.0f);
  }
  for (size_t i = 0; i < net.n_params; i++) net.mask[i] = 1.0f;
  long others = 235200 + 1000;
  for (int r = 1; r <= 3; r++) {
    memcpy(old, net.mask, net.n_params * sizeof *old);
    fresh_weights(&net, w, net.mask);
    long c = tf_prune_count(others, 0.2);
    /* exclude the middle layer (bit 1) under global scope */
    ASSERT_INT_EQ(tf_prune_magnitude(&net, w, net.mask, 0.2, 0.1, TF_SCOPE_GLOBAL, 1u << 1, &err),
                  0);
    others -= c;
    long remaining[3];
    tf_prune_remaining(&net, net.mask, remaining);
    ASSERT_INT_EQ(remaining[1], 30000);
    ASSERT_INT_EQ(remaining[0] + remaining[2], others);
  }
  free(w);
  free(old);
  tf_net_free(&net);
}

/* A round never removes a layer's last weight: layerwise at rate 0.9 the output layer of the
 * tiny net goes 4 -> 1 (not 0) and stays at 1; global at 0.5 passes over layer 1's last weight
 * (the smallest) and prunes the next smallest elsewhere, keeping the count exact. */
static void test_prune_keeps_the_last_weight_of_every_layer(void) {
  tf_net_t net;
  create_tiny(&net);
  tf_err_t err = {0};
  float *w = calloc(net.n_params, sizeof *w);
  const float l0[6] = {0.6f, 0.7f, 0.8f, 0.9f, 1.0f, 1.1f};
  const float l1[4] = {0.1f, 0.2f, 0.3f, 0.4f};
  memcpy(w + net.w_off[0], l0, sizeof l0);
  memcpy(w + net.w_off[1], l1, sizeof l1);
  long remaining[2];
  for (int r = 0; r < 3; r++) {
    ASSERT_INT_EQ(tf_prune_magnitude(&net, w, net.mask, 0.9, 0.9, TF_SCOPE_LAYERWISE, 0, &err), 0);
    tf_prune_remaining(&net, net.mask, remaining);
    ASSERT_INT_EQ(remaining[0], 1);
    ASSERT_INT_EQ(remaining[1], 1);
    ASSERT(net.mask[net.w_off[0] + 5] == 1.0f && net.mask[net.w_off[1] + 3] == 1.0f);
  }
  /* global: 10 remain, round(0.7 * 10) = 7; the 4 of layer 1 are the smallest, its largest
   * (0.4) is passed over, so layer 0 loses 0.6, 0.7, 0.8, 0.9 */
  for (size_t i = 0; i < net.n_params; i++) net.mask[i] = 1.0f;
  ASSERT_INT_EQ(tf_prune_magnitude(&net, w, net.mask, 0.7, 0.9, TF_SCOPE_GLOBAL, 0, &err), 0);
  tf_prune_remaining(&net, net.mask, remaining);
  ASSERT_INT_EQ(remaining[0], 2);
  ASSERT_INT_EQ(remaining[1], 1);
  const float want0[6] = {0, 0, 0, 0, 1, 1}, want1[4] = {0, 0, 0, 1};
  ASSERT(memcmp(net.mask + net.w_off[0], want0, sizeof want0) == 0);
  ASSERT(memcmp(net.mask + net.w_off[1], want1, sizeof want1) == 0);
  free(w);
  tf_net_free(&net);
}

/* One (seed, round, variant) draws one permutation per layer: a smaller keep keeps a subset of
 * a larger keep's positions, which is how prune.random nested nests its masks; another variant
 * (control_seed) draws other positions, variant 0 the stream without it. */
static void test_prune_random_smaller_keep_is_a_subset_on_one_stream(void) {
  tf_net_t net;
  create_lenet(&net);
  tf_err_t err = {0};
  float *a = malloc(net.n_params * sizeof *a), *b = malloc(net.n_params * sizeof *b);
  long keep[3] = {235200, 30000, 1000};
  ASSERT_INT_EQ(tf_prune_random(&net, a, keep, 42, 1, 0, &err), 0);
  for (int r = 1; r <= 5; r++) {
    for (int l = 0; l < 3; l++) keep[l] -= tf_prune_count(keep[l], l == 2 ? 0.1 : 0.2);
    ASSERT_INT_EQ(tf_prune_random(&net, b, keep, 42, 1, 0, &err), 0);
    long remaining[3];
    tf_prune_remaining(&net, b, remaining);
    for (int l = 0; l < 3; l++) ASSERT_INT_EQ(remaining[l], keep[l]);
    for (size_t i = 0; i < net.n_params; i++) ASSERT(b[i] == 0.0f || a[i] == 1.0f);
    memcpy(a, b, net.n_params * sizeof *a);
  }
  ASSERT_INT_EQ(tf_prune_random(&net, b, keep, 42, 1, 3, &err), 0);
  ASSERT(memcmp(a, b, net.n_params * sizeof *a) != 0);
  free(a);
  free(b);
  tf_net_free(&net);
}

int main(void) {
  RUN(test_prune_count_rounds_half_up_and_clamps);
  RUN(test_prune_layerwise_lenet_keeps_frankle_counts);
  RUN(test_prune_ties_go_to_lower_layer_then_lower_index);
  RUN(test_prune_global_lenet_keeps_global_order);
  RUN(test_prune_random_mask_keeps_counts_and_is_deterministic);
  RUN(test_prune_pack_uses_numpy_bit_order);
  RUN(test_prune_excluded_layer_keeps_every_weight_and_others_exact_counts);
  RUN(test_prune_keeps_the_last_weight_of_every_layer);
  RUN(test_prune_random_smaller_keep_is_a_subset_on_one_stream);
  return 0;
}
