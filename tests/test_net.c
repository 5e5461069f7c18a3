/* Tests of the MLP: gradients against finite differences, BLAS against the naive loops, eval,
 * the argmax tie rule, stability on large logits, the parameter layout and input checks, and the
 * sparse plan against the dense masked reference: layer choice, gathering, gradients, the fused
 * step, and a few hundred training steps. */
#include "ticketfarm/net.h"

#include <stdint.h>

#include "ticketfarm/config.h"
#include "ticketfarm/data.h"
#include "ticketfarm/prune.h"
#include "ticketfarm/sparse.h"

#include "test.h"

static uint64_t rand_state = 0x243f6a8885a308d3ull;

static double urand(void) { return tf_test_urand(&rand_state); }

static void fill_uniform(float *a, size_t n, double lo, double hi) {
  for (size_t i = 0; i < n; i++) a[i] = (float)(lo + (hi - lo) * urand());
}

/* Glorot-uniform weights, small random biases, a mask pruning about `pruned` of the weights. */
static void randomise_net(tf_net_t *net, double pruned) {
  for (int l = 0; l < net->n_layers; l++) {
    int in = net->sizes[l], out = net->sizes[l + 1];
    double a = sqrt(6.0 / (in + out));
    size_t nw = (size_t)in * out;
    fill_uniform(net->params + net->w_off[l], nw, -a, a);
    fill_uniform(net->params + net->b_off[l], (size_t)out, -0.1, 0.1);
    for (size_t i = 0; i < nw; i++) net->mask[net->w_off[l] + i] = urand() < pruned ? 0.0f : 1.0f;
  }
}

static void random_labels(int32_t *y, int n, int classes) {
  for (int i = 0; i < n; i++) y[i] = (int32_t)(urand() * classes);
}

/* Mean cross-entropy of the net with parameters p, computed independently in double. */
static double loss_double(const tf_net_t *net, const double *p, const float *x, const int32_t *y,
                          int n) {
  double total = 0.0;
  double a[64], z[64];
  for (int i = 0; i < n; i++) {
    int width = net->sizes[0];
    for (int k = 0; k < width; k++) a[k] = x[(size_t)i * width + k];
    for (int l = 0; l < net->n_layers; l++) {
      int in = net->sizes[l], out = net->sizes[l + 1];
      for (int j = 0; j < out; j++) {
        double s = p[net->b_off[l] + j];
        for (int k = 0; k < in; k++) s += p[net->w_off[l] + (size_t)j * in + k] * a[k];
        z[j] = s;
      }
      for (int j = 0; j < out; j++) a[j] = l + 1 < net->n_layers && z[j] < 0.0 ? 0.0 : z[j];
    }
    int c = net->sizes[net->n_layers];
    double mx = a[0], s = 0.0;
    for (int j = 1; j < c; j++) mx = a[j] > mx ? a[j] : mx;
    for (int j = 0; j < c; j++) s += exp(a[j] - mx);
    total += mx + log(s) - a[y[i]];
  }
  return total / n;
}

typedef float (*grad_fn)(tf_net_t *, const float *, const int32_t *, int);

/* The gradient of parameter k after a training step: from sp[l].grad for a sparse layer's kept
 * weight, NAN for its pruned ones (they have none), net->grads otherwise. */
static float grad_at(const tf_net_t *net, size_t k) {
  for (int l = 0; l < net->n_layers; l++) {
    size_t nw = (size_t)net->sizes[l] * net->sizes[l + 1];
    if (!net->sparse[l] || k < net->w_off[l] || k >= net->w_off[l] + nw) continue;
    size_t i = k - net->w_off[l];
    int row = (int)(i / net->sizes[l]), col = (int)(i % net->sizes[l]);
    const tf_sparse_t *sp = &net->sp[l];
    for (int32_t e = sp->row_ptr[row]; e < sp->row_ptr[row + 1]; e++)
      if (sp->col[e] == col) return sp->grad[e];
    return NAN;
  }
  return net->grads[k];
}

/* Central differences of the double-precision loss for every parameter, against fn's gradient
 * in the plan of sparse_below. Pruned weights get their true derivative on dense layers (the
 * optimiser drops it) and none on sparse ones, whose pruned weights are zero. */
static void check_gradient(grad_fn fn, double sparse_below) {
  int hidden[2] = {5, 4};
  enum { N = 4 };
  tf_net_t net;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_net_create(&net, 7, hidden, 2, 3, N, &err), 0);
  randomise_net(&net, 0.25);
  if (sparse_below > 0.0)
    for (size_t k = 0; k < net.n_params; k++) net.params[k] *= net.mask[k];
  ASSERT_INT_EQ(tf_net_plan(&net, sparse_below, &err), 0);
  ASSERT_INT_EQ(net.feature_major, sparse_below > 0.0);
  float x[N * 7];
  int32_t y[N];
  fill_uniform(x, N * 7, -1.0, 1.0);
  random_labels(y, N, 3);

  float loss = fn(&net, x, y, N);
  double *p = calloc(net.n_params, sizeof *p);
  for (size_t k = 0; k < net.n_params; k++) p[k] = net.params[k];
  ASSERT_NEAR(loss, loss_double(&net, p, x, y, N), 1e-6 * loss_double(&net, p, x, y, N));

  const double h = 1e-5;
  int masked = 0, checked = 0;
  for (size_t k = 0; k < net.n_params; k++) {
    float g = grad_at(&net, k);
    if (isnan(g)) {
      ASSERT(net.mask[k] == 0.0f);
      masked++;
      continue;
    }
    double orig = p[k];
    p[k] = orig + h;
    double lp = loss_double(&net, p, x, y, N);
    p[k] = orig - h;
    double lm = loss_double(&net, p, x, y, N);
    p[k] = orig;
    double fd = (lp - lm) / (2.0 * h);
    ASSERT_NEAR(g, fd, 5e-7 + 1e-5 * fabs(fd));
    checked++;
  }
  ASSERT(sparse_below > 0.0 ? masked >= 5 : masked == 0);
  ASSERT_INT_EQ(checked + masked, (long long)net.n_params);
  free(p);
  tf_net_free(&net);
}

static void test_net_gradient_matches_finite_differences_blas(void) {
  check_gradient(tf_net_train_grad, 0.0);
}

static void test_net_gradient_matches_finite_differences_sparse(void) {
  check_gradient(tf_net_train_grad, 1.0);
}

static void test_net_gradient_matches_finite_differences_naive(void) {
  check_gradient(tf_net_train_grad_naive, 0.0);
}

static void test_net_layout_lenet_300_100(void) {
  int hidden[2] = {300, 100};
  size_t nw = 0;
  ASSERT_INT_EQ(tf_net_count_params(784, hidden, 2, 10, &nw), 266610);
  ASSERT_INT_EQ(nw, 266200);

  tf_net_t net;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_net_create(&net, 784, hidden, 2, 10, 60, &err), 0);
  ASSERT_INT_EQ(net.n_layers, 3);
  ASSERT_INT_EQ(net.n_params, 266610);
  ASSERT_INT_EQ(net.n_weights, 266200);
  ASSERT_INT_EQ(net.sizes[0], 784);
  ASSERT_INT_EQ(net.sizes[3], 10);
  ASSERT_INT_EQ(net.w_off[0], 0);
  ASSERT_INT_EQ(net.b_off[0], 235200);
  ASSERT_INT_EQ(net.w_off[1], 235500);
  ASSERT_INT_EQ(net.b_off[1], 265500);
  ASSERT_INT_EQ(net.w_off[2], 265600);
  ASSERT_INT_EQ(net.b_off[2], 266600);
  ASSERT_INT_EQ(((uintptr_t)net.params) % 64, 0);
  ASSERT_INT_EQ(((uintptr_t)net.mask) % 64, 0);
  for (size_t i = 0; i < net.n_params; i++) {
    ASSERT(net.params[i] == 0.0f);
    ASSERT(net.mask[i] == 1.0f);
  }
  tf_net_free(&net);
}

static void test_net_create_rejects_bad_sizes(void) {
  int good[2] = {5, 4}, zero[2] = {5, 0};
  tf_net_t net;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_net_create(&net, 0, good, 2, 3, 4, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "input size 0");
  ASSERT_INT_EQ(tf_net_create(&net, 7, zero, 2, 3, 4, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "hidden layer 1");
  ASSERT_INT_EQ(tf_net_create(&net, 7, good, -1, 3, 4, &err), TF_EINPUT);
  ASSERT_INT_EQ(tf_net_create(&net, 7, good, TF_MAX_HIDDEN + 1, 3, 4, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "hidden layers");
  ASSERT_INT_EQ(tf_net_create(&net, 7, good, 2, 0, 4, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "output size 0");
  ASSERT_INT_EQ(tf_net_create(&net, 7, good, 2, 3, 0, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "batch size 0");
  tf_net_free(&net);
  ASSERT_INT_EQ(tf_net_create(&net, 7, NULL, 0, 3, 1, &err), 0);
  ASSERT_INT_EQ(net.n_layers, 1);
  ASSERT_INT_EQ(net.n_params, 7 * 3 + 3);
  tf_net_free(&net);
}

/* Largest |a - b| relative to the largest |b| over n entries. */
static double max_rel_diff(const float *a, const float *b, size_t n) {
  double scale = 0.0, diff = 0.0;
  for (size_t i = 0; i < n; i++) {
    scale = fmax(scale, fabs(b[i]));
    diff = fmax(diff, fabs((double)a[i] - b[i]));
  }
  return scale > 0.0 ? diff / scale : diff;
}

/* BLAS and naive agree on the loss and on every gradient of LeNet-300-100, for a full batch and
 * a short one; the BLAS step repeats bit for bit. */
static void test_net_blas_matches_naive_lenet(void) {
  int hidden[2] = {300, 100};
  enum { B = 60, D = 784 };
  tf_net_t net;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_net_create(&net, D, hidden, 2, 10, B, &err), 0);
  randomise_net(&net, 0.2);
  float *x = malloc((size_t)B * D * sizeof *x);
  int32_t y[B];
  fill_uniform(x, (size_t)B * D, 0.0, 1.0);
  random_labels(y, B, 10);
  float *g_naive = malloc(net.n_params * sizeof *g_naive);
  float *g_blas = malloc(net.n_params * sizeof *g_blas);

  int batches[2] = {B, 37};
  for (int t = 0; t < 2; t++) {
    int n = batches[t];
    float ln = tf_net_train_grad_naive(&net, x, y, n);
    memcpy(g_naive, net.grads, net.n_params * sizeof *g_naive);
    float lb = tf_net_train_grad(&net, x, y, n);
    memcpy(g_blas, net.grads, net.n_params * sizeof *g_blas);
    ASSERT(isfinite(lb) && lb > 0.5f);
    ASSERT_NEAR(lb, ln, 1e-5 * ln);
    for (int l = 0; l < net.n_layers; l++) {
      size_t nw = (size_t)net.sizes[l] * net.sizes[l + 1];
      size_t w = net.w_off[l], b = net.b_off[l];
      ASSERT(max_rel_diff(g_blas + w, g_naive + w, nw) <= 1e-5);
      ASSERT(max_rel_diff(g_blas + b, g_naive + b, (size_t)net.sizes[l + 1]) <= 1e-5);
      for (size_t i = 0; i < nw; i++)
        ASSERT_NEAR(g_blas[w + i], g_naive[w + i], 1e-5 * fabs(g_naive[w + i]) + 1e-7);
    }
    ASSERT(tf_net_train_grad(&net, x, y, n) == lb);
    ASSERT(memcmp(net.grads, g_blas, net.n_params * sizeof *g_blas) == 0);
  }
  free(g_naive);
  free(g_blas);
  free(x);
  tf_net_free(&net);
}

/* eval equals the naive eval, matches the training loss, accumulates, and splits batches longer
 * than max_batch without changing the result. */
static void test_net_eval_matches_naive_and_train_loss(void) {
  int hidden[2] = {300, 100};
  enum { N = 150, D = 784 };
  tf_net_t net, big;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_net_create(&net, D, hidden, 2, 10, 60, &err), 0);
  ASSERT_INT_EQ(tf_net_create(&big, D, hidden, 2, 10, N, &err), 0);
  randomise_net(&net, 0.0);
  memcpy(big.params, net.params, net.n_params * sizeof *net.params);
  float *x = malloc((size_t)N * D * sizeof *x);
  int32_t y[N];
  fill_uniform(x, (size_t)N * D, 0.0, 1.0);
  random_labels(y, N, 10);
  /* Make some predictions right so the hit count is not trivially zero. */
  for (int i = 0; i < N; i += 3) {
    double ls = 0.0;
    long c = 0;
    tf_net_eval(&big, x + (size_t)i * D, y + i, 1, &ls, &c);
    int best = 0;
    for (int j = 1; j < 10; j++)
      if (big.act[3][j] > big.act[3][best]) best = j;
    y[i] = best;
  }

  double lb = 0.0, ln = 0.0, lbig = 0.0;
  long cb = 0, cn = 0, cbig = 0;
  tf_net_eval(&net, x, y, N, &lb, &cb);
  tf_net_eval_naive(&net, x, y, N, &ln, &cn);
  tf_net_eval(&big, x, y, N, &lbig, &cbig);
  ASSERT_NEAR(lb, ln, 1e-5 * ln);
  ASSERT_INT_EQ(cb, cn);
  ASSERT_NEAR(lbig, lb, 1e-5 * lb);
  ASSERT_INT_EQ(cbig, cb);
  ASSERT(cb >= N / 3 && cb < N);

  double l60 = 0.0;
  long c60 = 0;
  tf_net_eval(&net, x, y, 60, &l60, &c60);
  float lt = tf_net_train_grad(&net, x, y, 60);
  ASSERT_NEAR(lt, l60 / 60, 1e-6 * lt);

  tf_net_eval(&net, x, y, N, &lb, &cb);
  ASSERT_NEAR(lb, 2 * ln, 1e-5 * ln);
  ASSERT_INT_EQ(cb, 2 * cn);
  free(x);
  tf_net_free(&net);
  tf_net_free(&big);
}

/* Logits (1, 3, 3, 0) from biases: classes 1 and 2 tie, and only label 1 counts as correct. */
static void test_net_eval_argmax_ties_to_lower_class(void) {
  int hidden[1] = {2};
  tf_net_t net;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_net_create(&net, 3, hidden, 1, 4, 8, &err), 0);
  const float logits[4] = {1.0f, 3.0f, 3.0f, 0.0f};
  memcpy(net.params + net.b_off[1], logits, sizeof logits);
  float x[3 * 3];
  fill_uniform(x, 9, -1.0, 1.0);
  int32_t y[3] = {2, 1, 0};
  double lse = log(exp(1.0) + 2.0 * exp(3.0) + exp(0.0));
  double want = (lse - 3.0) + (lse - 3.0) + (lse - 1.0);

  double loss = 0.0;
  long correct = 0;
  tf_net_eval(&net, x, y, 3, &loss, &correct);
  ASSERT_INT_EQ(correct, 1);
  ASSERT_NEAR(loss, want, 1e-6);
  loss = 0.0;
  correct = 0;
  tf_net_eval_naive(&net, x, y, 3, &loss, &correct);
  ASSERT_INT_EQ(correct, 1);
  ASSERT_NEAR(loss, want, 1e-6);
  y[0] = 1;
  correct = 0;
  tf_net_eval(&net, x, y, 1, &loss, &correct);
  ASSERT_INT_EQ(correct, 1);
  tf_net_free(&net);
}

/* Logits (1000, 0, -1000) would overflow exp without the max shift: the loss is 0 for the right
 * class and 1000 for the second, and the output-bias gradient is (softmax - onehot) / n. */
static void test_net_softmax_stable_for_large_logits(void) {
  tf_net_t net;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_net_create(&net, 2, NULL, 0, 3, 2, &err), 0);
  const float logits[3] = {1000.0f, 0.0f, -1000.0f};
  memcpy(net.params + net.b_off[0], logits, sizeof logits);
  float x[4] = {0.5f, -0.25f, 1.0f, 2.0f};
  int32_t y[2] = {0, 1};
  float loss = tf_net_train_grad(&net, x, y, 2);
  ASSERT_NEAR(loss, 500.0, 1e-3);
  const float *gb = net.grads + net.b_off[0];
  ASSERT_NEAR(gb[0], 0.5, 1e-7);
  ASSERT_NEAR(gb[1], -0.5, 1e-7);
  ASSERT_NEAR(gb[2], 0.0, 1e-7);
  /* dW = dZ^T x: only the second example has a non-zero dZ row (0.5, -0.5, 0). */
  ASSERT_NEAR(net.grads[0], 0.5 * 1.0, 1e-7);
  ASSERT_NEAR(net.grads[1], 0.5 * 2.0, 1e-7);
  ASSERT_NEAR(net.grads[2], -0.5 * 1.0, 1e-7);
  ASSERT_NEAR(net.grads[5], 0.0, 1e-7);
  double ls = 0.0;
  long c = 0;
  tf_net_eval(&net, x, y, 2, &ls, &c);
  ASSERT_NEAR(ls, 1000.0, 1e-3);
  ASSERT_INT_EQ(c, 1);
  ASSERT_NEAR(tf_net_train_grad_naive(&net, x, y, 2), 500.0, 1e-3);
  tf_net_free(&net);
}

/* Synthetic images holding every byte value, labelled by a fixed rule so that a net can learn
 * them: the label is the position of the brightest of ten pixel groups. */
typedef struct synth {
  tf_images_t im;
  uint8_t *pixels, *labels;
} synth_t;

static void synth_make(synth_t *s, int n, int dim) {
  s->pixels = malloc((size_t)n * dim);
  s->labels = malloc((size_t)n);
  for (int i = 0; i < n; i++) {
    uint8_t *px = s->pixels + (size_t)i * dim;
    for (int k = 0; k < dim; k++) px[k] = urand() < 0.7 ? 0 : (uint8_t)(urand() * 256.0);
    px[i % dim] = (uint8_t)(i % 256); /* every byte value occurs */
    int best = 0;
    long sum[10] = {0};
    for (int k = 0; k < dim; k++) sum[k % 10] += px[k];
    for (int c = 1; c < 10; c++)
      if (sum[c] > sum[best]) best = c;
    s->labels[i] = (uint8_t)best;
  }
  s->im = (tf_images_t){.n = n, .dim = dim, .pixels = s->pixels, .labels = s->labels};
}

static void synth_free(synth_t *s) {
  free(s->pixels);
  free(s->labels);
}

/* LeNet-300-100 with about `keep` of each hidden layer's weights and `keep_out` of the output
 * layer's, pruned weights zero as a ticket's are. */
static void lenet_pruned(tf_net_t *net, int max_batch, double keep, double keep_out) {
  int hidden[2] = {300, 100};
  ASSERT_INT_EQ(tf_net_create(net, 784, hidden, 2, 10, max_batch, NULL), 0);
  randomise_net(net, 0.0);
  for (int l = 0; l < net->n_layers; l++) {
    size_t nw = (size_t)net->sizes[l] * net->sizes[l + 1];
    double k = l == net->n_layers - 1 ? keep_out : keep;
    for (size_t i = 0; i < nw; i++)
      if (urand() >= k) net->mask[net->w_off[l] + i] = net->params[net->w_off[l] + i] = 0.0f;
  }
}

static void copy_net(tf_net_t *dst, const tf_net_t *src) {
  memcpy(dst->params, src->params, src->n_params * sizeof *src->params);
  memcpy(dst->mask, src->mask, src->n_params * sizeof *src->mask);
}

static void test_net_plan_chooses_layers_by_density(void) {
  tf_net_t net;
  lenet_pruned(&net, 60, 0.1, 1.0);
  /* layer 1 at about 50% */
  for (size_t i = 0; i < 30000; i++) net.mask[net.w_off[1] + i] = i % 2 ? 1.0f : 0.0f;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_net_plan(&net, 0.3, &err), 0);
  ASSERT(net.sparse[0] && !net.sparse[1] && !net.sparse[2] && net.feature_major);
  ASSERT(!net.full[0] && !net.full[1] && net.full[2]);
  long kept0 = 0;
  for (size_t i = 0; i < 235200; i++) kept0 += net.mask[i] != 0.0f;
  ASSERT_INT_EQ(net.sp[0].nnz, kept0);
  ASSERT_INT_EQ(tf_net_plan(&net, 0.5, &err), 0); /* exactly 50% is not below 0.5 */
  ASSERT(net.sparse[0] && !net.sparse[1]);
  ASSERT_INT_EQ(tf_net_plan(&net, 1.0, &err), 0); /* a full layer is never below 1 */
  ASSERT(net.sparse[0] && net.sparse[1] && !net.sparse[2]);
  ASSERT_INT_EQ(tf_net_plan(&net, 0.0, &err), 0);
  ASSERT(!net.sparse[0] && !net.sparse[1] && !net.sparse[2] && !net.feature_major);
  ASSERT(net.sp[0].nnz == 0 && net.sp[0].val == NULL);
  tf_net_free(&net);
}

/* In a sparse plan the batch is gathered feature-major in blocks of 64 examples: every value is
 * the bits tf_data_gather gives, padding lanes are +0, labels match. */
static void test_net_gather_feature_major_blocks_hold_the_row_major_values(void) {
  enum { N = 150, D = 784 };
  synth_t sy;
  synth_make(&sy, 300, D);
  tf_net_t net;
  lenet_pruned(&net, N, 0.1, 1.0);
  ASSERT_INT_EQ(tf_net_plan(&net, 0.3, NULL), 0);
  int32_t idx[N], y[N], yr[N];
  for (int i = 0; i < N; i++) idx[i] = (int32_t)((i * 7 + 3) % 300);
  idx[0] = 255; /* the image holding byte 255 */
  float *xr = malloc((size_t)N * D * sizeof *xr);
  tf_data_gather(&sy.im, idx, N, xr, yr);
  tf_net_gather(&net, &sy.im, idx, N, y);
  const int first[3] = {0, 64, 128}, count[3] = {64, 64, 22}, lanes[3] = {64, 64, 32};
  for (int b = 0; b < 3; b++) {
    const float *xb = net.x + (size_t)first[b] * D;
    for (int k = 0; k < D; k++)
      for (int i = 0; i < lanes[b]; i++) {
        float v = xb[(size_t)k * lanes[b] + i];
        if (i < count[b]) {
          ASSERT(memcmp(&v, &xr[(size_t)(first[b] + i) * D + k], sizeof v) == 0);
        } else {
          uint32_t u;
          memcpy(&u, &v, sizeof u);
          ASSERT_INT_EQ(u, 0);
        }
      }
  }
  for (int i = 0; i < N; i++) ASSERT_INT_EQ(y[i], yr[i]);
  free(xr);
  tf_net_free(&net);
  synth_free(&sy);
}

/* Sparse and dense plans give the same loss and gradients within float rounding (1e-6 of the
 * loss, 1e-5 of a layer's largest gradient), for a 60-example batch (one block) and a
 * 150-example one (three blocks), and the same evaluation. */
/* Input (i, k) of the last gather of `count` images, in either layout. */
static float input_at(const tf_net_t *net, int count, int i, int k) {
  const int dim = net->sizes[0];
  if (!net->feature_major) return net->x[(size_t)i * dim + k];
  const int first = i / 64 * 64, in_block = count - first < 64 ? count - first : 64;
  const int lanes = (in_block + TF_SPARSE_LANES - 1) / TF_SPARSE_LANES * TF_SPARSE_LANES;
  return net->x[(size_t)first * dim + (size_t)k * lanes + (i - first)];
}

/* standardize on images of several channels (a CIFAR-10 record is 3 planes): each channel gets
 * its own pair, so every channel of the training split has mean 0 and variance 1, in both
 * layouts, here with 4 planes of 196 pixels whose brightness differs by channel. */
static void test_net_standardize_maps_each_channel_to_mean_0_variance_1(void) {
  enum { N = 600, D = 784, B = 100, C = 4, P = D / C };
  synth_t sy;
  synth_make(&sy, N, D);
  for (int i = 0; i < N; i++)
    for (int c = 0; c < C; c++)
      for (int k = 0; k < P; k++) {
        uint8_t *px = sy.pixels + (size_t)i * D + (size_t)c * P + k;
        *px = (uint8_t)(*px / (c + 1) + 40 * c);
      }
  tf_split_t split;
  ASSERT_INT_EQ(tf_data_split(&split, N, 100, 1, NULL), 0);
  tf_data_norm_t one, per;
  ASSERT_INT_EQ(tf_data_norm_create(&one, TF_NORMALIZE_STANDARDIZE, 1, &sy.im, &sy.im, &split,
                                    NULL), 0);
  ASSERT_INT_EQ(tf_data_norm_create(&per, TF_NORMALIZE_STANDARDIZE, C, &sy.im, &sy.im, &split,
                                    NULL), 0);
  ASSERT_INT_EQ(per.channels, C);
  ASSERT(per.shift[0] != per.shift[C - 1] && per.scale[0] != per.scale[C - 1]);
  ASSERT_INT_EQ(tf_data_norm_create(&one, TF_NORMALIZE_STANDARDIZE, 3, &sy.im, &sy.im, &split,
                                    NULL), TF_EINPUT);
  tf_net_t net;
  lenet_pruned(&net, B, 0.1, 1.0);
  int32_t y[B];
  for (int plan = 0; plan < 2; plan++) {
    ASSERT_INT_EQ(tf_net_plan(&net, plan ? 0.3 : 0.0, NULL), 0);
    double sum[C] = {0}, sum2[C] = {0};
    for (int32_t first = 0; first < split.n_train; first += B) {
      const int count = split.n_train - first < B ? split.n_train - first : B;
      const int32_t *idx = split.train_idx + first;
      tf_net_gather(&net, &sy.im, idx, count, y);
      tf_net_normalize(&net, idx, count, per.scale, per.shift, C, NULL);
      for (int i = 0; i < count; i++)
        for (int k = 0; k < D; k++) {
          double x = input_at(&net, count, i, k);
          sum[k / P] += x;
          sum2[k / P] += x * x;
        }
    }
    for (int c = 0; c < C; c++) {
      const double cells = (double)split.n_train * P, mean = sum[c] / cells;
      ASSERT_NEAR(mean, 0.0, 1e-5);
      ASSERT_NEAR(sum2[c] / cells - mean * mean, 1.0, 1e-5);
    }
  }
  tf_net_free(&net);
  tf_data_norm_free(&per);
  tf_data_split_free(&split);
  synth_free(&sy);
}

/* data.normalize through the gather of both layouts: standardize gives inputs of mean 0 and
 * variance 1 over the training split's images (its statistics also map the held-out ones), l2
 * gives every image norm 1, unit changes nothing (the gather's own p / 255). */
static void test_net_normalized_inputs_have_the_promised_moments(void) {
  enum { N = 1000, D = 784, B = 100 };
  synth_t sy;
  synth_make(&sy, N, D);
  tf_split_t split;
  ASSERT_INT_EQ(tf_data_split(&split, N, 200, 1, NULL), 0);
  tf_data_norm_t unit, standard, l2;
  ASSERT_INT_EQ(tf_data_norm_create(&unit, TF_NORMALIZE_UNIT, 1, &sy.im, &sy.im, &split, NULL), 0);
  ASSERT_INT_EQ(unit.active, 0);
  ASSERT(unit.train_scale == NULL && unit.test_scale == NULL);
  ASSERT_INT_EQ(tf_data_norm_create(&standard, TF_NORMALIZE_STANDARDIZE, 1, &sy.im, &sy.im,
                                    &split, NULL), 0);
  ASSERT_INT_EQ(tf_data_norm_create(&l2, TF_NORMALIZE_L2, 1, &sy.im, &sy.im, &split, NULL), 0);
  ASSERT(standard.active && l2.active && l2.train_scale != NULL);
  tf_net_t net;
  lenet_pruned(&net, B, 0.1, 1.0);
  int32_t y[B];
  for (int plan = 0; plan < 2; plan++) {
    ASSERT_INT_EQ(tf_net_plan(&net, plan ? 0.3 : 0.0, NULL), 0);
    ASSERT_INT_EQ(net.feature_major, plan);
    double sum = 0, sum2 = 0, worst_norm = 0;
    for (int32_t first = 0; first < split.n_train; first += B) {
      const int count = split.n_train - first < B ? split.n_train - first : B;
      const int32_t *idx = split.train_idx + first;
      tf_net_gather(&net, &sy.im, idx, count, y);
      tf_net_normalize(&net, idx, count, standard.scale, standard.shift, 1, NULL);
      for (int i = 0; i < count; i++)
        for (int k = 0; k < D; k++) {
          double x = input_at(&net, count, i, k);
          sum += x;
          sum2 += x * x;
        }
      tf_net_gather(&net, &sy.im, idx, count, y);
      tf_net_normalize(&net, idx, count, l2.scale, l2.shift, 1, l2.train_scale);
      for (int i = 0; i < count; i++) {
        double n2 = 0;
        for (int k = 0; k < D; k++) n2 += (double)input_at(&net, count, i, k) * input_at(&net, count, i, k);
        worst_norm = fmax(worst_norm, fabs(sqrt(n2) - 1.0));
      }
    }
    const double cells = (double)split.n_train * D, mean = sum / cells;
    ASSERT_NEAR(mean, 0.0, 1e-5);
    ASSERT_NEAR(sum2 / cells - mean * mean, 1.0, 1e-5);
    ASSERT(worst_norm < 1e-5);
    /* a held-out image is mapped by the training split's pair */
    const int32_t v = split.val_idx[0];
    tf_net_gather(&net, &sy.im, &v, 1, y);
    tf_net_normalize(&net, &v, 1, standard.scale, standard.shift, 1, NULL);
    for (int k = 0; k < D; k++) {
      float want = (float)sy.im.pixels[(size_t)v * D + k] / 255.0f * standard.scale[0] + standard.shift[0];
      ASSERT(input_at(&net, 1, 0, k) == want);
    }
  }
  tf_net_free(&net);
  tf_data_norm_free(&unit);
  tf_data_norm_free(&standard);
  tf_data_norm_free(&l2);
  tf_data_split_free(&split);
  synth_free(&sy);
}

static void test_net_sparse_plan_matches_dense_gradients_and_eval(void) {
  enum { N = 150, D = 784 };
  tf_net_t dense, sparse;
  lenet_pruned(&dense, N, 0.2, 0.9);
  ASSERT_INT_EQ(tf_net_create(&sparse, D, dense.sizes + 1, 2, 10, N, NULL), 0);
  copy_net(&sparse, &dense);
  ASSERT_INT_EQ(tf_net_plan(&dense, 0.0, NULL), 0);
  ASSERT_INT_EQ(tf_net_plan(&sparse, 1.0, NULL), 0);
  ASSERT(sparse.sparse[0] && sparse.sparse[1] && sparse.sparse[2]);
  float *x = malloc((size_t)N * D * sizeof *x);
  int32_t y[N];
  fill_uniform(x, (size_t)N * D, 0.0, 1.0);
  random_labels(y, N, 10);
  const int batches[2] = {60, N};
  for (int t = 0; t < 2; t++) {
    int n = batches[t];
    float ld = tf_net_train_grad(&dense, x, y, n);
    float ls = tf_net_train_grad(&sparse, x, y, n);
    ASSERT_NEAR(ls, ld, 1e-6 * ld);
    for (int l = 0; l < 3; l++) {
      size_t nw = (size_t)dense.sizes[l] * dense.sizes[l + 1], out = (size_t)dense.sizes[l + 1];
      double scale = 0.0, diff = 0.0;
      for (size_t i = 0; i < nw; i++) {
        size_t k = dense.w_off[l] + i;
        if (dense.mask[k] == 0.0f) continue;
        scale = fmax(scale, fabs(dense.grads[k]));
        diff = fmax(diff, fabs((double)grad_at(&sparse, k) - dense.grads[k]));
      }
      ASSERT(scale > 0.0 && diff <= 1e-5 * scale);
      const size_t b = dense.b_off[l];
      ASSERT(max_rel_diff(sparse.grads + b, dense.grads + b, out) <= 1e-5);
    }
  }
  double lsd = 0.0, lss = 0.0;
  long cd = 0, cs = 0;
  tf_net_eval(&dense, x, y, N, &lsd, &cd);
  tf_net_eval(&sparse, x, y, N, &lss, &cs);
  ASSERT_NEAR(lss, lsd, 1e-6 * lsd);
  ASSERT_INT_EQ(cs, cd);
  free(x);
  tf_net_free(&dense);
  tf_net_free(&sparse);
}

/* tf_net_step (gather, fused update) equals tf_net_train_grad then tf_net_update bit for bit, in
 * the dense plan and in a sparse one, over a few steps of Adam. */
static void test_net_step_equals_gradient_then_update(void) {
  enum { B = 60, D = 784, STEPS = 4 };
  synth_t sy;
  synth_make(&sy, 600, D);
  tf_config_t cfg;
  tf_config_default(&cfg);
  for (int plan = 0; plan < 2; plan++) {
    tf_net_t a, b;
    lenet_pruned(&a, B, 0.2, 0.9);
    ASSERT_INT_EQ(tf_net_create(&b, D, a.sizes + 1, 2, 10, B, NULL), 0);
    copy_net(&b, &a);
    ASSERT_INT_EQ(tf_net_plan(&a, plan ? 0.3 : 0.0, NULL), 0);
    ASSERT_INT_EQ(tf_net_plan(&b, plan ? 0.3 : 0.0, NULL), 0);
    tf_optim_t oa, ob;
    ASSERT_INT_EQ(tf_optim_create(&oa, &cfg, a.n_params, NULL), 0);
    ASSERT_INT_EQ(tf_optim_create(&ob, &cfg, b.n_params, NULL), 0);
    float *x = malloc((size_t)B * D * sizeof *x);
    int32_t idx[B], ya[B], yb[B];
    for (int s = 0; s < STEPS; s++) {
      for (int i = 0; i < B; i++) idx[i] = (int32_t)((s * B + i * 13) % 600);
      tf_net_gather(&a, &sy.im, idx, B, ya);
      float la = tf_net_step(&a, &oa, ya, B);
      tf_data_gather(&sy.im, idx, B, x, yb);
      float lb = tf_net_train_grad(&b, x, yb, B);
      tf_net_update(&b, &ob);
      ASSERT(la == lb);
    }
    tf_net_sync(&a);
    tf_net_sync(&b);
    ASSERT(memcmp(a.params, b.params, a.n_params * sizeof *a.params) == 0);
    ASSERT(memcmp(oa.m, ob.m, a.n_params * sizeof *oa.m) == 0);
    free(x);
    tf_optim_free(&oa);
    tf_optim_free(&ob);
    tf_net_free(&a);
    tf_net_free(&b);
  }
  synth_free(&sy);
}

/* The sparse path trains like the dense masked reference: 300 steps of Adam (and 100 of SGD and
 * of momentum, and 100 of each with weight decay, Nesterov momentum, warm-up and a step
 * schedule) from the same weights and masks give per-step losses within 1e-4 (relative) of
 * each other and final weights within 1e-3 of the largest weight (measured: 1e-7 and about
 * 1e-6); pruned weights are exactly +0.0f in both, and pruning both gives the same masks. */
static void test_net_sparse_training_tracks_dense_reference(void) {
  enum { B = 60, D = 784, VARIANTS = 6 };
  synth_t sy;
  synth_make(&sy, 3000, D);
  const tf_optimizer_kind_t kinds[VARIANTS] = {TF_OPT_ADAM, TF_OPT_SGD,      TF_OPT_MOMENTUM,
                                               TF_OPT_ADAM, TF_OPT_SGD,      TF_OPT_MOMENTUM};
  const int steps[VARIANTS] = {300, 100, 100, 100, 100, 100};
  for (int o = 0; o < VARIANTS; o++) {
    tf_config_t cfg;
    tf_config_default(&cfg);
    cfg.optimizer = kinds[o];
    cfg.lr = kinds[o] == TF_OPT_ADAM ? 1.2e-3 : 0.05;
    if (o >= 3) {
      cfg.weight_decay = 5e-3;
      cfg.nesterov = 1;
      cfg.warmup = 20;
      cfg.n_milestones = 2;
      cfg.milestones[0] = 50;
      cfg.milestones[1] = 80;
      cfg.gamma = 0.5;
    }
    tf_net_t dense, sparse;
    lenet_pruned(&dense, B, 0.1, 0.5);
    ASSERT_INT_EQ(tf_net_create(&sparse, D, dense.sizes + 1, 2, 10, B, NULL), 0);
    copy_net(&sparse, &dense);
    ASSERT_INT_EQ(tf_net_plan(&dense, 0.0, NULL), 0);
    ASSERT_INT_EQ(tf_net_plan(&sparse, TF_SPARSE_BELOW_DEFAULT, NULL), 0);
    ASSERT(sparse.sparse[0] && sparse.sparse[1]);
    tf_optim_t od, os;
    ASSERT_INT_EQ(tf_optim_create(&od, &cfg, dense.n_params, NULL), 0);
    ASSERT_INT_EQ(tf_optim_create(&os, &cfg, dense.n_params, NULL), 0);
    int32_t idx[B], yd[B], ys[B];
    double first = 0.0, last = 0.0, worst = 0.0;
    for (int s = 0; s < steps[o]; s++) {
      for (int i = 0; i < B; i++) idx[i] = (int32_t)((s * B + i) % 3000);
      tf_net_gather(&dense, &sy.im, idx, B, yd);
      tf_net_gather(&sparse, &sy.im, idx, B, ys);
      tf_optim_schedule(&od, s);
      tf_optim_schedule(&os, s);
      float ld = tf_net_step(&dense, &od, yd, B);
      float ls = tf_net_step(&sparse, &os, ys, B);
      worst = fmax(worst, fabs((double)ls - ld) / ld);
      if (s == 0) first = ld;
      last = ld;
    }
    tf_net_sync(&sparse);
    double scale = 0.0, diff = 0.0;
    for (size_t k = 0; k < dense.n_params; k++) {
      if (dense.mask[k] == 0.0f) {
        uint32_t ud, us;
        memcpy(&ud, &dense.params[k], sizeof ud);
        memcpy(&us, &sparse.params[k], sizeof us);
        ASSERT(ud == 0 && us == 0);
        continue;
      }
      scale = fmax(scale, fabs(dense.params[k]));
      diff = fmax(diff, fabs((double)sparse.params[k] - dense.params[k]));
    }
    fprintf(stderr, "      %s%s: loss %.4f -> %.4f, largest relative difference: loss %.2g, "
            "weights %.2g\n", tf_config_optimizer_name(kinds[o]),
            o >= 3 ? " (decay, nesterov, schedule)" : "", first, last, worst,
            diff / scale);
    if (o == 0) ASSERT(last < 0.8 * first); /* it learns */
    ASSERT(worst <= 1e-4);
    ASSERT(diff <= 1e-3 * scale);
    float *md = malloc(dense.n_params * sizeof *md), *ms = malloc(dense.n_params * sizeof *ms);
    memcpy(md, dense.mask, dense.n_params * sizeof *md);
    memcpy(ms, dense.mask, dense.n_params * sizeof *ms);
    const tf_prune_scope_t lw = TF_SCOPE_LAYERWISE;
    ASSERT_INT_EQ(tf_prune_magnitude(&dense, dense.params, md, 0.2, 0.1, lw, 0, NULL), 0);
    ASSERT_INT_EQ(tf_prune_magnitude(&dense, sparse.params, ms, 0.2, 0.1, lw, 0, NULL), 0);
    ASSERT(memcmp(md, ms, dense.n_params * sizeof *md) == 0);
    free(md);
    free(ms);
    tf_optim_free(&od);
    tf_optim_free(&os);
    tf_net_free(&dense);
    tf_net_free(&sparse);
  }
  synth_free(&sy);
}

int main(void) {
  RUN(test_net_layout_lenet_300_100);
  RUN(test_net_create_rejects_bad_sizes);
  RUN(test_net_gradient_matches_finite_differences_blas);
  RUN(test_net_gradient_matches_finite_differences_sparse);
  RUN(test_net_gradient_matches_finite_differences_naive);
  RUN(test_net_blas_matches_naive_lenet);
  RUN(test_net_eval_matches_naive_and_train_loss);
  RUN(test_net_eval_argmax_ties_to_lower_class);
  RUN(test_net_softmax_stable_for_large_logits);
  RUN(test_net_plan_chooses_layers_by_density);
  RUN(test_net_gather_feature_major_blocks_hold_the_row_major_values);
  RUN(test_net_normalized_inputs_have_the_promised_moments);
  RUN(test_net_sparse_plan_matches_dense_gradients_and_eval);
  RUN(test_net_step_equals_gradient_then_update);
  RUN(test_net_sparse_training_tracks_dense_reference);
  /* Last: it draws from the file's one random stream, which the tests above replay. */
  RUN(test_net_standardize_maps_each_channel_to_mean_0_variance_1);
  return 0;
}
