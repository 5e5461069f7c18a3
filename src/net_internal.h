/* Internal to the network's sources (net*.c): the softmax cross-entropy and the ReLU that the
 * fast paths and the plain-loop reference share. */
#ifndef TICKETFARM_NET_INTERNAL_H
#define TICKETFARM_NET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Softmax cross-entropy of logits z (n, c) against y: adds the summed loss to *loss_sum, the
 * argmax hits (ties to the lower class) to *correct, and, when dz is not NULL, writes
 * dz = (softmax - onehot) / n_mean. The max is subtracted before exp so large logits cannot
 * overflow; loss = logsumexp(z) - z_y. Example i's logit j is z[i * zi + j * zj], so one loop
 * serves both layouts and gives the same bits in each. Rank-local. */
void tf_net_softmax_xent(const float *z, size_t zi, size_t zj, const int32_t *y, int n, int c,
                         int n_mean, float *dz, double *loss_sum, long *correct);

static inline float relu(float v) { return v > 0.0f ? v : 0.0f; }

#endif
