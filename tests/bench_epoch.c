/* Benchmark: one epoch (1,000 steps of batch 60) of dense LeNet-300-100 training with Adam on
 * one thread, against the time of the eight SGEMM calls those steps need, measured in one run.
 *   bench_epoch [repeats]   (meson test --benchmark) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ticketfarm/data.h"
#include "ticketfarm/net.h"
#include "ticketfarm/optim.h"
#include "ticketfarm/rng.h"

#define STEPS 1000
#define BATCH 60

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The matrix products of STEPS training steps and nothing else: per layer Z = A W^T, dW = dZ^T A,
 * and dA = dZ W for every layer but the first. */
static double sgemm_only(const tf_net_t *net, float *a[], float *dz[], float *dw) {
  double t0 = now_s();
  for (int s = 0; s < STEPS; s++) {
    for (int l = 0; l < net->n_layers; l++) {
      int in = net->sizes[l], out = net->sizes[l + 1];
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, out, in, 1.0f, a[l], in,
                  net->params + net->w_off[l], in, 0.0f, a[l + 1], out);
    }
    for (int l = net->n_layers - 1; l >= 0; l--) {
      int in = net->sizes[l], out = net->sizes[l + 1];
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, BATCH, 1.0f, dz[l + 1], out,
                  a[l], in, 0.0f, dw + net->w_off[l], in);
      if (l > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BATCH, in, out, 1.0f, dz[l + 1],
                    out, net->params + net->w_off[l], in, 0.0f, dz[l], in);
    }
  }
  return now_s() - t0;
}

int main(int argc, char **argv) {
  int repeats = argc > 1 ? atoi(argv[1]) : 3;
  openblas_set_num_threads(1);
  tf_config_t cfg;
  tf_config_default(&cfg);
  tf_net_t net;
  tf_err_t err = {0};
  if (tf_net_create(&net, 784, cfg.hidden, cfg.n_hidden, 10, BATCH, &err) < 0) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  tf_optim_t opt;
  if (tf_optim_create(&opt, &cfg, net.n_params, &err) < 0) return 1;
  tf_rng_t rng;
  tf_rng_seed(&rng, 1, TF_STREAM_INIT, 0, 0);
  for (size_t i = 0; i < net.n_params; i++) net.params[i] = (float)(0.05 * tf_rng_normal(&rng));

  /* Batches from MNIST when it is there (the real gather cost), random pixels otherwise. */
  tf_dataset_t ds;
  int have_data = tf_data_load(&ds, tf_data_root(), "mnist", &err) == 0;
  int32_t *idx = malloc(STEPS * BATCH * sizeof *idx);
  float *x = malloc((size_t)BATCH * 784 * sizeof *x);
  int32_t *y = malloc(BATCH * sizeof *y);
  float *a[TF_MAX_LAYERS + 1], *dz[TF_MAX_LAYERS + 1];
  for (int l = 0; l <= net.n_layers; l++) {
    a[l] = calloc((size_t)BATCH * net.sizes[l], sizeof(float));
    dz[l] = calloc((size_t)BATCH * net.sizes[l], sizeof(float));
  }
  float *dw = calloc(net.n_params, sizeof(float));
  for (int i = 0; i < STEPS * BATCH; i++) idx[i] = (int32_t)tf_rng_below(&rng, 60000);
  for (int i = 0; i < BATCH * 784; i++) a[0][i] = (float)tf_rng_uniform(&rng);
  for (int i = 0; i < BATCH; i++) y[i] = (int32_t)tf_rng_below(&rng, 10);

  double best_sgemm = 1e30, best_train = 1e30;
  for (int r = 0; r < repeats; r++) {
    double s = sgemm_only(&net, a, dz, dw);
    if (s < best_sgemm) best_sgemm = s;
    double t0 = now_s();
    for (int step = 0; step < STEPS; step++) {
      if (have_data) tf_data_gather(&ds.train, idx + step * BATCH, BATCH, x, y);
      tf_net_train_grad(&net, have_data ? x : a[0], y, BATCH);
      tf_optim_step(&opt, net.params, net.grads, net.mask);
    }
    double t = now_s() - t0;
    if (t < best_train) best_train = t;
  }
  printf("dense epoch (1000 steps, batch 60, LeNet-300-100, adam, %s): %.3f s\n",
         have_data ? "MNIST batches" : "random batches", best_train);
  printf("sgemm only (8 calls per step, same shapes):                  %.3f s\n", best_sgemm);
  printf("ratio epoch / sgemm: %.2f (best of %d)\n", best_train / best_sgemm, repeats);
  for (int l = 0; l <= net.n_layers; l++) {
    free(a[l]);
    free(dz[l]);
  }
  free(dw);
  free(idx);
  free(x);
  free(y);
  if (have_data) tf_data_free(&ds);
  tf_optim_free(&opt);
  tf_net_free(&net);
  return 0;
}
