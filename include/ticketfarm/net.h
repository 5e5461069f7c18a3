/* A multilayer perceptron with ReLU hidden layers and softmax cross-entropy: forward and backward
 * on cblas_sgemm, beside a naive reference implementation the fast one is tested against. */
#ifndef TICKETFARM_NET_H
#define TICKETFARM_NET_H

#include <stddef.h>
#include <stdint.h>

#include "ticketfarm/config.h"

/* All parameters live in one slab so that a snapshot or a rewind is one memcpy. For layer l
 * (0 = first hidden layer, n_layers-1 = output layer), with in = sizes[l], out = sizes[l+1]:
 *   params + w_off[l]: W_l (out, in), row-major
 *   params + b_off[l]: b_l (out)
 * Layer l's weights come before its bias; layers follow each other. grads and mask share the
 * layout; mask is 1 or 0 on weights and always 1 on biases (biases are never pruned). */
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
  float *act[TF_MAX_LAYERS + 1];    /* act[l]: (max_batch, sizes[l]); act[0] unused (input) */
  float *delta[TF_MAX_LAYERS + 1];  /* gradients w.r.t. pre-activations, same shapes */
} tf_net_t;

/* Allocates a net of sizes n_in, hidden[0..n_hidden), n_out, for batches up to max_batch.
 * params are zero, mask all ones. Returns 0 or TF_ENOMEM / TF_EINPUT. */
int tf_net_create(tf_net_t *net, int n_in, const int *hidden, int n_hidden, int n_out,
                  int max_batch, tf_err_t *err);
void tf_net_free(tf_net_t *net);

/* Number of parameters (weights + biases) and of prunable weights for these sizes. */
size_t tf_net_count_params(int n_in, const int *hidden, int n_hidden, int n_out, size_t *n_weights);

/* One training step's gradient: forward x (n, sizes[0]) with labels y (n), n <= max_batch, then
 * backward into net->grads (mean over the batch), with weight gradients multiplied by the mask.
 * Returns the mean cross-entropy loss. */
float tf_net_train_grad(tf_net_t *net, const float *x, const int32_t *y, int n);

/* Forward only: adds the summed loss of the n examples to *loss_sum and the number classified
 * correctly (argmax, ties to the lower class) to *correct. */
void tf_net_eval(tf_net_t *net, const float *x, const int32_t *y, int n, double *loss_sum,
                 long *correct);

/* The reference: the same computations with plain loops and no BLAS, for tests. */
float tf_net_train_grad_naive(tf_net_t *net, const float *x, const int32_t *y, int n);
void tf_net_eval_naive(tf_net_t *net, const float *x, const int32_t *y, int n, double *loss_sum,
                       long *correct);

#endif
