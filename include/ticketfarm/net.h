/* A network of convolution layers (ReLU, optional 2x2 max-pooling) then dense layers (ReLU hidden
 * layers, softmax cross-entropy): forward and backward on cblas_sgemm for dense layers and on
 * sparse kernels for pruned ones, fused with the optimiser, beside a naive reference
 * implementation the fast paths are tested against. */
#ifndef TICKETFARM_NET_H
#define TICKETFARM_NET_H

#include <stddef.h>
#include <stdint.h>

#include "ticketfarm/config.h"
#include "ticketfarm/conv.h"
#include "ticketfarm/data.h"
#include "ticketfarm/optim.h"
#include "ticketfarm/sparse.h"

/* The layers a model makes of (in_c, in_h, in_w) images and n_out classes. Layers 0 .. n_conv-1
 * are convolutions, W_l (out_c, in_c * k * k) as conv.h lays it out; the others dense, W_l
 * (out, in). sizes[l] is the features layer l reads (an image's floats, channel-major, for a
 * convolution; sizes[0] = in_c * in_h * in_w), sizes[l + 1] what it hands on (after its
 * pooling). */
typedef struct tf_net_arch {
  int n_layers, n_conv;
  int sizes[TF_MAX_LAYERS + 1];
  int rows[TF_MAX_LAYERS], cols[TF_MAX_LAYERS]; /* W_l (rows, cols); rows = its biases */
  tf_conv_t conv[TF_MAX_CONV];
  int pooled[TF_MAX_CONV];
  tf_conv_pool_t pool[TF_MAX_CONV];
  size_t n_params, n_weights;
} tf_net_arch_t;

/* Lays out model on (in_c, in_h, in_w) images with n_out classes. Returns 0, or TF_EINPUT
 * naming model.conv or model.hidden (a kernel larger than the image under valid padding, a pool
 * of an image smaller than 2 x 2, a layer beyond 2^31 weights, too many layers). Rank-local. */
int tf_net_arch(tf_net_arch_t *arch, int in_c, int in_h, int in_w, const tf_model_t *model,
                int n_out, tf_err_t *err);

/* All parameters live in one slab so that a snapshot or a rewind is one memcpy. For layer l
 * (0 = the first convolution or hidden layer, n_layers-1 = output layer), W_l (rows[l], cols[l]),
 * which is (out, in) = (sizes[l+1], sizes[l]) for a dense layer:
 *   params + w_off[l]: W_l (rows, cols), row-major
 *   params + b_off[l]: b_l (rows)
 * Layer l's weights come before its bias; layers follow each other. grads and mask share the
 * layout; mask is 1 or 0 on weights and always 1 on biases (biases are never pruned).
 *
 * The plan (tf_net_plan) says how each layer trains. A dense layer works on the slab under the
 * mask. A sparse layer keeps its surviving weights packed in sp[l] (values, gradients, and the
 * optimiser state at the start of the layer's range); its part of the slab is stale until
 * tf_net_sync. With no sparse dense layer, batches are row-major (example, feature), as BLAS
 * reads them fastest; with any, every dense layer works on feature-major batches (feature,
 * lane), as the sparse kernels need: a batch of n examples is then (features, lanes), lanes = n
 * rounded up to TF_SPARSE_LANES, the padding lanes computed from zero inputs and carrying zero
 * gradients.
 * Convolution layers always work image by image, (n, c, h, w); in a feature-major plan the last
 * one's output is transposed for the dense layers (and their gradient back). */
typedef struct tf_net {
  int n_layers;                     /* weight layers */
  int sizes[TF_MAX_LAYERS + 1];     /* sizes[0] = input dim, sizes[n_layers] = classes */
  size_t n_params;                  /* weights and biases */
  size_t n_weights;                 /* prunable weights: sum of rows*cols */
  int rows[TF_MAX_LAYERS], cols[TF_MAX_LAYERS]; /* W_l (rows, cols) */
  int n_conv;                       /* layers 0 .. n_conv-1 are convolutions */
  tf_conv_t conv[TF_MAX_CONV];
  int pooled[TF_MAX_CONV];          /* convolution l is followed by pool[l] */
  tf_conv_pool_t pool[TF_MAX_CONV];
  float *cy[TF_MAX_CONV];           /* a pooled convolution's output before pooling,
                                     * (max_batch, conv[l].out_size) */
  float *cdy[TF_MAX_CONV];          /* its gradient, likewise */
  int32_t *carg[TF_MAX_CONV];       /* the pool's argmax, (max_batch, pool[l].out_size) */
  float *flat;                      /* (max_batch, sizes[n_conv]): the last convolution's
                                     * output (feature-major plans) */
  float *dflat;                     /* its gradient */
  tf_conv_work_t cw;
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

/* The same for model on (in_c, in_h, in_w) images (tf_net_arch); without convolutions the net
 * tf_net_create makes. A convolution layer's activations take max_batch images: keep it to
 * what memory holds (evaluate in chunks). Rank-local. */
int tf_net_create_model(tf_net_t *net, int in_c, int in_h, int in_w, const tf_model_t *model,
                        int n_out, int max_batch, tf_err_t *err);

/* Prunable weights of layer l: rows[l] * cols[l]. */
static inline size_t tf_net_layer_weights(const tf_net_t *net, int l) {
  return (size_t)net->rows[l] * (size_t)net->cols[l];
}

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

/* Maps the gathered inputs of images idx[0..count) (the last tf_net_gather) to
 * x * scale[c] + shift[c] in place for a pixel of channel c (an image is `channels` planes of
 * equal size), the scale image_scale[idx[i]] when image_scale is not NULL (data.normalize);
 * padding lanes stay zero. Rank-local. */
void tf_net_normalize(tf_net_t *net, const int32_t *idx, int count, const float *scale,
                      const float *shift, int channels, const float *image_scale);

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
