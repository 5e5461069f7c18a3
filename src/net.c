/* Network forward and backward (convolutions with ReLU and max-pooling, ReLU hidden layers,
 * softmax cross-entropy) on cblas_sgemm for dense layers and sparse kernels for pruned ones,
 * fused with the optimiser; the convolution layers' passes are in net_conv.c and the plain-loop
 * reference it is tested against in net_ref.c. */
#include "ticketfarm/net.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"
#include "vector.h"

/* Slabs start on a cache line, so vector loads in the elementwise loops and in OpenBLAS's
 * packing routines do not straddle lines at the start of every tensor, and feature-major rows
 * (ld a multiple of 16 floats) each start on one. */
#define TF_NET_ALIGN 64

/* The elementwise loops (TF_CLONES) are compiled for AVX-512, AVX2 and baseline x86-64, one picked when the
 * program loads; all give the same bits (an element's arithmetic is the same IEEE operations
 * whatever the vector width, and the project compiles as ISO C, in which gcc fuses no
 * multiply-add). */
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

int tf_net_arch(tf_net_arch_t *arch, int in_c, int in_h, int in_w, const tf_model_t *model,
                int n_out, tf_err_t *err) {
  memset(arch, 0, sizeof *arch);
  if (model->n_conv < 0 || model->n_conv > TF_MAX_CONV)
    return tf_err_set(err, TF_EINPUT, "model.conv: %d convolutions, expected 0 to %d",
                      model->n_conv, TF_MAX_CONV);
  if (model->n_hidden < 0 || model->n_hidden > TF_MAX_HIDDEN)
    return tf_err_set(err, TF_EINPUT, "model.hidden: %d hidden layers, expected 0 to %d",
                      model->n_hidden, TF_MAX_HIDDEN);
  if (in_c <= 0 || in_h <= 0 || in_w <= 0 || (size_t)in_c * (size_t)in_h * (size_t)in_w > INT32_MAX)
    return tf_err_set(err, TF_EINPUT, "net: input %d x %d x %d must be positive", in_c, in_h,
                      in_w);
  if (n_out <= 0) return tf_err_set(err, TF_EINPUT, "net: output size %d must be positive", n_out);
  arch->n_conv = model->n_conv;
  arch->n_layers = model->n_conv + model->n_hidden + 1;
  int c = in_c, h = in_h, w = in_w;
  arch->sizes[0] = c * h * w;
  for (int l = 0; l < model->n_conv; l++) {
    tf_err_t e;
    tf_conv_t *cv = &arch->conv[l];
    if (model->channels[l] <= 0 || model->kernel[l] <= 0)
      return tf_err_set(err, TF_EINPUT, "model.conv: convolution %d has %d channels and kernel %d",
                        l + 1, model->channels[l], model->kernel[l]);
    if (tf_conv_init(cv, c, h, w, model->channels[l], model->kernel[l], model->padding[l], &e) < 0)
      return tf_err_set(err, TF_EINPUT, "model.conv: convolution %d: %s", l + 1, e.msg);
    arch->rows[l] = cv->out_c;
    arch->cols[l] = cv->fan_in;
    c = cv->out_c;
    h = cv->out_h;
    w = cv->out_w;
    arch->pooled[l] = model->pool[l];
    if (model->pool[l]) {
      if (tf_conv_pool_init(&arch->pool[l], c, h, w, &e) < 0)
        return tf_err_set(err, TF_EINPUT, "model.conv: the pool after convolution %d: %s", l + 1,
                          e.msg);
      h = arch->pool[l].out_h;
      w = arch->pool[l].out_w;
    }
    arch->sizes[l + 1] = c * h * w;
  }
  for (int j = 0; j <= model->n_hidden; j++) {
    int l = model->n_conv + j;
    int out = j < model->n_hidden ? model->hidden[j] : n_out;
    if (out <= 0)
      return tf_err_set(err, TF_EINPUT, "model.hidden: hidden layer %d has width %d, must be "
                        "positive", j, out);
    if ((size_t)out * (size_t)arch->sizes[l] > INT32_MAX)
      return tf_err_set(err, TF_EINPUT, "model.hidden: a layer of %d x %d weights is beyond 2^31",
                        out, arch->sizes[l]);
    arch->rows[l] = out;
    arch->cols[l] = arch->sizes[l];
    arch->sizes[l + 1] = out;
  }
  for (int l = 0; l < arch->n_layers; l++) {
    size_t nw = (size_t)arch->rows[l] * (size_t)arch->cols[l];
    arch->n_weights += nw;
    arch->n_params += nw + (size_t)arch->rows[l];
  }
  return 0;
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
  tf_model_t model = {0};
  model.n_hidden = n_hidden;
  for (int l = 0; l < n_hidden; l++) model.hidden[l] = hidden[l];
  return tf_net_create_model(net, 1, 1, n_in, &model, n_out, max_batch, err);
}

int tf_net_create_model(tf_net_t *net, int in_c, int in_h, int in_w, const tf_model_t *model,
                        int n_out, int max_batch, tf_err_t *err) {
  memset(net, 0, sizeof *net);
  tf_net_arch_t arch;
  int rc = tf_net_arch(&arch, in_c, in_h, in_w, model, n_out, err);
  if (rc < 0) return rc;
  if (max_batch <= 0)
    return tf_err_set(err, TF_EINPUT, "net: batch size %d must be positive", max_batch);

  net->n_layers = arch.n_layers;
  net->n_conv = arch.n_conv;
  net->max_batch = max_batch;
  net->ld = ((size_t)max_batch + TF_SPARSE_LANES - 1) / TF_SPARSE_LANES * TF_SPARSE_LANES;
  memcpy(net->sizes, arch.sizes, sizeof net->sizes);
  memcpy(net->rows, arch.rows, sizeof net->rows);
  memcpy(net->cols, arch.cols, sizeof net->cols);
  memcpy(net->conv, arch.conv, sizeof net->conv);
  memcpy(net->pooled, arch.pooled, sizeof net->pooled);
  memcpy(net->pool, arch.pool, sizeof net->pool);
  net->n_params = arch.n_params;
  net->n_weights = arch.n_weights;

  size_t off = 0;
  for (int l = 0; l < net->n_layers; l++) {
    net->w_off[l] = off;
    off += tf_net_layer_weights(net, l);
    net->b_off[l] = off;
    off += (size_t)net->rows[l];
    net->full[l] = 1;
  }

  net->params = alloc_floats(net->n_params);
  net->grads = alloc_floats(net->n_params);
  net->mask = alloc_floats(net->n_params);
  net->x = alloc_floats(net->ld * (size_t)net->sizes[0]);
  if (net->params == NULL || net->grads == NULL || net->mask == NULL || net->x == NULL)
    goto fail_nomem;
  for (size_t i = 0; i < net->n_params; i++) net->mask[i] = 1.0f;
  for (int l = 1; l <= net->n_layers; l++) {
    size_t n = net->ld * (size_t)net->sizes[l];
    net->act[l] = alloc_floats(n);
    net->delta[l] = alloc_floats(n);
    if (net->act[l] == NULL || net->delta[l] == NULL) goto fail_nomem;
  }
  for (int l = 0; l < net->n_conv; l++) {
    if (tf_conv_work_reserve(&net->cw, &net->conv[l], err) < 0) goto fail_nomem;
    if (!net->pooled[l]) continue;
    size_t n = (size_t)max_batch * net->conv[l].out_size;
    net->cy[l] = alloc_floats(n);
    net->cdy[l] = alloc_floats(n);
    void *p = NULL;
    size_t arg_bytes = (size_t)max_batch * net->pool[l].out_size * sizeof(int32_t);
    if (posix_memalign(&p, TF_NET_ALIGN, arg_bytes) != 0) p = NULL;
    net->carg[l] = p;
    if (net->cy[l] == NULL || net->cdy[l] == NULL || net->carg[l] == NULL) goto fail_nomem;
  }
  if (net->n_conv > 0) {
    net->flat = alloc_floats((size_t)max_batch * (size_t)net->sizes[net->n_conv]);
    net->dflat = alloc_floats((size_t)max_batch * (size_t)net->sizes[net->n_conv]);
    if (net->flat == NULL || net->dflat == NULL) goto fail_nomem;
  }
  return 0;

fail_nomem:
  tf_net_free(net);
  return tf_err_set(err, TF_ENOMEM, "net: out of memory for %zu parameters and batch %d",
                    arch.n_params, max_batch);
}

void tf_net_free(tf_net_t *net) {
  if (net == NULL) return;
  free(net->params);
  free(net->grads);
  free(net->mask);
  free(net->x);
  for (int l = 0; l <= TF_MAX_LAYERS; l++) {
    free(net->act[l]);
    free(net->delta[l]);
  }
  for (int l = 0; l < TF_MAX_CONV; l++) {
    free(net->cy[l]);
    free(net->cdy[l]);
    free(net->carg[l]);
  }
  free(net->flat);
  free(net->dflat);
  tf_conv_work_free(&net->cw);
  for (int l = 0; l < TF_MAX_LAYERS; l++) tf_sparse_free(&net->sp[l]);
  memset(net, 0, sizeof *net);
}

static void plan_dense(tf_net_t *net) {
  for (int l = 0; l < net->n_layers; l++) {
    tf_sparse_free(&net->sp[l]);
    net->sparse[l] = 0;
  }
  net->feature_major = 0;
}

int tf_net_plan(tf_net_t *net, double sparse_below, tf_err_t *err) {
  plan_dense(net);
  for (int l = 0; l < net->n_layers; l++) {
    size_t total = tf_net_layer_weights(net, l), kept = 0;
    const float *mask = net->mask + net->w_off[l];
    for (size_t i = 0; i < total; i++) kept += mask[i] != 0.0f;
    net->full[l] = kept == total;
    if (!((double)kept < sparse_below * (double)total)) continue;
    int rc = tf_sparse_build(&net->sp[l], net->params + net->w_off[l], mask, net->rows[l],
                             net->cols[l], err);
    if (rc < 0) {
      plan_dense(net);
      return rc;
    }
    net->sparse[l] = 1;
    /* A convolution works image by image in any plan; only dense layers change the layout. */
    if (l >= net->n_conv) net->feature_major = 1;
  }
  return 0;
}

void tf_net_sync(tf_net_t *net) {
  for (int l = 0; l < net->n_layers; l++)
    if (net->sparse[l]) tf_sparse_scatter(&net->sp[l], net->params + net->w_off[l]);
}

/* The softmax cross-entropy (net_internal.h). */
void tf_net_softmax_xent(const float *z, size_t zi, size_t zj, const int32_t *y, int n, int c,
                         int n_mean, float *dz, double *loss_sum, long *correct) {
  double sum = 0.0;
  long hits = 0;
  for (int i = 0; i < n; i++) {
    const float *zr = z + (size_t)i * zi;
    int best = 0;
    for (int j = 1; j < c; j++)
      if (zr[j * zj] > zr[best * zj]) best = j;
    float mx = zr[best * zj];
    float s = 0.0f;
    /* With dz, the exponentials wait there for the sum, to be computed once. */
    float *dr = dz != NULL ? dz + (size_t)i * zi : NULL;
    for (int j = 0; j < c; j++) {
      float e = expf(zr[j * zj] - mx);
      s += e;
      if (dr != NULL) dr[j * zj] = e;
    }
    float lse = mx + logf(s);
    sum += (double)(lse - zr[y[i] * zj]);
    hits += best == y[i];
    if (dr != NULL)
      for (int j = 0; j < c; j++)
        dr[j * zj] = (dr[j * zj] / s - (j == y[i] ? 1.0f : 0.0f)) / (float)n_mean;
  }
  *loss_sum += sum;
  if (correct != NULL) *correct += hits;
}

/* The elementwise kernels below take restrict pointers and run each loop over a multiple of 8
 * elements before the rest, so that gcc vectorises them at -O2 too (its cheapest cost model
 * refuses loops that need a scalar epilogue). */

/* z (rows, cols) += b, b[j] added to column j (row-major batches) or to row j (feature-major,
 * b_per_row), then ReLU on hidden layers: bias and activation in one pass. */
static void add_bias(float *restrict z, size_t ldz, const float *restrict b, int rows, int cols,
                     int b_per_row, int hidden) {
  size_t c8 = (size_t)cols & ~(size_t)7;
  for (int i = 0; i < rows; i++) {
    float *restrict zi = z + (size_t)i * ldz;
    if (b_per_row) {
      const float bi = b[i];
      if (hidden) {
        for (size_t j = 0; j < c8; j++) zi[j] = relu(zi[j] + bi);
        for (size_t j = c8; j < (size_t)cols; j++) zi[j] = relu(zi[j] + bi);
      } else {
        for (size_t j = 0; j < c8; j++) zi[j] += bi;
        for (size_t j = c8; j < (size_t)cols; j++) zi[j] += bi;
      }
    } else if (hidden) {
      for (size_t j = 0; j < c8; j++) zi[j] = relu(zi[j] + b[j]);
      for (size_t j = c8; j < (size_t)cols; j++) zi[j] = relu(zi[j] + b[j]);
    } else {
      for (size_t j = 0; j < c8; j++) zi[j] += b[j];
      for (size_t j = c8; j < (size_t)cols; j++) zi[j] += b[j];
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

/* da *= ReLU'(pre-activation), read from the activation a: a > 0 exactly where the
 * pre-activation was. Rows of `cols` elements, ld apart. */
static void relu_backward(float *restrict da, const float *restrict a, int rows, size_t cols,
                          size_t ld) {
  size_t c8 = cols & ~(size_t)7;
  for (int i = 0; i < rows; i++) {
    float *restrict d = da + (size_t)i * ld;
    const float *restrict ai = a + (size_t)i * ld;
    for (size_t j = 0; j < c8; j++) d[j] = ai[j] > 0.0f ? d[j] : 0.0f;
    for (size_t j = c8; j < cols; j++) d[j] = ai[j] > 0.0f ? d[j] : 0.0f;
  }
}

/* Lanes [from, to) of every row of a feature-major matrix set to +0: padding examples carry no
 * gradient, so the lane sums of the sparse kernels see exact zeros there. */
static void zero_lanes(float *x, int rows, size_t ld, size_t from, size_t to) {
  if (from >= to) return;
  for (int i = 0; i < rows; i++) memset(x + (size_t)i * ld + from, 0, (to - from) * sizeof *x);
}

/* The optimiser's update of layer l (net_internal.h). */
void tf_net_update_layer(tf_net_t *net, tf_optim_t *opt, int l) {
  size_t out = (size_t)net->rows[l], in = (size_t)net->cols[l];
  if (net->sparse[l]) {
    tf_sparse_t *sp = &net->sp[l];
    tf_optim_update(opt, net->w_off[l], sp->val, sp->grad, NULL, (size_t)sp->nnz);
    tf_optim_update(opt, net->b_off[l], net->params + net->b_off[l], net->grads + net->b_off[l],
                    NULL, out);
  } else {
    /* Weights and bias are adjacent: one pass; the mask is 1 on the bias. */
    size_t o = net->w_off[l];
    tf_optim_update(opt, o, net->params + o, net->grads + o, net->full[l] ? NULL : net->mask + o,
                    out * in + out);
  }
}

/* ---- Row-major batches (the dense plan) ---- */

/* act[1..n_layers] for input x (n rows); act[n_layers] holds the logits. */
static void forward_rm(tf_net_t *net, const float *x, int n) {
  const float *a = x;
  if (net->n_conv > 0) {
    tf_net_conv_forward(net, x, n);
    a = net->act[net->n_conv];
  }
  for (int l = net->n_conv; l < net->n_layers; l++) {
    int in = net->sizes[l], out = net->sizes[l + 1];
    const float *w = net->params + net->w_off[l];
    float *z = net->act[l + 1];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, a, in, w, in, 0.0f, z,
                out);
    add_bias(z, (size_t)out, net->params + net->b_off[l], n, out, 0, l + 1 < net->n_layers);
    a = z;
  }
}

static float train_rm(tf_net_t *net, const float *x, const int32_t *y, int n, tf_optim_t *opt) {
  int nl = net->n_layers;
  forward_rm(net, x, n);
  double loss = 0.0;
  int c = net->sizes[nl];
  tf_net_softmax_xent(net->act[nl], (size_t)c, 1, y, n, c, n, net->delta[nl], &loss, NULL);

  for (int l = nl - 1; l >= net->n_conv; l--) {
    int in = net->sizes[l], out = net->sizes[l + 1];
    const float *a = l == 0 ? x : net->act[l];
    const float *dz = net->delta[l + 1];
    float *gw = net->grads + net->w_off[l];
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, dz, out, a, in, 0.0f,
                gw, in);
    column_sums(net->grads + net->b_off[l], dz, n, out);
    if (l > 0) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dz, out,
                  net->params + net->w_off[l], in, 0.0f, net->delta[l], in);
      relu_backward(net->delta[l], net->act[l], n, (size_t)in, (size_t)in);
    }
    /* Straight after the layer's last use of its weights, while its gradient is in cache. */
    if (opt != NULL) tf_net_update_layer(net, opt, l);
  }
  if (net->n_conv > 0) tf_net_conv_backward(net, x, net->delta[net->n_conv], n, opt);
  return (float)(loss / n);
}

/* ---- Feature-major batches (a plan with a sparse layer) ---- */

/* A feature-major batch is cut into blocks of up to BLOCK examples, each a (features, lanes)
 * matrix of its own, stored one after the other, so that the rows a kernel reads together lie
 * close together (1,000 images in one matrix would put each of a block's rows in its own page).
 * A training batch of up to BLOCK examples is one block. */
#define BLOCK 64

typedef struct block {
  int first, count; /* examples [first, first + count) */
  int nv;           /* vectors per row */
  size_t lanes;     /* nv * TF_SPARSE_LANES: the block's row length */
} block_t;

static int vectors(int n) { return (n + TF_SPARSE_LANES - 1) / TF_SPARSE_LANES; }

static int n_blocks(int n) { return (n + BLOCK - 1) / BLOCK; }

static block_t block_of(int n, int b) {
  block_t bk;
  bk.first = b * BLOCK;
  bk.count = n - bk.first < BLOCK ? n - bk.first : BLOCK;
  bk.nv = vectors(bk.count);
  bk.lanes = (size_t)bk.nv * TF_SPARSE_LANES;
  return bk;
}

/* The block's matrix within a batch of `features`-long examples: every block before it is full,
 * BLOCK lanes wide. */
static float *block_at(float *m, int features, const block_t *bk) {
  return m + (size_t)bk->first * (size_t)features;
}

/* Row-major src (n, dim) into feature-major blocks dst, padding lanes zero. */
static void rows_to_blocks(const float *src, int dim, int n, float *dst) {
  for (int bi = 0; bi < n_blocks(n); bi++) {
    const block_t bk = block_of(n, bi);
    float *xb = block_at(dst, dim, &bk);
    for (int i = 0; i < bk.count; i++)
      for (int k = 0; k < dim; k++)
        xb[(size_t)k * bk.lanes + (size_t)i] = src[(size_t)(bk.first + i) * dim + (size_t)k];
    zero_lanes(xb, dim, bk.lanes, (size_t)bk.count, bk.lanes);
  }
}

/* Feature-major blocks src back into row-major dst (n, dim). */
static void blocks_to_rows(float *src, int dim, int n, float *dst) {
  for (int bi = 0; bi < n_blocks(n); bi++) {
    const block_t bk = block_of(n, bi);
    const float *xb = block_at(src, dim, &bk);
    for (int i = 0; i < bk.count; i++)
      for (int k = 0; k < dim; k++)
        dst[(size_t)(bk.first + i) * dim + (size_t)k] = xb[(size_t)k * bk.lanes + (size_t)i];
  }
}

/* The convolution layers on row-major x, their output transposed into act[n_conv] for the dense
 * layers of a feature-major plan. */
static void conv_forward_fm(tf_net_t *net, const float *x, int n) {
  tf_net_conv_forward(net, x, n);
  rows_to_blocks(net->flat, net->sizes[net->n_conv], n, net->act[net->n_conv]);
}

/* act[n_conv + 1..n_layers] for the n examples in net->x (or, after convolutions, in
 * act[n_conv]); all lanes of every block are computed (the padding ones from zero inputs), so
 * every lane a kernel reads is finite and set by this batch. */
static void forward_fm(tf_net_t *net, int n) {
  const int l0 = net->n_conv;
  for (int bi = 0; bi < n_blocks(n); bi++) {
    const block_t bk = block_of(n, bi);
    const int ld = (int)bk.lanes;
    const float *a = block_at(l0 > 0 ? net->act[l0] : net->x, net->sizes[l0], &bk);
    for (int l = l0; l < net->n_layers; l++) {
      int in = net->sizes[l], out = net->sizes[l + 1];
      int hidden = l + 1 < net->n_layers;
      const float *b = net->params + net->b_off[l];
      float *z = block_at(net->act[l + 1], out, &bk);
      if (net->sparse[l]) {
        tf_sparse_forward(&net->sp[l], a, bk.lanes, bk.nv, b, hidden, z);
      } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, out, ld, in, 1.0f,
                    net->params + net->w_off[l], in, a, ld, 0.0f, z, ld);
        add_bias(z, bk.lanes, b, out, ld, 1, hidden);
      }
      a = z;
    }
  }
}

/* Adds the summed loss of the n examples to *loss_sum and their hits to *correct; with dz (the
 * training step) writes the loss gradient, zero in padding lanes. */
static void softmax_fm(tf_net_t *net, const int32_t *y, int n, float *dz, double *loss_sum,
                       long *correct) {
  const int c = net->sizes[net->n_layers];
  for (int bi = 0; bi < n_blocks(n); bi++) {
    const block_t bk = block_of(n, bi);
    float *dzb = dz != NULL ? block_at(dz, c, &bk) : NULL;
    tf_net_softmax_xent(block_at(net->act[net->n_layers], c, &bk), 1, bk.lanes, y + bk.first,
                        bk.count, c, n, dzb, loss_sum, correct);
    if (dzb != NULL) zero_lanes(dzb, c, bk.lanes, (size_t)bk.count, bk.lanes);
  }
}

/* x: the row-major input of the convolution layers (unused without them: the input is in
 * net->x). */
static float train_fm(tf_net_t *net, const float *x, const int32_t *y, int n, tf_optim_t *opt) {
  const int nl = net->n_layers;
  if (net->n_conv > 0) conv_forward_fm(net, x, n);
  forward_fm(net, n);
  double loss = 0.0;
  softmax_fm(net, y, n, net->delta[nl], &loss, NULL);

  for (int l = nl - 1; l >= net->n_conv; l--) {
    int in = net->sizes[l], out = net->sizes[l + 1];
    const float *w = net->params + net->w_off[l];
    /* Gradients over the batch: the first block writes them, later blocks add theirs. */
    for (int bi = 0; bi < n_blocks(n); bi++) {
      const block_t bk = block_of(n, bi);
      const int ld = (int)bk.lanes, more = bi > 0;
      const float *a = block_at(l == 0 ? net->x : net->act[l], in, &bk);
      const float *dz = block_at(net->delta[l + 1], out, &bk);
      if (net->sparse[l])
        tf_sparse_weight_grad(&net->sp[l], dz, a, bk.lanes, bk.nv, more);
      else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, out, in, bk.count, 1.0f, dz, ld, a,
                    ld, more ? 1.0f : 0.0f, net->grads + net->w_off[l], in);
      tf_sparse_row_sums(dz, out, bk.lanes, bk.nv, more, net->grads + net->b_off[l]);
      if (l == 0) continue;
      const float *act = block_at(net->act[l], in, &bk);
      float *da = block_at(net->delta[l], in, &bk);
      if (net->sparse[l]) {
        tf_sparse_backward(&net->sp[l], dz, act, bk.lanes, bk.nv, da);
      } else {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, bk.count, out, 1.0f, w, in, dz,
                    ld, 0.0f, da, ld);
        relu_backward(da, act, in, (size_t)bk.count, bk.lanes);
      }
      zero_lanes(da, in, bk.lanes, (size_t)bk.count, bk.lanes);
    }
    if (opt != NULL) tf_net_update_layer(net, opt, l);
  }
  if (net->n_conv > 0) {
    blocks_to_rows(net->delta[net->n_conv], net->sizes[net->n_conv], n, net->dflat);
    tf_net_conv_backward(net, x, net->dflat, n, opt);
  }
  return (float)(loss / n);
}

/* Row-major x (n, dim) into net->x feature-major, padding lanes zero. */
static void transpose_in(tf_net_t *net, const float *x, int n) {
  rows_to_blocks(x, net->sizes[0], n, net->x);
}

/* ---- The public entry points ---- */

/* Images idx[0..count) into x (count, dim) row-major as (float)v / 255.0f, the bits of
 * tf_data_gather's table (test_sparse checks every byte), in a loop that vectorises. */
static TF_CLONES void gather_rows(const tf_images_t *images, const int32_t *idx, int count,
                                  float *restrict x) {
  const size_t dim = (size_t)images->dim, d16 = dim & ~(size_t)15;
  for (int i = 0; i < count; i++) {
    const uint8_t *restrict src = images->pixels + (size_t)idx[i] * dim;
    float *restrict dst = x + (size_t)i * dim;
    for (size_t k = 0; k < d16; k++) dst[k] = (float)src[k] / 255.0f;
    for (size_t k = d16; k < dim; k++) dst[k] = (float)src[k] / 255.0f;
  }
}

void tf_net_gather(tf_net_t *net, const tf_images_t *images, const int32_t *idx, int count,
                   int32_t *y) {
  for (int i = 0; i < count; i++) y[i] = images->labels[idx[i]];
  /* Convolutions read whole images: their input is row-major in every plan. */
  if (!net->feature_major || net->n_conv > 0) {
    gather_rows(images, idx, count, net->x);
    return;
  }
  for (int bi = 0; bi < n_blocks(count); bi++) {
    const block_t bk = block_of(count, bi);
    tf_sparse_gather(images->pixels, (size_t)images->dim, idx + bk.first, bk.count,
                     block_at(net->x, images->dim, &bk));
  }
}

void tf_net_normalize(tf_net_t *net, const int32_t *idx, int count, const float *scale,
                      const float *shift, int channels, const float *image_scale) {
  const size_t dim = (size_t)net->sizes[0], plane = dim / (size_t)channels;
  if (!net->feature_major) {
    for (int i = 0; i < count; i++)
      for (int c = 0; c < channels; c++) {
        const float a = image_scale != NULL ? image_scale[idx[i]] : scale[c], sh = shift[c];
        float *x = net->x + (size_t)i * dim + (size_t)c * plane;
        for (size_t k = 0; k < plane; k++) x[k] = x[k] * a + sh;
      }
    return;
  }
  for (int bi = 0; bi < n_blocks(count); bi++) {
    const block_t bk = block_of(count, bi);
    float *xb = block_at(net->x, net->sizes[0], &bk);
    float a[BLOCK];
    for (int c = 0; c < channels; c++) {
      for (int i = 0; i < bk.count; i++)
        a[i] = image_scale != NULL ? image_scale[idx[bk.first + i]] : scale[c];
      const float sh = shift[c];
      for (size_t k = (size_t)c * plane; k < (size_t)(c + 1) * plane; k++)
        for (int i = 0; i < bk.count; i++) xb[k * bk.lanes + i] = xb[k * bk.lanes + i] * a[i] + sh;
    }
  }
}

float tf_net_step(tf_net_t *net, tf_optim_t *opt, const int32_t *y, int n) {
  tf_optim_begin_step(opt);
  return net->feature_major ? train_fm(net, net->x, y, n, opt) : train_rm(net, net->x, y, n, opt);
}

void tf_net_update(tf_net_t *net, tf_optim_t *opt) {
  tf_optim_begin_step(opt);
  for (int l = net->n_layers - 1; l >= 0; l--) tf_net_update_layer(net, opt, l);
}

float tf_net_train_grad(tf_net_t *net, const float *x, const int32_t *y, int n) {
  if (!net->feature_major) return train_rm(net, x, y, n, NULL);
  if (net->n_conv == 0) transpose_in(net, x, n);
  return train_fm(net, x, y, n, NULL);
}

void tf_net_eval_batch(tf_net_t *net, const int32_t *y, int n, double *loss_sum, long *correct) {
  int nl = net->n_layers, c = net->sizes[nl];
  if (net->feature_major) {
    if (net->n_conv > 0) conv_forward_fm(net, net->x, n);
    forward_fm(net, n);
    softmax_fm(net, y, n, NULL, loss_sum, correct);
  } else {
    forward_rm(net, net->x, n);
    tf_net_softmax_xent(net->act[nl], (size_t)c, 1, y, n, c, n, NULL, loss_sum, correct);
  }
}

/* Batches longer than the workspace are evaluated in chunks of max_batch rows. */
void tf_net_eval(tf_net_t *net, const float *x, const int32_t *y, int n, double *loss_sum,
                 long *correct) {
  int nl = net->n_layers, c = net->sizes[nl];
  for (int i0 = 0; i0 < n; i0 += net->max_batch) {
    int m = n - i0 < net->max_batch ? n - i0 : net->max_batch;
    const float *xi = x + (size_t)i0 * net->sizes[0];
    if (net->feature_major) {
      if (net->n_conv > 0)
        conv_forward_fm(net, xi, m);
      else
        transpose_in(net, xi, m);
      forward_fm(net, m);
      softmax_fm(net, y + i0, m, NULL, loss_sum, correct);
    } else {
      forward_rm(net, xi, m);
      tf_net_softmax_xent(net->act[nl], (size_t)c, 1, y + i0, m, c, m, NULL, loss_sum, correct);
    }
  }
}
