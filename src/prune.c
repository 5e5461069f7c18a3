/* Magnitude pruning (layerwise or global), random masks with given per-layer counts, and
 * MSB-first bit-packing of masks. */
#include "ticketfarm/prune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ticketfarm/rng.h"

long tf_prune_count(long remaining, double rate) {
  if (remaining <= 0) return 0;
  double c = floor(rate * (double)remaining + 0.5);
  if (!(c > 0.0)) return 0; /* also a NaN rate */
  if (c >= (double)remaining) return remaining;
  return (long)c;
}

void tf_prune_remaining(const tf_net_t *net, const float *mask, long *remaining) {
  for (int l = 0; l < net->n_layers; l++) {
    const float *m = mask + net->w_off[l];
    size_t nw = tf_net_layer_weights(net, l);
    long r = 0;
    for (size_t i = 0; i < nw; i++) r += m[i] != 0.0f;
    remaining[l] = r;
  }
}

/* A candidate for pruning. mag is the bit pattern of |w|: for non-negative floats it orders as
 * the values do, and a NaN (above +Inf) sorts last, so the order is total. off is the position in
 * the parameter slab, which grows with (layer, index) and so breaks ties as documented. */
typedef struct prune_key {
  uint32_t mag;
  size_t off;
} prune_key_t;

static int key_cmp(const void *pa, const void *pb) {
  const prune_key_t *a = pa, *b = pb;
  if (a->mag != b->mag) return a->mag < b->mag ? -1 : 1;
  return (a->off > b->off) - (a->off < b->off);
}

static uint32_t magnitude_bits(float w) {
  float a = fabsf(w);
  uint32_t u;
  memcpy(&u, &a, sizeof u);
  return u;
}

/* Appends the unpruned weights of layer l to keys; returns the new count. */
static size_t collect_layer(const tf_net_t *net, const float *weights, const float *mask, int l,
                            prune_key_t *keys, size_t k) {
  size_t off = net->w_off[l];
  size_t nw = tf_net_layer_weights(net, l);
  for (size_t i = off; i < off + nw; i++) {
    if (mask[i] == 0.0f) continue;
    keys[k].mag = magnitude_bits(weights[i]);
    keys[k].off = i;
    k++;
  }
  return k;
}

/* The weight layer a slab offset among the weights belongs to. */
static int layer_of(const tf_net_t *net, size_t off) {
  int l = 0;
  while (l + 1 < net->n_layers && off >= net->w_off[l + 1]) l++;
  return l;
}

/* Zeroes the mask at the n smallest keys, passing over a layer's last remaining weight
 * (remaining[], updated) so that no layer is emptied. */
static void prune_smallest(const tf_net_t *net, prune_key_t *keys, size_t nkeys, long n,
                           long *remaining, float *mask) {
  if (n <= 0) return;
  qsort(keys, nkeys, sizeof *keys, key_cmp);
  long pruned = 0;
  for (size_t i = 0; i < nkeys && pruned < n; i++) {
    int l = layer_of(net, keys[i].off);
    if (remaining[l] <= 1) continue;
    mask[keys[i].off] = 0.0f;
    remaining[l]--;
    pruned++;
  }
}

/* Global with rates == NULL: tf_prune_count(total remaining of the layers not excluded, rate) by
 * one threshold; otherwise layer l loses tf_prune_count(remaining_l, rates[l]). Layers whose bit
 * is set in `exclude` take no part. */
static int prune_by_magnitude(const tf_net_t *net, const float *weights, float *mask,
                              const double *rates, double rate, unsigned exclude,
                              tf_err_t *err) {
  long remaining[TF_MAX_LAYERS];
  tf_prune_remaining(net, mask, remaining);
  size_t cap = 0;
  long total = 0;
  for (int l = 0; l < net->n_layers; l++) {
    if ((exclude >> l) & 1u) continue;
    total += remaining[l];
    if (rates == NULL)
      cap += (size_t)remaining[l];
    else if ((size_t)remaining[l] > cap)
      cap = (size_t)remaining[l];
  }
  prune_key_t *keys = malloc((cap > 0 ? cap : 1) * sizeof *keys);
  if (keys == NULL)
    return tf_err_set(err, TF_ENOMEM, "prune: out of memory for %zu sort keys", cap);

  if (rates == NULL) {
    size_t k = 0;
    for (int l = 0; l < net->n_layers; l++)
      if (!((exclude >> l) & 1u)) k = collect_layer(net, weights, mask, l, keys, k);
    prune_smallest(net, keys, k, tf_prune_count(total, rate), remaining, mask);
  } else {
    for (int l = 0; l < net->n_layers; l++) {
      if ((exclude >> l) & 1u) continue;
      size_t k = collect_layer(net, weights, mask, l, keys, 0);
      prune_smallest(net, keys, k, tf_prune_count(remaining[l], rates[l]), remaining, mask);
    }
  }
  free(keys);
  return 0;
}

int tf_prune_magnitude(const tf_net_t *net, const float *weights, float *mask, double rate,
                       double output_rate, tf_prune_scope_t scope, unsigned exclude,
                       tf_err_t *err) {
  if (scope == TF_SCOPE_GLOBAL)
    return prune_by_magnitude(net, weights, mask, NULL, rate, exclude, err);
  double rates[TF_MAX_LAYERS];
  for (int l = 0; l < net->n_layers; l++) rates[l] = l == net->n_layers - 1 ? output_rate : rate;
  return prune_by_magnitude(net, weights, mask, rates, rate, exclude, err);
}

int tf_prune_magnitude_layers(const tf_net_t *net, const float *weights, float *mask,
                              const double *rates, unsigned exclude, tf_err_t *err) {
  return prune_by_magnitude(net, weights, mask, rates, 0.0, exclude, err);
}

void tf_prune_rates(const tf_net_t *net, double conv_rate, double rate, double output_rate,
                    double *rates) {
  for (int l = 0; l < net->n_layers; l++)
    rates[l] = l == net->n_layers - 1 ? output_rate : l < net->n_conv ? conv_rate : rate;
}

static void set_biases(const tf_net_t *net, float *mask) {
  for (int l = 0; l < net->n_layers; l++)
    for (int j = 0; j < net->rows[l]; j++) mask[net->b_off[l] + (size_t)j] = 1.0f;
}

int tf_prune_random(const tf_net_t *net, float *mask, const long *keep, uint64_t seed, int round,
                    uint64_t variant, tf_err_t *err) {
  size_t cap = 0;
  for (int l = 0; l < net->n_layers; l++) {
    size_t nw = tf_net_layer_weights(net, l);
    if (keep[l] < 0 || (size_t)keep[l] > nw)
      return tf_err_set(err, TF_EINPUT, "prune: cannot keep %ld of the %zu weights of layer %d",
                        keep[l], nw, l);
    if (nw > cap) cap = nw;
  }
  size_t *idx = malloc((cap > 0 ? cap : 1) * sizeof *idx);
  if (idx == NULL) return tf_err_set(err, TF_ENOMEM, "prune: out of memory for %zu indices", cap);

  for (int l = 0; l < net->n_layers; l++) {
    size_t nw = tf_net_layer_weights(net, l);
    float *m = mask + net->w_off[l];
    tf_rng_t rng;
    tf_rng_seed_variant(&rng, seed, TF_STREAM_MASK, (uint64_t)round, (uint64_t)l, variant);
    for (size_t i = 0; i < nw; i++) {
      idx[i] = i;
      m[i] = 0.0f;
    }
    /* Partial Fisher-Yates: after step i, idx[0..i] is a uniform draw without replacement. */
    for (size_t i = 0; i < (size_t)keep[l]; i++) {
      size_t j = i + (size_t)tf_rng_below(&rng, (uint64_t)(nw - i));
      size_t t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
      m[idx[i]] = 1.0f;
    }
  }
  set_biases(net, mask);
  free(idx);
  return 0;
}

size_t tf_prune_packed_size(const tf_net_t *net) { return (net->n_weights + 7) / 8; }

void tf_prune_pack(const tf_net_t *net, const float *mask, uint8_t *bits) {
  memset(bits, 0, tf_prune_packed_size(net));
  size_t j = 0;
  for (int l = 0; l < net->n_layers; l++) {
    const float *m = mask + net->w_off[l];
    size_t nw = tf_net_layer_weights(net, l);
    for (size_t i = 0; i < nw; i++, j++)
      if (m[i] != 0.0f) bits[j / 8] |= (uint8_t)(0x80u >> (j % 8));
  }
}

/* Also sets the biases' entries to 1, so the result is a complete mask in net layout. */
void tf_prune_unpack(const tf_net_t *net, const uint8_t *bits, float *mask) {
  size_t j = 0;
  for (int l = 0; l < net->n_layers; l++) {
    float *m = mask + net->w_off[l];
    size_t nw = tf_net_layer_weights(net, l);
    for (size_t i = 0; i < nw; i++, j++) m[i] = (bits[j / 8] >> (7 - j % 8)) & 1u ? 1.0f : 0.0f;
  }
  set_biases(net, mask);
}
