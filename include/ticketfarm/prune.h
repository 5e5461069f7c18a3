/* Magnitude pruning (layerwise with per-layer rates, or global), random masks of
 * given per-layer counts, and bit-packing of masks for storage. */
#ifndef TICKETFARM_PRUNE_H
#define TICKETFARM_PRUNE_H

#include <stddef.h>
#include <stdint.h>

#include "ticketfarm/config.h"
#include "ticketfarm/net.h"

/* How many of `remaining` weights a rate removes: round(rate * remaining), halves rounded up
 * (floor(rate * remaining + 0.5) in double precision). */
long tf_prune_count(long remaining, double rate);

/* Weights still unpruned in each layer under mask (net layout): remaining[0..net->n_layers). */
void tf_prune_remaining(const tf_net_t *net, const float *mask, long *remaining);

/* Prunes by magnitude of `weights` (net layout) among the weights mask still keeps, updating
 * mask in place. Layers whose bit is set in `exclude` (bit l for layer l) are left whole and take
 * no part. Layerwise: layer l loses tf_prune_count(remaining_l, rate), the output layer
 * tf_prune_count(remaining, output_rate). Global: tf_prune_count(total remaining of the layers
 * not excluded, rate) weights across those layers (output_rate unused). Order: smallest |w|
 * first; ties go to the lower layer, then to the lower index within the layer. A layer never
 * loses its last weight: layerwise, a layer of n weights loses at most n - 1; global, a layer's
 * last weight is passed over and the next smallest weight elsewhere pruned instead, so the count
 * stays exact while other layers have weights to give. Biases are never touched. Rank-local.
 * Returns 0 or TF_ENOMEM. */
int tf_prune_magnitude(const tf_net_t *net, const float *weights, float *mask, double rate,
                       double output_rate, tf_prune_scope_t scope, unsigned exclude,
                       tf_err_t *err);

/* Layerwise with a rate of its own for every layer: layer l loses
 * tf_prune_count(remaining_l, rates[l]) of its smallest weights (ties to the lower index), never
 * its last one; layers whose bit is set in `exclude` are left whole. Returns 0 or TF_ENOMEM. */
int tf_prune_magnitude_layers(const tf_net_t *net, const float *weights, float *mask,
                              const double *rates, unsigned exclude, tf_err_t *err);

/* The layerwise rates of prune.conv_rate, prune.rate and prune.output_rate: conv_rate for the
 * convolution layers, output_rate for the output layer, rate for the hidden dense layers. */
void tf_prune_rates(const tf_net_t *net, double conv_rate, double rate, double output_rate,
                    double *rates);

/* Writes into mask (net layout) a mask keeping exactly keep[l] weights of layer l at positions
 * drawn uniformly from TF_STREAM_MASK(seed, round, l; variant). Layer l's kept positions are the
 * first keep[l] of one permutation the stream defines, so for one (seed, round, variant) a
 * smaller keep gives a subset of a larger one's mask: nested masks come from drawing every
 * round on one stream. Biases set to 1. Rank-local. Returns 0, TF_EINPUT or TF_ENOMEM. */
int tf_prune_random(const tf_net_t *net, float *mask, const long *keep, uint64_t seed, int round,
                    uint64_t variant, tf_err_t *err);

/* Bytes needed to pack a net's prunable weights, one bit each: (n_weights + 7) / 8. */
size_t tf_prune_packed_size(const tf_net_t *net);

/* Packs the weights' mask bits, layers in order, each W_l row-major, MSB first (numpy.packbits
 * order): weight j is bit 7 - j % 8 of byte j / 8; padding bits are 0. */
void tf_prune_pack(const tf_net_t *net, const float *mask, uint8_t *bits);
void tf_prune_unpack(const tf_net_t *net, const uint8_t *bits, float *mask);

#endif
