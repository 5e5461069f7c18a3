/* Benchmark: one epoch (1,000 steps of batch 60) of dense LeNet-300-100 training with Adam on
 * one thread, as a task runs it (gather, forward, backward, fused update), against the time of
 * the eight SGEMM calls those steps need, measured in one run; and the parts outside SGEMM.
 *   bench_epoch [repeats]   (meson test --benchmark) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ticketfarm/data.h"
#include "ticketfarm/net.h"
#include "ticketfarm/optim.h"
#include "ticketfarm/rng.h"

#define STEPS 1000
#define BATCH 60

/* Processor time of the process: on a shared machine other processes slow it less than they
 * slow the wall clock, and both sides of a ratio are measured the same way. */
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The matrix products of STEPS training steps and nothing else: per layer Z = A W^T, dW = dZ^T A,
 * and dA = dZ W for every layer but the first. */
static double sgemm_only(const tf_net_t *net, float *a[], float *dz[], float *dw) {
  double t0 = cpu_s();
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
  return cpu_s() - t0;
}

int main(int argc, char **argv) {
  int repeats = argc > 1 ? atoi(argv[1]) : 3;
  if (repeats < 1) repeats = 1;
  openblas_set_num_threads(1);
  tf_config_t cfg;
  tf_config_default(&cfg);
  tf_net_t net;
  tf_err_t err = {0};
  /* Room for 1,000-image evaluation chunks, as a task allocates it. */
  if (tf_net_create(&net, 784, cfg.hidden, cfg.n_hidden, 10, 1000, &err) < 0) {
    fprintf(stderr, "bench_epoch: %s\n", err.msg);
    return 1;
  }
  tf_optim_t opt;
  if (tf_optim_create(&opt, &cfg, net.n_params, &err) < 0) {
    fprintf(stderr, "bench_epoch: %s\n", err.msg);
    return 1;
  }
  tf_rng_t rng;
  tf_rng_seed(&rng, 1, TF_STREAM_INIT, 0, 0);
  for (size_t i = 0; i < net.n_params; i++) net.params[i] = (float)(0.05 * tf_rng_normal(&rng));

  /* Batches from MNIST when it is there, random pixels otherwise. */
  tf_dataset_t ds;
  int have_data = tf_data_load(&ds, tf_data_root(), "mnist", &err) == 0;
  uint8_t *rnd_pixels = NULL, *rnd_labels = NULL;
  tf_images_t images;
  if (have_data) {
    images = ds.train;
  } else {
    rnd_pixels = malloc((size_t)60000 * 784);
    rnd_labels = malloc(60000);
    for (size_t i = 0; i < (size_t)60000 * 784; i++)
      rnd_pixels[i] = (uint8_t)tf_rng_below(&rng, 256);
    for (int i = 0; i < 60000; i++) rnd_labels[i] = (uint8_t)tf_rng_below(&rng, 10);
    images = (tf_images_t){.n = 60000, .dim = 784, .pixels = rnd_pixels, .labels = rnd_labels};
  }
  int32_t *idx = malloc(STEPS * BATCH * sizeof *idx);
  int32_t y[BATCH];
  float *a[TF_MAX_LAYERS + 1], *dz[TF_MAX_LAYERS + 1];
  for (int l = 0; l <= net.n_layers; l++) {
    a[l] = calloc((size_t)BATCH * net.sizes[l], sizeof(float));
    dz[l] = calloc((size_t)BATCH * net.sizes[l], sizeof(float));
  }
  float *dw = calloc(net.n_params, sizeof(float));
  for (int i = 0; i < STEPS * BATCH; i++) idx[i] = (int32_t)tf_rng_below(&rng, 60000);
  for (int i = 0; i < BATCH * 784; i++) a[0][i] = (float)tf_rng_uniform(&rng);
  if (tf_net_plan(&net, 0.0, &err) < 0) return 1;

  double best_sgemm = 1e30, best_train = 1e30, best_gather = 1e30, best_update = 1e30;
  for (int r = 0; r < repeats; r++) {
    double s = sgemm_only(&net, a, dz, dw);
    if (s < best_sgemm) best_sgemm = s;
    double t0 = cpu_s();
    for (int step = 0; step < STEPS; step++) {
      tf_net_gather(&net, &images, idx + step * BATCH, BATCH, y);
      tf_net_step(&net, &opt, y, BATCH);
    }
    double t = cpu_s() - t0;
    if (t < best_train) best_train = t;
    t0 = cpu_s();
    for (int step = 0; step < STEPS; step++)
      tf_net_gather(&net, &images, idx + step * BATCH, BATCH, y);
    t = cpu_s() - t0;
    if (t < best_gather) best_gather = t;
    t0 = cpu_s();
    for (int step = 0; step < STEPS; step++) tf_net_update(&net, &opt);
    t = cpu_s() - t0;
    if (t < best_update) best_update = t;
  }
  printf("processor time, one thread, best of %d; %s\n", repeats,
         have_data ? "MNIST batches" : "random batches");
  printf("dense epoch (1000 steps, batch 60, LeNet-300-100, adam): %.3f s\n", best_train);
  printf("sgemm only (8 calls per step, same shapes):               %.3f s\n", best_sgemm);
  printf("  of the epoch: gather %.1f us/step, adam update over %zu parameters %.1f us/step\n",
         best_gather / STEPS * 1e6, net.n_params, best_update / STEPS * 1e6);
  printf("ratio epoch / sgemm: %.2f\n", best_train / best_sgemm);
  for (int l = 0; l <= net.n_layers; l++) {
    free(a[l]);
    free(dz[l]);
  }
  free(dw);
  free(idx);
  free(rnd_pixels);
  free(rnd_labels);
  if (have_data) tf_data_free(&ds);
  tf_optim_free(&opt);
  tf_net_free(&net);
  return 0;
}
