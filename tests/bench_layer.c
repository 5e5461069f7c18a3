/* Benchmark: the cost of a LeNet-300-100 training step (batch 60, Adam) and of evaluating 1,000
 * images, on dense kernels under a mask against sparse kernels, at densities from 100% down to
 * 2%, measured side by side in one run on one thread. The density where the ratio crosses 1 is
 * the crossover TF_SPARSE_BELOW_DEFAULT is set from.
 *   bench_layer [steps]   (meson test --benchmark) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ticketfarm/net.h"
#include "ticketfarm/optim.h"
#include "ticketfarm/rng.h"

#define BATCH 60
#define EVAL 1000
#define REPEATS 3

/* Processor time of the process: other processes on a shared machine slow it less than they
 * slow the wall clock. */
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fill_images(tf_images_t *im, uint8_t *pixels, uint8_t *labels, int n, tf_rng_t *rng) {
  for (size_t i = 0; i < (size_t)n * 784; i++)
    pixels[i] = tf_rng_uniform(rng) < 0.8 ? 0 : (uint8_t)tf_rng_below(rng, 256);
  for (int i = 0; i < n; i++) labels[i] = (uint8_t)tf_rng_below(rng, 10);
  *im = (tf_images_t){.n = n, .dim = 784, .pixels = pixels, .labels = labels};
}

/* Seconds per training step and per evaluation of EVAL images, best of REPEATS. */
static void measure(tf_net_t *net, tf_optim_t *opt, const tf_images_t *im, const int32_t *idx,
                    int steps, double *step_s, double *eval_s) {
  int32_t y[EVAL];
  *step_s = *eval_s = 1e30;
  for (int r = 0; r < REPEATS; r++) {
    double t0 = cpu_s();
    for (int s = 0; s < steps; s++) {
      tf_net_gather(net, im, idx + (size_t)s * BATCH, BATCH, y);
      tf_net_step(net, opt, y, BATCH);
    }
    double t = (cpu_s() - t0) / steps;
    if (t < *step_s) *step_s = t;
    t0 = cpu_s();
    double loss = 0.0;
    long correct = 0;
    tf_net_gather(net, im, idx, EVAL, y);
    tf_net_eval_batch(net, y, EVAL, &loss, &correct);
    t = cpu_s() - t0;
    if (t < *eval_s) *eval_s = t;
  }
}

int main(int argc, char **argv) {
  int steps = argc > 1 ? atoi(argv[1]) : 200;
  if (steps < 1) steps = 1;
  openblas_set_num_threads(1);
  tf_config_t cfg;
  tf_config_default(&cfg);
  tf_err_t err = {0};
  tf_net_t dense, sparse;
  tf_optim_t od, os;
  if (tf_net_create(&dense, 784, cfg.hidden, cfg.n_hidden, 10, EVAL, &err) < 0 ||
      tf_net_create(&sparse, 784, cfg.hidden, cfg.n_hidden, 10, EVAL, &err) < 0 ||
      tf_optim_create(&od, &cfg, dense.n_params, &err) < 0 ||
      tf_optim_create(&os, &cfg, dense.n_params, &err) < 0) {
    fprintf(stderr, "bench_layer: %s\n", err.msg);
    return 1;
  }
  tf_rng_t rng;
  tf_rng_seed(&rng, 1, TF_STREAM_INIT, 0, 0);
  const int n_images = 6000;
  uint8_t *pixels = malloc((size_t)n_images * 784), *labels = malloc((size_t)n_images);
  int32_t *idx = malloc(((size_t)steps * BATCH + EVAL) * sizeof *idx);
  tf_images_t im;
  fill_images(&im, pixels, labels, n_images, &rng);
  for (size_t i = 0; i < (size_t)steps * BATCH + EVAL; i++)
    idx[i] = (int32_t)tf_rng_below(&rng, (uint64_t)n_images);

  static const double densities[] = {1.0, 0.9, 0.8, 0.75, 0.7, 0.65, 0.6, 0.5, 0.4,
                                     0.3, 0.2, 0.1, 0.05, 0.036, 0.02};
  const int n_dens = (int)(sizeof densities / sizeof densities[0]);
  printf("LeNet-300-100, batch %d, adam, one thread, processor time, best of %d, %d steps\n",
         BATCH, REPEATS, steps);
  printf("density  step dense  step sparse  ratio   eval dense  eval sparse  ratio\n");
  for (int d = 0; d < n_dens; d++) {
    /* The same weights and random mask (every layer at this density) in both nets. */
    for (size_t i = 0; i < dense.n_params; i++) {
      dense.params[i] = (float)(0.05 * tf_rng_normal(&rng));
      dense.mask[i] = 1.0f;
    }
    for (int l = 0; l < dense.n_layers; l++) {
      size_t nw = (size_t)dense.sizes[l] * dense.sizes[l + 1];
      for (size_t i = 0; i < nw; i++)
        if (tf_rng_uniform(&rng) >= densities[d]) {
          dense.mask[dense.w_off[l] + i] = 0.0f;
          dense.params[dense.w_off[l] + i] = 0.0f;
        }
    }
    memcpy(sparse.params, dense.params, dense.n_params * sizeof *dense.params);
    memcpy(sparse.mask, dense.mask, dense.n_params * sizeof *dense.mask);
    tf_optim_reset(&od);
    tf_optim_reset(&os);
    if (tf_net_plan(&dense, 0.0, &err) < 0 || tf_net_plan(&sparse, 2.0, &err) < 0) {
      fprintf(stderr, "bench_layer: %s\n", err.msg);
      return 1;
    }
    double sd, ed, ss, es;
    measure(&dense, &od, &im, idx, steps, &sd, &ed);
    measure(&sparse, &os, &im, idx, steps, &ss, &es);
    printf("%6.3f  %8.1f us  %9.1f us  %5.2f  %8.2f ms  %9.2f ms  %5.2f\n", densities[d],
           sd * 1e6, ss * 1e6, ss / sd, ed * 1e3, es * 1e3, es / ed);
    fflush(stdout);
  }
  free(pixels);
  free(labels);
  free(idx);
  tf_optim_free(&od);
  tf_optim_free(&os);
  tf_net_free(&dense);
  tf_net_free(&sparse);
  return 0;
}
