/* Tests of the MLP: gradients against finite differences, BLAS against the naive loops, eval,
 * the argmax tie rule, stability on large logits, the parameter layout and input checks. */
#include "ticketfarm/net.h"

#include <stdint.h>

#include "test.h"

static uint64_t rand_state = 0x243f6a8885a308d3ull;

/* splitmix64: test data independent of the library's own generator. */
static double urand(void) {
  uint64_t z = (rand_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1.0p-53;
}

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

/* Central differences of the double-precision loss for every parameter, against fn's gradient.
 * Masked weights must have a gradient of exactly zero although their true derivative is not. */
static void check_gradient(grad_fn fn) {
  int hidden[2] = {5, 4};
  enum { N = 4 };
  tf_net_t net;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_net_create(&net, 7, hidden, 2, 3, N, &err), 0);
  randomise_net(&net, 0.25);
  float x[N * 7];
  int32_t y[N];
  fill_uniform(x, N * 7, -1.0, 1.0);
  random_labels(y, N, 3);

  float loss = fn(&net, x, y, N);
  double *p = calloc(net.n_params, sizeof *p);
  for (size_t k = 0; k < net.n_params; k++) p[k] = net.params[k];
  ASSERT_NEAR(loss, loss_double(&net, p, x, y, N), 1e-6 * loss_double(&net, p, x, y, N));

  const double h = 1e-5;
  int masked = 0, masked_nonzero = 0, checked = 0;
  for (size_t k = 0; k < net.n_params; k++) {
    double orig = p[k];
    p[k] = orig + h;
    double lp = loss_double(&net, p, x, y, N);
    p[k] = orig - h;
    double lm = loss_double(&net, p, x, y, N);
    p[k] = orig;
    double fd = (lp - lm) / (2.0 * h);
    if (net.mask[k] == 0.0f) {
      masked++;
      masked_nonzero += fabs(fd) > 1e-4;
      ASSERT(net.grads[k] == 0.0f);
    } else {
      ASSERT_NEAR(net.grads[k], fd, 5e-7 + 1e-5 * fabs(fd));
      checked++;
    }
  }
  ASSERT(masked >= 5);
  ASSERT(masked_nonzero >= 3);
  ASSERT_INT_EQ(checked + masked, (long long)net.n_params);
  free(p);
  tf_net_free(&net);
}

static void test_net_gradient_matches_finite_differences_blas(void) {
  check_gradient(tf_net_train_grad);
}

static void test_net_gradient_matches_finite_differences_naive(void) {
  check_gradient(tf_net_train_grad_naive);
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
 * a short one; masked weights get exactly zero in both; the BLAS step repeats bit for bit. */
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
      for (size_t i = 0; i < nw; i++) {
        ASSERT_NEAR(g_blas[w + i], g_naive[w + i], 1e-5 * fabs(g_naive[w + i]) + 1e-7);
        if (net.mask[w + i] == 0.0f) ASSERT(g_blas[w + i] == 0.0f && g_naive[w + i] == 0.0f);
      }
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

int main(void) {
  RUN(test_net_layout_lenet_300_100);
  RUN(test_net_create_rejects_bad_sizes);
  RUN(test_net_gradient_matches_finite_differences_blas);
  RUN(test_net_gradient_matches_finite_differences_naive);
  RUN(test_net_blas_matches_naive_lenet);
  RUN(test_net_eval_matches_naive_and_train_loss);
  RUN(test_net_eval_argmax_ties_to_lower_class);
  RUN(test_net_softmax_stable_for_large_logits);
  return 0;
}
