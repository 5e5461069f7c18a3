/* Internal to the network's sources (net*.c): the softmax cross-entropy and the ReLU that the
 * fast paths and the plain-loop reference share, the per-layer update, and the convolution
 * layers' passes (net_conv.c). */
#ifndef TICKETFARM_NET_INTERNAL_H
#define TICKETFARM_NET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ticketfarm/net.h"
#include "ticketfarm/optim.h"

/* Softmax cross-entropy of logits z (n, c) against y: adds the summed loss to *loss_sum, the
 * argmax hits (ties to the lower class) to *correct, and, when dz is not NULL, writes
 * dz = (softmax - onehot) / n_mean. The max is subtracted before exp so large logits cannot
 * overflow; loss = logsumexp(z) - z_y. Example i's logit j is z[i * zi + j * zj], so one loop
 * serves both layouts and gives the same bits in each. Rank-local. */
void tf_net_softmax_xent(const float *z, size_t zi, size_t zj, const int32_t *y, int n, int c,
                         int n_mean, float *dz, double *loss_sum, long *correct);

static inline float relu(float v) { return v > 0.0f ? v : 0.0f; }

/* The optimiser's update of layer l, from the gradients of the current plan. Rank-local. */
void tf_net_update_layer(tf_net_t *net, tf_optim_t *opt, int l);

/* The convolution layers on x (n, sizes[0]), n <= max_batch; ReLU on every one. The last one's
 * output goes to act[n_conv], or to net->flat in a feature-major plan. Rank-local. */
void tf_net_conv_forward(tf_net_t *net, const float *x, int n);

/* Backward through the convolution layers, given dtop (n, sizes[n_conv]), the loss gradient
 * with respect to the last one's output where that output is > 0 and +0 elsewhere (the ReLU's
 * derivative applied, through the max-pool when there is one); each layer updated as soon as
 * its gradient is ready. Rank-local. */
void tf_net_conv_backward(tf_net_t *net, const float *x, const float *dtop, int n,
                          tf_optim_t *opt);

#endif
