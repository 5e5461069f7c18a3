/* A multilayer perceptron with ReLU hidden layers and softmax cross-entropy: forward and backward
 * on cblas_sgemm for dense layers and on sparse kernels for pruned ones, fused with the
 * optimiser, beside a naive reference implementation the fast paths are tested against. */
#ifndef TICKETFARM_NET_H
#define TICKETFARM_NET_H

#include <stddef.h>
#include <stdint.h>

#include "ticketfarm/config.h"
#include "ticketfarm/data.h"
#include "ticketfarm/optim.h"
#include "ticketfarm/sparse.h"

/* All parameters live in one slab so that a snapshot or a rewind is one memcpy. For layer l
 * (0 = first hidden layer, n_layers-1 = output layer), with in = sizes[l], out = sizes[l+1]:
 *   params + w_off[l]: W_l (out, in), row-major
 *   params + b_off[l]: b_l (out)
 * Layer l's weights come before its bias; layers follow each other. grads and mask share the
 * layout; mask is 1 or 0 on weights and always 1 on biases (biases are never pruned).
 *
 * The plan (tf_net_plan) says how each layer trains. A dense layer works on the slab under the
 * mask. A sparse layer keeps its surviving weights packed in sp[l] (values, gradients, and the
 * optimiser state at the start of the layer's range); its part of the slab is stale until
 * tf_net_sync. With no sparse layer, batches are row-major (example, feature), as BLAS reads
 * them fastest; with any, every layer works on feature-major batches (feature, lane), as the
 * sparse kernels need: a batch of n examples is then (features, lanes), lanes = n rounded up to
 * TF_SPARSE_LANES, the padding lanes computed from zero inputs and carrying zero gradients. */
typedef struct tf_net {
  int n_layers;                     /* weight layers */
  int sizes[TF_MAX_LAYERS + 1];     /* sizes[0] = input dim, sizes[n_layers] = classes */
  size_t n_params;                  /* weights and biases */
  size_t n_weights;                 /* prunable weights: sum of out*in */
  size_t w_off[TF_MAX_LAYERS];
  size_t b_off[TF_MAX_LAYERS];
  float *params;                    /* (n_params) */
  float *grads;                     /* (n_params) */
  float *mask;                      /* (n_params) */
  int max_batch;
  size_t ld;                        /* max_batch rounded up to TF_SPARSE_LANES */
  float *x;                         /* tf_net_gather's batch: (n, sizes[0]) row-major, or
                                     * (sizes[0], lanes) feature-major; room for (sizes[0], ld) */
  float *act[TF_MAX_LAYERS + 1];    /* act[l]: (n, sizes[l]) or (sizes[l], lanes); act[0] unused
                                     * (the input) */
  float *delta[TF_MAX_LAYERS + 1];  /* gradients w.r.t. pre-activations, same shapes */
  int feature_major;                /* the plan has a sparse layer */
  int sparse[TF_MAX_LAYERS];        /* layer l trains on sp[l] */
  int full[TF_MAX_LAYERS];          /* layer l's mask keeps every weight */
  tf_sparse_t sp[TF_MAX_LAYERS];
} tf_net_t;

/* Allocates a net of sizes n_in, hidden[0..n_hidden), n_out, for batches up to max_batch.
 * params are zero, mask all ones, the plan dense. Returns 0 or TF_ENOMEM / TF_EINPUT. */
int tf_net_create(tf_net_t *net, int n_in, const int *hidden, int n_hidden, int n_out,
                  int max_batch, tf_err_t *err);
void tf_net_free(tf_net_t *net);

/* Number of parameters (weights + biases) and of prunable weights for these sizes. */
size_t tf_net_count_params(int n_in, const int *hidden, int n_hidden, int n_out, size_t *n_weights);

/* Chooses the plan from net->mask and net->params: a layer whose density (weights the mask keeps
 * / weights) is below sparse_below becomes sparse, its surviving weights copied from params;
 * the others are dense (sparse_below = 0: all). The choice depends on the mask and the threshold
 * alone, never on the machine or a timing, so equal inputs give equal bits. Call it after params
 * and mask are set, and before the optimiser's state is used (a sparse layer's packed state
 * lives at the start of its range: reset the optimiser with a new plan). Packed weights of the
 * previous plan are dropped: tf_net_sync first to keep them. Returns 0 or TF_ENOMEM (the plan is
 * then dense). */
int tf_net_plan(tf_net_t *net, double sparse_below, tf_err_t *err);

/* Writes the packed weights of sparse layers back into params, so that the slab holds the true
 * parameters (for snapshots, pruning, rewinding and the results file). */
void tf_net_sync(tf_net_t *net);

/* Gathers images idx[0..count) (count <= max_batch) into net->x in the layout of the plan,
 * pixels scaled as tf_data_gather does, lanes past count zero; labels into y (count). */
void tf_net_gather(tf_net_t *net, const tf_images_t *images, const int32_t *idx, int count,
                   int32_t *y);

/* Maps the gathered inputs of images idx[0..count) (the last tf_net_gather) to x * scale +
 * shift in place, the scale image_scale[idx[i]] when image_scale is not NULL (data.normalize);
 * padding lanes stay zero. Rank-local. */
void tf_net_normalize(tf_net_t *net, const int32_t *idx, int count, float scale, float shift,
                      const float *image_scale);

/* One training step on the gathered batch of n examples with labels y, in the current plan
 * (tf_net_plan again whenever the mask changes): forward, backward, and
 * the optimiser's update of each layer as soon as its gradient is ready (the update masks
 * pruned weights and their state). Equals tf_net_train_grad then tf_net_update, bit for bit.
 * Returns the mean cross-entropy loss of the batch before the update. */
float tf_net_step(tf_net_t *net, tf_optim_t *opt, const int32_t *y, int n);

/* Forward only on the gathered batch: adds the summed loss of the n examples to *loss_sum and the
 * number classified correctly (argmax, ties to the lower class) to *correct. */
void tf_net_eval_batch(tf_net_t *net, const int32_t *y, int n, double *loss_sum, long *correct);

/* One training step's gradient: forward x (n, sizes[0]) row-major with labels y (n), n <=
 * max_batch, then backward into net->grads (mean over the batch; dense weight gradients are not
 * masked: the optimiser drops pruned ones) or, for a sparse layer's weights, into sp[l].grad.
 * Works in any plan (a feature-major one copies x first). Returns the mean cross-entropy loss. */
float tf_net_train_grad(tf_net_t *net, const float *x, const int32_t *y, int n);

/* One optimiser step from the gradients tf_net_train_grad left: every layer, masked. */
void tf_net_update(tf_net_t *net, tf_optim_t *opt);

/* Forward only on x (n, sizes[0]) row-major, any n, in chunks of max_batch, any plan; sums as
 * tf_net_eval_batch. */
void tf_net_eval(tf_net_t *net, const float *x, const int32_t *y, int n, double *loss_sum,
                 long *correct);

/* The reference: the dense computations on the slab (tf_net_sync it first in a sparse plan)
 * with plain loops and no BLAS, row-major whatever the plan, for tests. */
float tf_net_train_grad_naive(tf_net_t *net, const float *x, const int32_t *y, int n);
void tf_net_eval_naive(tf_net_t *net, const float *x, const int32_t *y, int n, double *loss_sum,
                       long *correct);

#endif
