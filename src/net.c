/* MLP forward and backward (ReLU hidden layers, softmax cross-entropy) on cblas_sgemm, and the
 * plain-loop reference it is tested against. */
#include "ticketfarm/net.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Slabs start on a cache line, so vector loads in the elementwise loops and in OpenBLAS's
 * packing routines do not straddle lines at the start of every tensor. */
#define TF_NET_ALIGN 64

static float *alloc_floats(size_t n) {
  void *p = NULL;
  if (posix_memalign(&p, TF_NET_ALIGN, (n > 0 ? n : 1) * sizeof(float)) != 0) return NULL;
  memset(p, 0, (n > 0 ? n : 1) * sizeof(float));
  return p;
}

size_t tf_net_count_params(int n_in, const int *hidden, int n_hidden, int n_out,
                           size_t *n_weights) {
  size_t np = 0, nw = 0;
  int prev = n_in;
  for (int l = 0; l <= n_hidden; l++) {
    int out = l < n_hidden ? hidden[l] : n_out;
    nw += (size_t)out * (size_t)prev;
    np += (size_t)out * (size_t)prev + (size_t)out;
    prev = out;
  }
  if (n_weights != NULL) *n_weights = nw;
  return np;
}

int tf_net_create(tf_net_t *net, int n_in, const int *hidden, int n_hidden, int n_out,
                  int max_batch, tf_err_t *err) {
  memset(net, 0, sizeof *net);
  if (n_hidden < 0 || n_hidden > TF_MAX_HIDDEN)
    return tf_err_set(err, TF_EINPUT, "net: %d hidden layers, expected 0 to %d", n_hidden,
                      TF_MAX_HIDDEN);
  if (n_hidden > 0 && hidden == NULL)
    return tf_err_set(err, TF_EINPUT, "net: %d hidden layers but no widths", n_hidden);
  if (n_in <= 0) return tf_err_set(err, TF_EINPUT, "net: input size %d must be positive", n_in);
  if (n_out <= 0) return tf_err_set(err, TF_EINPUT, "net: output size %d must be positive", n_out);
  for (int l = 0; l < n_hidden; l++)
    if (hidden[l] <= 0)
      return tf_err_set(err, TF_EINPUT, "net: hidden layer %d has width %d, must be positive", l,
                        hidden[l]);
  if (max_batch <= 0)
    return tf_err_set(err, TF_EINPUT, "net: batch size %d must be positive", max_batch);

  net->n_layers = n_hidden + 1;
  net->max_batch = max_batch;
  net->sizes[0] = n_in;
  for (int l = 0; l < n_hidden; l++) net->sizes[l + 1] = hidden[l];
  net->sizes[net->n_layers] = n_out;
  net->n_params = tf_net_count_params(n_in, hidden, n_hidden, n_out, &net->n_weights);

  size_t off = 0;
  for (int l = 0; l < net->n_layers; l++) {
    size_t in = (size_t)net->sizes[l], out = (size_t)net->sizes[l + 1];
    net->w_off[l] = off;
    off += out * in;
    net->b_off[l] = off;
    off += out;
  }

  net->params = alloc_floats(net->n_params);
  net->grads = alloc_floats(net->n_params);
  net->mask = alloc_floats(net->n_params);
  if (net->params == NULL || net->grads == NULL || net->mask == NULL) goto fail_nomem;
  for (size_t i = 0; i < net->n_params; i++) net->mask[i] = 1.0f;
  for (int l = 1; l <= net->n_layers; l++) {
    size_t n = (size_t)max_batch * (size_t)net->sizes[l];
    net->act[l] = alloc_floats(n);
    net->delta[l] = alloc_floats(n);
    if (net->act[l] == NULL || net->delta[l] == NULL) goto fail_nomem;
  }
  return 0;

fail_nomem:
  tf_net_free(net);
  return tf_err_set(err, TF_ENOMEM, "net: out of memory for %zu parameters and batch %d",
                    tf_net_count_params(n_in, hidden, n_hidden, n_out, NULL), max_batch);
}

void tf_net_free(tf_net_t *net) {
  if (net == NULL) return;
  free(net->params);
  free(net->grads);
  free(net->mask);
  for (int l = 0; l <= TF_MAX_LAYERS; l++) {
    free(net->act[l]);
    free(net->delta[l]);
  }
  memset(net, 0, sizeof *net);
}

/* Softmax cross-entropy of logits z (n, c) against y: adds the summed loss to *loss_sum, the
 * argmax hits (ties to the lower class) to *correct, and, when dz is not NULL, writes
 * dz = (softmax - onehot) / n_mean. The max is subtracted before exp so large logits cannot
 * overflow; loss = logsumexp(z) - z_y. */
static void softmax_xent(const float *z, const int32_t *y, int n, int c, int n_mean, float *dz,
                         double *loss_sum, long *correct) {
  double sum = 0.0;
  long hits = 0;
  for (int i = 0; i < n; i++) {
    const float *zi = z + (size_t)i * c;
    int best = 0;
    for (int j = 1; j < c; j++)
      if (zi[j] > zi[best]) best = j;
    float mx = zi[best];
    float s = 0.0f;
    for (int j = 0; j < c; j++) s += expf(zi[j] - mx);
    float lse = mx + logf(s);
    sum += (double)(lse - zi[y[i]]);
    hits += best == y[i];
    if (dz != NULL) {
      float *di = dz + (size_t)i * c;
      for (int j = 0; j < c; j++) {
        float p = expf(zi[j] - mx) / s;
        di[j] = (p - (j == y[i] ? 1.0f : 0.0f)) / (float)n_mean;
      }
    }
  }
  *loss_sum += sum;
  if (correct != NULL) *correct += hits;
}

/* The elementwise kernels below take restrict pointers and run each loop over a multiple of 8
 * elements before the rest, so that gcc vectorises them at -O2 too (its cheapest cost model
 * refuses loops that need a scalar epilogue). */

static inline float relu(float v) { return v > 0.0f ? v : 0.0f; }

/* z (n, out) += b per row, then ReLU on hidden layers: bias and activation in one pass. */
static void add_bias(float *restrict z, const float *restrict b, int n, int out, int hidden) {
  size_t o8 = (size_t)out & ~(size_t)7;
  for (int i = 0; i < n; i++) {
    float *restrict zi = z + (size_t)i * (size_t)out;
    if (hidden) {
      for (size_t j = 0; j < o8; j++) zi[j] = relu(zi[j] + b[j]);
      for (size_t j = o8; j < (size_t)out; j++) zi[j] = relu(zi[j] + b[j]);
    } else {
      for (size_t j = 0; j < o8; j++) zi[j] += b[j];
      for (size_t j = o8; j < (size_t)out; j++) zi[j] += b[j];
    }
  }
}

/* gb (out) = column sums of dz (n, out). */
static void column_sums(float *restrict gb, const float *restrict dz, int n, int out) {
  size_t o8 = (size_t)out & ~(size_t)7;
  for (int j = 0; j < out; j++) gb[j] = 0.0f;
  for (int i = 0; i < n; i++) {
    const float *restrict di = dz + (size_t)i * (size_t)out;
    for (size_t j = 0; j < o8; j++) gb[j] += di[j];
    for (size_t j = o8; j < (size_t)out; j++) gb[j] += di[j];
  }
}

/* Keeps g where mask is set and writes +0.0f elsewhere: a select rather than g * mask, so a
 * pruned entry is exactly zero even if g is Inf or NaN. */
static void apply_mask(float *restrict g, const float *restrict mask, size_t n) {
  size_t n8 = n & ~(size_t)7;
  for (size_t i = 0; i < n8; i++) g[i] = mask[i] != 0.0f ? g[i] : 0.0f;
  for (size_t i = n8; i < n; i++) g[i] = mask[i] != 0.0f ? g[i] : 0.0f;
}

/* da *= ReLU'(pre-activation), read from the activation a: a > 0 exactly where the
 * pre-activation was. */
static void relu_backward(float *restrict da, const float *restrict a, size_t n) {
  size_t n8 = n & ~(size_t)7;
  for (size_t i = 0; i < n8; i++) da[i] = a[i] > 0.0f ? da[i] : 0.0f;
  for (size_t i = n8; i < n; i++) da[i] = a[i] > 0.0f ? da[i] : 0.0f;
}

/* act[1..n_layers] for input x (n rows); act[n_layers] holds the logits. */
static void forward_blas(tf_net_t *net, const float *x, int n) {
  const float *a = x;
  for (int l = 0; l < net->n_layers; l++) {
    int in = net->sizes[l], out = net->sizes[l + 1];
    const float *w = net->params + net->w_off[l];
    float *z = net->act[l + 1];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, a, in, w, in, 0.0f, z,
                out);
    add_bias(z, net->params + net->b_off[l], n, out, l + 1 < net->n_layers);
    a = z;
  }
}

float tf_net_train_grad(tf_net_t *net, const float *x, const int32_t *y, int n) {
  int nl = net->n_layers;
  forward_blas(net, x, n);
  double loss = 0.0;
  softmax_xent(net->act[nl], y, n, net->sizes[nl], n, net->delta[nl], &loss, NULL);

  for (int l = nl - 1; l >= 0; l--) {
    int in = net->sizes[l], out = net->sizes[l + 1];
    const float *a = l == 0 ? x : net->act[l];
    const float *dz = net->delta[l + 1];
    float *gw = net->grads + net->w_off[l];
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, dz, out, a, in, 0.0f,
                gw, in);
    column_sums(net->grads + net->b_off[l], dz, n, out);
    apply_mask(gw, net->mask + net->w_off[l], (size_t)out * (size_t)in);
    if (l > 0) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dz, out,
                  net->params + net->w_off[l], in, 0.0f, net->delta[l], in);
      relu_backward(net->delta[l], net->act[l], (size_t)n * (size_t)in);
    }
  }
  return (float)(loss / n);
}

/* Batches longer than the workspace are evaluated in chunks of max_batch rows. */
void tf_net_eval(tf_net_t *net, const float *x, const int32_t *y, int n, double *loss_sum,
                 long *correct) {
  int nl = net->n_layers;
  for (int i0 = 0; i0 < n; i0 += net->max_batch) {
    int m = n - i0 < net->max_batch ? n - i0 : net->max_batch;
    forward_blas(net, x + (size_t)i0 * net->sizes[0], m);
    softmax_xent(net->act[nl], y + i0, m, net->sizes[nl], m, NULL, loss_sum, correct);
  }
}

static void forward_naive(tf_net_t *net, const float *x, int n) {
  const float *a = x;
  for (int l = 0; l < net->n_layers; l++) {
    int in = net->sizes[l], out = net->sizes[l + 1];
    const float *w = net->params + net->w_off[l];
    const float *b = net->params + net->b_off[l];
    float *z = net->act[l + 1];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < out; j++) {
        float s = 0.0f;
        for (int k = 0; k < in; k++) s += a[(size_t)i * in + k] * w[(size_t)j * in + k];
        s += b[j];
        z[(size_t)i * out + j] = l + 1 < net->n_layers ? relu(s) : s;
      }
    }
    a = z;
  }
}

float tf_net_train_grad_naive(tf_net_t *net, const float *x, const int32_t *y, int n) {
  int nl = net->n_layers;
  forward_naive(net, x, n);
  double loss = 0.0;
  softmax_xent(net->act[nl], y, n, net->sizes[nl], n, net->delta[nl], &loss, NULL);

  for (int l = nl - 1; l >= 0; l--) {
    int in = net->sizes[l], out = net->sizes[l + 1];
    const float *a = l == 0 ? x : net->act[l];
    const float *dz = net->delta[l + 1];
    const float *w = net->params + net->w_off[l];
    const float *mask = net->mask + net->w_off[l];
    float *gw = net->grads + net->w_off[l];
    float *gb = net->grads + net->b_off[l];
    for (int j = 0; j < out; j++) {
      for (int k = 0; k < in; k++) {
        float s = 0.0f;
        for (int i = 0; i < n; i++) s += dz[(size_t)i * out + j] * a[(size_t)i * in + k];
        gw[(size_t)j * in + k] = mask[(size_t)j * in + k] != 0.0f ? s : 0.0f;
      }
      float s = 0.0f;
      for (int i = 0; i < n; i++) s += dz[(size_t)i * out + j];
      gb[j] = s;
    }
    if (l > 0) {
      float *da = net->delta[l];
      const float *al = net->act[l];
      for (int i = 0; i < n; i++) {
        for (int k = 0; k < in; k++) {
          float s = 0.0f;
          for (int j = 0; j < out; j++) s += dz[(size_t)i * out + j] * w[(size_t)j * in + k];
          da[(size_t)i * in + k] = al[(size_t)i * in + k] > 0.0f ? s : 0.0f;
        }
      }
    }
  }
  return (float)(loss / n);
}

void tf_net_eval_naive(tf_net_t *net, const float *x, const int32_t *y, int n, double *loss_sum,
                       long *correct) {
  int nl = net->n_layers;
  for (int i0 = 0; i0 < n; i0 += net->max_batch) {
    int m = n - i0 < net->max_batch ? n - i0 : net->max_batch;
    forward_naive(net, x + (size_t)i0 * net->sizes[0], m);
    softmax_xent(net->act[nl], y + i0, m, net->sizes[nl], m, NULL, loss_sum, correct);
  }
}
