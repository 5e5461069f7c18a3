/* Tests of networks with convolution layers: the layer layout of LeNet-5 and Conv-2, gradients
 * of a whole small conv net against finite differences and the direct-loop reference, sparse and
 * dense conv paths within a stated tolerance, pruned weights kept at zero by every optimiser,
 * Conv-2's exact layerwise prune counts, and the initialisers' conv fans. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "ticketfarm/config.h"
#include "ticketfarm/init.h"
#include "ticketfarm/net.h"
#include "ticketfarm/optim.h"
#include "ticketfarm/prune.h"
#include "ticketfarm/rng.h"
#include "ticketfarm/ticket.h"

static uint64_t rand_state = 0x9e3779b97f4a7c15ull;

static double urand(void) { return tf_test_urand(&rand_state); }

static tf_model_t preset_model(tf_model_preset_t preset) {
  tf_config_t cfg;
  tf_config_default(&cfg);
  cfg.preset = preset;
  tf_model_t m;
  tf_config_model(&cfg, &m);
  return m;
}

/* A small net: 2 x 7 x 6 images, conv 3@3x3 same, pool, conv 4@2x2 valid, hidden 5, 3 classes:
 * a same and a valid convolution, an odd image for the pool, an even kernel. */
static tf_model_t small_model(void) {
  tf_model_t m = {0};
  m.n_conv = 2;
  m.channels[0] = 3;
  m.kernel[0] = 3;
  m.padding[0] = TF_CONV_SAME;
  m.pool[0] = 1;
  m.channels[1] = 4;
  m.kernel[1] = 2;
  m.padding[1] = TF_CONV_VALID;
  m.n_hidden = 1;
  m.hidden[0] = 5;
  return m;
}

static void random_params(tf_net_t *net, double scale) {
  for (size_t i = 0; i < net->n_params; i++)
    net->params[i] = (float)(scale * (2.0 * urand() - 1.0));
}

static float *random_input(int n, int dim) {
  float *x = malloc((size_t)n * (size_t)dim * sizeof *x);
  ASSERT(x != NULL);
  for (size_t i = 0; i < (size_t)n * (size_t)dim; i++) x[i] = (float)urand();
  return x;
}

static void test_convnet_layout_of_lenet5_and_conv2(void) {
  tf_err_t err;
  tf_net_arch_t a;
  tf_model_t m = preset_model(TF_PRESET_LENET5);
  ASSERT_INT_EQ(tf_net_arch(&a, 1, 28, 28, &m, 10, &err), 0);
  ASSERT_INT_EQ(a.n_layers, 5);
  ASSERT_INT_EQ(a.n_conv, 2);
  /* 6@5x5 same on 28x28, pool to 14x14; 16@5x5 valid to 10x10, pool to 5x5 = 400 features. */
  static const int lenet_rows[] = {6, 16, 120, 84, 10}, lenet_cols[] = {25, 150, 400, 120, 84};
  static const int lenet_sizes[] = {784, 6 * 14 * 14, 400, 120, 84, 10};
  for (int l = 0; l < 5; l++) {
    ASSERT_INT_EQ(a.rows[l], lenet_rows[l]);
    ASSERT_INT_EQ(a.cols[l], lenet_cols[l]);
  }
  for (int l = 0; l <= 5; l++) ASSERT_INT_EQ(a.sizes[l], lenet_sizes[l]);
  ASSERT_INT_EQ(a.n_weights, 150 + 2400 + 48000 + 10080 + 840);
  ASSERT_INT_EQ(a.n_params, 61470 + 6 + 16 + 120 + 84 + 10);

  m = preset_model(TF_PRESET_CONV2);
  ASSERT_INT_EQ(tf_net_arch(&a, 3, 32, 32, &m, 10, &err), 0);
  static const int conv2_rows[] = {64, 64, 256, 256, 10};
  static const int conv2_cols[] = {27, 576, 16384, 256, 256};
  ASSERT_INT_EQ(a.n_layers, 5);
  for (int l = 0; l < 5; l++) {
    ASSERT_INT_EQ(a.rows[l], conv2_rows[l]);
    ASSERT_INT_EQ(a.cols[l], conv2_cols[l]);
  }
  ASSERT_INT_EQ(a.conv[0].fan_out, 64 * 9);

  m = preset_model(TF_PRESET_CONV6);
  ASSERT_INT_EQ(tf_net_arch(&a, 3, 32, 32, &m, 10, &err), 0);
  ASSERT_INT_EQ(a.n_conv, 6);
  ASSERT_INT_EQ(a.sizes[6], 256 * 4 * 4);

  /* Conv-6 pools MNIST to 3 x 3 and then cannot pool again. */
  m = preset_model(TF_PRESET_CONV6);
  ASSERT_INT_EQ(tf_net_arch(&a, 1, 28, 28, &m, 10, &err), 0);
  ASSERT_INT_EQ(a.sizes[6], 256 * 3 * 3);
  tf_model_t bad = small_model();
  bad.kernel[1] = 9;
  ASSERT_INT_EQ(tf_net_arch(&a, 2, 7, 6, &bad, 3, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "model.conv: convolution 2");
}

/* The loss of the gathered input as tf_net_eval computes it, in double for the differences. */
static double eval_loss(tf_net_t *net, const float *x, const int32_t *y, int n) {
  double loss = 0.0;
  long correct = 0;
  tf_net_eval(net, x, y, n, &loss, &correct);
  return loss / n;
}

static void test_convnet_gradient_matches_finite_differences_and_reference(void) {
  const int n = 5, classes = 3;
  tf_model_t m = small_model();
  tf_net_t net;
  tf_err_t err;
  ASSERT_INT_EQ(tf_net_create_model(&net, 2, 7, 6, &m, classes, 8, &err), 0);
  random_params(&net, 0.5);
  float *x = random_input(n, net.sizes[0]);
  int32_t y[5] = {0, 2, 1, 1, 0};
  float *g = malloc(net.n_params * sizeof *g);
  ASSERT(g != NULL);
  float loss = tf_net_train_grad(&net, x, y, n);
  memcpy(g, net.grads, net.n_params * sizeof *g);
  float loss_ref = tf_net_train_grad_naive(&net, x, y, n);
  ASSERT_NEAR(loss, loss_ref, 1e-6);
  /* SGEMM and the loops sum in other orders: rounding-level differences only. */
  for (size_t i = 0; i < net.n_params; i++)
    ASSERT_NEAR(g[i], net.grads[i], 1e-5 + 1e-4 * fabsf(net.grads[i]));

  /* Central differences on every parameter, the loss in float: with h = 1e-3 on O(1) activations
   * the truncation error is O(h^2) and rounding about 1e-7 / h = 1e-4; a parameter whose step
   * moves a ReLU or a pool's argmax across its kink may differ more (h = 1e-2 does that for 5%
   * of the first layer's weights), so 1% are allowed to. */
  const float h = 1e-3f;
  int checked = 0, off = 0;
  double worst = 0.0;
  for (size_t i = 0; i < net.n_params; i++) {
    float keep = net.params[i];
    net.params[i] = keep + h;
    double lp = eval_loss(&net, x, y, n);
    net.params[i] = keep - h;
    double lm = eval_loss(&net, x, y, n);
    net.params[i] = keep;
    double fd = (lp - lm) / (2.0 * h);
    double diff = fabs(fd - (double)g[i]);
    if (diff > 1e-3 + 1e-2 * fabs(fd)) off++;
    if (diff > worst) worst = diff;
    checked++;
  }
  ASSERT_INT_EQ(checked, (int)net.n_params);
  if (off > 0) fprintf(stderr, "%d of %d off, worst %g\n", off, checked, worst);
  ASSERT(off * 100 <= checked);
  free(g);
  free(x);
  tf_net_free(&net);
}

/* Masks every layer to about `density` of its weights, from a fixed stream. */
static void random_mask(tf_net_t *net, double density) {
  for (int l = 0; l < net->n_layers; l++) {
    float *mk = net->mask + net->w_off[l];
    float *w = net->params + net->w_off[l];
    for (size_t i = 0; i < tf_net_layer_weights(net, l); i++) {
      mk[i] = urand() < density ? 1.0f : 0.0f;
      w[i] *= mk[i];
    }
  }
}

/* Sparse and dense conv layers compute the same sums in other orders. Each result is a sum of at
 * most T = fan_in + 1 terms for a forward output, batch * pixels for a weight gradient; with
 * |terms| <= 1 here the two differ by at most 2 gamma_T times the sum of absolute values
 * (tests/test_conv.c). Through the layers of this small net (O(1) values, at most a few hundred
 * terms per sum) that is below 1e-4 relative: the tolerance is |a - b| <= 1e-5 + 1e-4 |b|. */
static void test_convnet_sparse_and_dense_conv_paths_agree(void) {
  const int n = 6, classes = 3;
  tf_model_t m = small_model();
  tf_net_t net;
  tf_err_t err;
  ASSERT_INT_EQ(tf_net_create_model(&net, 2, 7, 6, &m, classes, 8, &err), 0);
  random_params(&net, 0.5);
  random_mask(&net, 0.4);
  float *x = random_input(n, net.sizes[0]);
  int32_t y[6] = {0, 2, 1, 1, 0, 2};
  float *gd = malloc(net.n_params * sizeof *gd), *gs = malloc(net.n_params * sizeof *gs);
  ASSERT(gd != NULL && gs != NULL);

  ASSERT_INT_EQ(tf_net_plan(&net, 0.0, &err), 0);
  float ld = tf_net_train_grad(&net, x, y, n);
  memcpy(gd, net.grads, net.n_params * sizeof *gd);
  double eval_d = eval_loss(&net, x, y, n);

  ASSERT_INT_EQ(tf_net_plan(&net, 1.0, &err), 0);
  for (int l = 0; l < net.n_layers; l++) ASSERT_INT_EQ(net.sparse[l], 1);
  ASSERT_INT_EQ(net.feature_major, 1);
  float ls = tf_net_train_grad(&net, x, y, n);
  for (size_t i = 0; i < net.n_params; i++) gs[i] = net.grads[i];
  /* A sparse layer's weight gradient is packed: scatter it into the slab layout. */
  for (int l = 0; l < net.n_layers; l++) {
    float *dst = gs + net.w_off[l];
    memset(dst, 0, tf_net_layer_weights(&net, l) * sizeof *dst);
    const tf_sparse_t *sp = &net.sp[l];
    for (int r = 0; r < sp->rows; r++)
      for (int32_t e = sp->row_ptr[r]; e < sp->row_ptr[r + 1]; e++)
        dst[(size_t)r * (size_t)sp->cols + (size_t)sp->col[e]] = sp->grad[e];
  }
  double eval_s = eval_loss(&net, x, y, n);
  ASSERT_NEAR(ls, ld, 1e-5 + 1e-4 * fabsf(ld));
  ASSERT_NEAR(eval_s, eval_d, 1e-5 + 1e-4 * fabs(eval_d));
  for (int l = 0; l < net.n_layers; l++) {
    const float *mk = net.mask + net.w_off[l];
    for (size_t i = 0; i < tf_net_layer_weights(&net, l); i++) {
      size_t o = net.w_off[l] + i;
      if (mk[i] != 0.0f) ASSERT_NEAR(gs[o], gd[o], 1e-5 + 1e-4 * fabsf(gd[o]));
    }
    for (int j = 0; j < net.rows[l]; j++) {
      size_t o = net.b_off[l] + (size_t)j;
      ASSERT_NEAR(gs[o], gd[o], 1e-5 + 1e-4 * fabsf(gd[o]));
    }
  }
  free(gd);
  free(gs);
  free(x);
  tf_net_free(&net);
}

static void train_steps_keep_pruned_zero(tf_optimizer_kind_t kind, double sparse_below) {
  const int n = 6, classes = 3;
  tf_model_t m = small_model();
  tf_net_t net;
  tf_err_t err;
  ASSERT_INT_EQ(tf_net_create_model(&net, 2, 7, 6, &m, classes, 8, &err), 0);
  random_params(&net, 0.5);
  random_mask(&net, 0.5);
  tf_config_t cfg;
  tf_config_default(&cfg);
  cfg.optimizer = kind;
  cfg.lr = 0.05;
  tf_optim_t opt;
  ASSERT_INT_EQ(tf_optim_create(&opt, &cfg, net.n_params, &err), 0);
  ASSERT_INT_EQ(tf_net_plan(&net, sparse_below, &err), 0);
  float *x = random_input(n, net.sizes[0]);
  int32_t y[6] = {0, 2, 1, 1, 0, 2};
  float *before = malloc(net.n_params * sizeof *before);
  ASSERT(before != NULL);
  memcpy(before, net.params, net.n_params * sizeof *before);
  for (int s = 0; s < 5; s++) {
    memcpy(net.x, x, (size_t)n * (size_t)net.sizes[0] * sizeof *x);
    float loss = tf_net_step(&net, &opt, y, n);
    ASSERT(isfinite(loss));
  }
  tf_net_sync(&net);
  size_t moved = 0;
  for (int l = 0; l < net.n_layers; l++) {
    const float *mk = net.mask + net.w_off[l];
    const float *w = net.params + net.w_off[l];
    for (size_t i = 0; i < tf_net_layer_weights(&net, l); i++) {
      if (mk[i] == 0.0f) {
        ASSERT(w[i] == 0.0f);
        ASSERT(!signbit(w[i]) || w[i] == 0.0f);
      } else {
        moved += w[i] != before[net.w_off[l] + i];
      }
    }
  }
  ASSERT(moved > 0);
  free(before);
  free(x);
  tf_optim_free(&opt);
  tf_net_free(&net);
}

static void test_convnet_pruned_weights_stay_zero_under_sgd_momentum_adam(void) {
  for (int k = 0; k < TF_OPT_COUNT; k++) {
    train_steps_keep_pruned_zero((tf_optimizer_kind_t)k, 0.0); /* dense kernels under the mask */
    train_steps_keep_pruned_zero((tf_optimizer_kind_t)k, 1.0); /* sparse kernels */
  }
}

/* Conv-2 on CIFAR-10, layerwise 10% of each convolution, 20% of each hidden layer, 10% of the
 * output layer per round (Frankle & Carbin): round(rate * remaining), halves up. */
static void test_convnet_conv2_prune_counts_are_exact(void) {
  tf_model_t m = preset_model(TF_PRESET_CONV2);
  tf_net_t net;
  tf_err_t err;
  ASSERT_INT_EQ(tf_net_create_model(&net, 3, 32, 32, &m, 10, 1, &err), 0);
  ASSERT_INT_EQ(net.n_weights, 4300992);
  for (size_t i = 0; i < net.n_params; i++) net.params[i] = (float)(urand() - 0.5);
  double rates[TF_MAX_LAYERS];
  tf_prune_rates(&net, 0.1, 0.2, 0.1, rates);
  static const long expect[4][5] = {
      {1728, 36864, 4194304, 65536, 2560},
      {1555, 33178, 3355443, 52429, 2304},
      {1399, 29860, 2684354, 41943, 2074},
      {1259, 26874, 2147483, 33554, 1867},
  };
  for (int r = 0; r < 4; r++) {
    long rem[TF_MAX_LAYERS];
    tf_prune_remaining(&net, net.mask, rem);
    for (int l = 0; l < 5; l++) ASSERT_INT_EQ(rem[l], expect[r][l]);
    ASSERT_INT_EQ(tf_prune_magnitude_layers(&net, net.params, net.mask, rates, 0, &err), 0);
  }
  tf_net_free(&net);
}

/* Glorot on a conv kernel uses fan_in = in_c k k and fan_out = out_c k k; orthogonal makes the
 * flattened (out_c, in_c k k) kernel's rows orthonormal. */
static void test_convnet_initialisers_use_conv_fans(void) {
  const int rows = 64, cols = 3 * 9, fan_out = 64 * 9;
  float *w = malloc((size_t)rows * cols * sizeof *w);
  ASSERT(w != NULL);
  tf_rng_t rng;
  tf_rng_seed(&rng, 5, TF_STREAM_INIT, 0, 0);
  tf_init_spec_t spec = {TF_INIT_GLOROT_NORMAL, NAN};
  tf_err_t err;
  ASSERT_INT_EQ(tf_init_fill_kernel(w, rows, cols, fan_out, cols, &spec, &rng, &err), 0);
  double ss = 0.0;
  for (int i = 0; i < rows * cols; i++) ss += (double)w[i] * w[i];
  double var = ss / (rows * cols), want = 2.0 / (cols + fan_out);
  ASSERT(fabs(var / want - 1.0) < 0.1); /* 1728 draws: the sample variance within 10% */

  spec = (tf_init_spec_t){TF_INIT_ORTHOGONAL, 1.0};
  const int oc = 6, fi = 25; /* LeNet-5's first layer: 6 rows of 25 */
  ASSERT_INT_EQ(tf_init_fill_kernel(w, oc, fi, oc * 25, fi, &spec, &rng, &err), 0);
  for (int a = 0; a < oc; a++)
    for (int b = 0; b < oc; b++) {
      double d = 0.0;
      for (int k = 0; k < fi; k++) d += (double)w[a * fi + k] * w[b * fi + k];
      ASSERT_NEAR(d, a == b ? 1.0 : 0.0, 1e-5);
    }
  free(w);
}

/* tf_ticket_shape and tf_config_check see conv models through the same layout. */
static void test_convnet_ticket_shape_and_config_rules(void) {
  tf_config_t cfg;
  tf_config_default(&cfg);
  cfg.preset = TF_PRESET_CONV2;
  strcpy(cfg.dataset, "cifar10");
  tf_ticket_shape_t s;
  tf_err_t err;
  ASSERT_INT_EQ(tf_ticket_shape(&cfg, &s, &err), 0);
  ASSERT_INT_EQ(s.n_layers, 5);
  ASSERT_INT_EQ(s.n_conv, 2);
  ASSERT(s.layer_size[0] == 1728 && s.layer_size[2] == 4194304);
  ASSERT_INT_EQ(s.layer_rows[1], 64);
  ASSERT_INT_EQ(s.layer_cols[1], 576);
  ASSERT_INT_EQ(s.n_weights, 4300992);
  ASSERT_INT_EQ(tf_config_check(&cfg, &err), 0);

  cfg.n_hidden = 1;
  ASSERT_INT_EQ(tf_config_check(&cfg, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "model.preset (conv2) describes the whole network");

  tf_config_default(&cfg);
  cfg.n_conv = 3;
  cfg.conv[0] = 8;
  cfg.conv[1] = TF_CONV_POOL;
  cfg.conv[2] = 16;
  cfg.kernel = 5;
  cfg.padding = TF_CONV_VALID;
  ASSERT_INT_EQ(tf_config_check(&cfg, &err), 0);
  ASSERT_INT_EQ(tf_ticket_shape(&cfg, &s, &err), 0);
  /* 28 -> 24, pool 12 -> 8: 16 * 8 * 8 features into the 300-unit layer */
  ASSERT(s.layer_size[2] == 300 * 16 * 8 * 8);
  cfg.kernel = 13;
  ASSERT_INT_EQ(tf_config_check(&cfg, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "model.conv: convolution 2");
}

int main(void) {
  RUN(test_convnet_layout_of_lenet5_and_conv2);
  RUN(test_convnet_gradient_matches_finite_differences_and_reference);
  RUN(test_convnet_sparse_and_dense_conv_paths_agree);
  RUN(test_convnet_pruned_weights_stay_zero_under_sgd_momentum_adam);
  RUN(test_convnet_conv2_prune_counts_are_exact);
  RUN(test_convnet_initialisers_use_conv_fans);
  RUN(test_convnet_ticket_shape_and_config_rules);
  return 0;
}
