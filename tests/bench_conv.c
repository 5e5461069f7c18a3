/* Benchmark: one Conv-2 training step (conv 3x3 64, conv 3x3 64, 2x2 pool, dense 256, 256, 10;
 * ReLU, softmax cross-entropy; forward and backward, no update) on a batch of 60 MNIST-shaped
 * 28 x 28 x 1 images, one thread, against the time of the same lowered SGEMM calls alone; and
 * the 64-to-64 convolution's forward and backward on the sparse path by density.
 *   bench_conv [repeats]   (meson test --benchmark) */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ticketfarm/conv.h"
#include "ticketfarm/data.h"
#include "ticketfarm/rng.h"

#define BATCH 60
#define STEPS 5
#define H 28
#define C1 64
#define C2 64
#define D1 256
#define D2 256
#define CLASSES 10

/* Processor time of the process, as bench_epoch measures it. */
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *floats(size_t n) {
  float *p = calloc(n > 0 ? n : 1, sizeof *p);
  if (p == NULL) {
    fprintf(stderr, "bench_conv: out of memory\n");
    exit(1);
  }
  return p;
}

static void fill_normal(float *w, size_t n, double sd, tf_rng_t *rng) {
  for (size_t i = 0; i < n; i++) w[i] = (float)(sd * tf_rng_normal(rng));
}

typedef struct model {
  tf_conv_t cv1, cv2;
  tf_conv_pool_t pool;
  int flat;
  float *w1, *b1, *w2, *b2;           /* conv: (C1, 9), (C1); (C2, 576), (C2) */
  float *wd[3], *bd[3];               /* dense: (out, in) row-major, (out) */
  int din[3], dout[3];
  float *gw1, *gb1, *gw2, *gb2, *gwd[3], *gbd[3];
  float *x;                           /* (BATCH, 1, 28, 28) */
  float *a1, *a2;                     /* (BATCH, 64, 28, 28) after ReLU */
  float *p;                           /* (BATCH, 64, 14, 14) = (BATCH, flat) */
  int32_t *arg;                       /* (BATCH, 64, 14, 14) */
  float *z[3];                        /* (BATCH, dout[l]) */
  float *dz[3];                       /* (BATCH, dout[l]) */
  float *dp, *da2, *da1;              /* gradients: (BATCH, flat), (BATCH, 64, 28, 28) x 2 */
  tf_conv_work_t ws;
} model_t;

static void bias_relu_rows(float *z, int n, int out, const float *b, int relu) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < out; j++) {
      float v = z[(size_t)i * out + j] + b[j];
      z[(size_t)i * out + j] = relu && !(v > 0.0f) ? 0.0f : v;
    }
}

static void relu_grad(float *d, const float *a, size_t n) {
  for (size_t i = 0; i < n; i++) d[i] = a[i] > 0.0f ? d[i] : 0.0f;
}

/* Forward and backward of one batch; returns the mean loss. */
static double step(model_t *m, const int32_t *y) {
  tf_conv_forward(&m->cv1, &m->ws, m->w1, m->b1, m->x, BATCH, 1, m->a1);
  tf_conv_forward(&m->cv2, &m->ws, m->w2, m->b2, m->a1, BATCH, 1, m->a2);
  tf_conv_pool_forward(&m->pool, m->a2, BATCH, m->p, m->arg);
  const float *a = m->p;
  for (int l = 0; l < 3; l++) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, m->dout[l], m->din[l], 1.0f, a,
                m->din[l], m->wd[l], m->din[l], 0.0f, m->z[l], m->dout[l]);
    bias_relu_rows(m->z[l], BATCH, m->dout[l], m->bd[l], l < 2);
    a = m->z[l];
  }
  double loss = 0.0;
  for (int i = 0; i < BATCH; i++) {
    const float *zi = m->z[2] + (size_t)i * CLASSES;
    float mx = zi[0], s = 0.0f;
    for (int j = 1; j < CLASSES; j++) mx = zi[j] > mx ? zi[j] : mx;
    for (int j = 0; j < CLASSES; j++) s += expf(zi[j] - mx);
    loss += (double)(mx + logf(s) - zi[y[i]]);
    for (int j = 0; j < CLASSES; j++)
      m->dz[2][(size_t)i * CLASSES + j] =
          (expf(zi[j] - mx) / s - (j == y[i] ? 1.0f : 0.0f)) / BATCH;
  }
  for (int l = 2; l >= 0; l--) {
    const float *al = l > 0 ? m->z[l - 1] : m->p;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m->dout[l], m->din[l], BATCH, 1.0f,
                m->dz[l], m->dout[l], al, m->din[l], 0.0f, m->gwd[l], m->din[l]);
    for (int j = 0; j < m->dout[l]; j++) {
      float s = 0.0f;
      for (int i = 0; i < BATCH; i++) s += m->dz[l][(size_t)i * m->dout[l] + j];
      m->gbd[l][j] = s;
    }
    float *din = l > 0 ? m->dz[l - 1] : m->dp;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BATCH, m->din[l], m->dout[l], 1.0f,
                m->dz[l], m->dout[l], m->wd[l], m->din[l], 0.0f, din, m->din[l]);
    if (l > 0) relu_grad(din, m->z[l - 1], (size_t)BATCH * m->din[l]);
  }
  tf_conv_pool_backward(&m->pool, m->dp, m->arg, BATCH, m->da2);
  relu_grad(m->da2, m->a2, (size_t)BATCH * m->cv2.out_size);
  tf_conv_backward(&m->cv2, &m->ws, m->w2, m->a1, m->da2, BATCH, m->gw2, m->gb2, m->da1, 1);
  tf_conv_backward(&m->cv1, &m->ws, m->w1, m->x, m->da1, BATCH, m->gw1, m->gb1, NULL, 0);
  return loss / BATCH;
}

/* The step's matrix products and nothing else, on the same shapes: per image, each convolution's
 * W cols, its weight gradient dy cols^T and (the second) W^T dy; per dense layer, the forward,
 * the weight gradient and the input gradient. */
static void sgemm_only(model_t *m) {
  const tf_conv_t *cvs[2] = {&m->cv1, &m->cv2};
  const float *ws[2] = {m->w1, m->w2};
  float *gws[2] = {m->gw1, m->gw2};
  for (int c = 0; c < 2; c++) {
    const tf_conv_t *cv = cvs[c];
    float *out = c == 0 ? m->a1 : m->a2;
    for (int i = 0; i < BATCH; i++)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cv->out_c, cv->pixels, cv->fan_in,
                  1.0f, ws[c], cv->fan_in, m->ws.cols, (int)cv->ld, 0.0f,
                  out + (size_t)i * cv->out_size, cv->pixels);
  }
  for (int l = 0; l < 3; l++)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, m->dout[l], m->din[l], 1.0f,
                l > 0 ? m->z[l - 1] : m->p, m->din[l], m->wd[l], m->din[l], 0.0f, m->z[l],
                m->dout[l]);
  for (int l = 2; l >= 0; l--) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m->dout[l], m->din[l], BATCH, 1.0f,
                m->dz[l], m->dout[l], l > 0 ? m->z[l - 1] : m->p, m->din[l], 0.0f, m->gwd[l],
                m->din[l]);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BATCH, m->din[l], m->dout[l], 1.0f,
                m->dz[l], m->dout[l], m->wd[l], m->din[l], 0.0f, l > 0 ? m->dz[l - 1] : m->dp,
                m->din[l]);
  }
  for (int c = 1; c >= 0; c--) {
    const tf_conv_t *cv = cvs[c];
    const float *dy = c == 1 ? m->da2 : m->da1;
    for (int i = 0; i < BATCH; i++) {
      const float *dyi = dy + (size_t)i * cv->out_size;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, cv->out_c, cv->fan_in, cv->pixels,
                  1.0f, dyi, cv->pixels, m->ws.cols, (int)cv->ld, i > 0 ? 1.0f : 0.0f, gws[c],
                  cv->fan_in);
      if (c == 1)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cv->fan_in, cv->pixels, cv->out_c,
                    1.0f, ws[c], cv->fan_in, dyi, cv->pixels, 0.0f, m->ws.dcols, (int)cv->ld);
    }
  }
}

int main(int argc, char **argv) {
  int repeats = argc > 1 ? atoi(argv[1]) : 3;
  if (repeats < 1) repeats = 1;
  openblas_set_num_threads(1);
  tf_err_t err = {0};
  model_t m;
  memset(&m, 0, sizeof m);
  if (tf_conv_init(&m.cv1, 1, H, H, C1, 3, TF_CONV_SAME, &err) < 0 ||
      tf_conv_init(&m.cv2, C1, H, H, C2, 3, TF_CONV_SAME, &err) < 0 ||
      tf_conv_pool_init(&m.pool, C2, H, H, &err) < 0 ||
      tf_conv_work_reserve(&m.ws, &m.cv1, &err) < 0 ||
      tf_conv_work_reserve(&m.ws, &m.cv2, &err) < 0) {
    fprintf(stderr, "bench_conv: %s\n", err.msg);
    return 1;
  }
  m.flat = (int)m.pool.out_size;
  const int dims[4] = {m.flat, D1, D2, CLASSES};
  tf_rng_t rng;
  tf_rng_seed(&rng, 1, TF_STREAM_INIT, 0, 0);
  m.w1 = floats((size_t)C1 * m.cv1.fan_in);
  m.w2 = floats((size_t)C2 * m.cv2.fan_in);
  m.b1 = floats(C1);
  m.b2 = floats(C2);
  m.gw1 = floats((size_t)C1 * m.cv1.fan_in);
  m.gw2 = floats((size_t)C2 * m.cv2.fan_in);
  m.gb1 = floats(C1);
  m.gb2 = floats(C2);
  fill_normal(m.w1, (size_t)C1 * m.cv1.fan_in, sqrt(2.0 / m.cv1.fan_in), &rng);
  fill_normal(m.w2, (size_t)C2 * m.cv2.fan_in, sqrt(2.0 / m.cv2.fan_in), &rng);
  for (int l = 0; l < 3; l++) {
    m.din[l] = dims[l];
    m.dout[l] = dims[l + 1];
    m.wd[l] = floats((size_t)dims[l] * dims[l + 1]);
    m.gwd[l] = floats((size_t)dims[l] * dims[l + 1]);
    m.bd[l] = floats((size_t)dims[l + 1]);
    m.gbd[l] = floats((size_t)dims[l + 1]);
    m.z[l] = floats((size_t)BATCH * dims[l + 1]);
    m.dz[l] = floats((size_t)BATCH * dims[l + 1]);
    fill_normal(m.wd[l], (size_t)dims[l] * dims[l + 1], sqrt(2.0 / dims[l]), &rng);
  }
  m.x = floats((size_t)BATCH * m.cv1.in_size);
  m.a1 = floats((size_t)BATCH * m.cv1.out_size);
  m.a2 = floats((size_t)BATCH * m.cv2.out_size);
  m.da1 = floats((size_t)BATCH * m.cv1.out_size);
  m.da2 = floats((size_t)BATCH * m.cv2.out_size);
  m.p = floats((size_t)BATCH * m.flat);
  m.dp = floats((size_t)BATCH * m.flat);
  m.arg = calloc((size_t)BATCH * m.pool.out_size, sizeof *m.arg);

  /* A batch from MNIST when it is there, random pixels otherwise. */
  int32_t y[BATCH], idx[BATCH];
  tf_dataset_t ds;
  int have_data = tf_data_load(&ds, tf_data_root(), "mnist", &err) == 0;
  if (have_data) {
    for (int i = 0; i < BATCH; i++) idx[i] = (int32_t)tf_rng_below(&rng, (uint64_t)ds.train.n);
    tf_data_gather(&ds.train, idx, BATCH, m.x, y);
    tf_data_free(&ds);
  } else {
    for (size_t i = 0; i < (size_t)BATCH * m.cv1.in_size; i++)
      m.x[i] = (float)tf_rng_uniform(&rng);
    for (int i = 0; i < BATCH; i++) y[i] = (int32_t)tf_rng_below(&rng, CLASSES);
  }

  double best_step = 1e30, best_sgemm = 1e30, loss = 0.0;
  for (int r = 0; r < repeats; r++) {
    double t0 = cpu_s();
    for (int s = 0; s < STEPS; s++) sgemm_only(&m);
    double t = (cpu_s() - t0) / STEPS;
    if (t < best_sgemm) best_sgemm = t;
    t0 = cpu_s();
    for (int s = 0; s < STEPS; s++) loss = step(&m, y);
    t = (cpu_s() - t0) / STEPS;
    if (t < best_step) best_step = t;
  }
  printf("processor time, one thread, best of %d x %d steps; %s (loss %.3f)\n", repeats, STEPS,
         have_data ? "an MNIST batch" : "a random batch", loss);
  printf("Conv-2 step (batch 60, 28x28x1, forward + backward): %.1f ms\n", best_step * 1e3);
  printf("sgemm only (the same lowered products):               %.1f ms\n", best_sgemm * 1e3);
  printf("ratio step / sgemm: %.2f (goal <= 1.5)\n", best_step / best_sgemm);

  /* The 64-to-64 convolution alone, forward and backward (with input gradient) over the batch,
   * dense against the sparse path at the densities of pruning rounds at 10% per round. */
  const double densities[] = {1.0, 0.59, 0.35, 0.2, 0.1, 0.05};
  size_t nw = (size_t)C2 * m.cv2.fan_in;
  float *mask = floats(nw), *wm = floats(nw);
  double dense_t = 0.0;
  printf("conv 64->64 3x3 on 28x28, batch 60, forward + backward:\n");
  for (size_t d = 0; d < sizeof densities / sizeof densities[0]; d++) {
    double best = 1e30;
    if (densities[d] >= 1.0) {
      for (int r = 0; r < repeats; r++) {
        double t0 = cpu_s();
        tf_conv_forward(&m.cv2, &m.ws, m.w2, m.b2, m.a1, BATCH, 1, m.a2);
        tf_conv_backward(&m.cv2, &m.ws, m.w2, m.a1, m.da2, BATCH, m.gw2, m.gb2, m.da1, 1);
        double t = cpu_s() - t0;
        if (t < best) best = t;
      }
      dense_t = best;
      printf("  dense (sgemm):        %7.1f ms\n", best * 1e3);
      continue;
    }
    for (size_t i = 0; i < nw; i++) {
      mask[i] = tf_rng_uniform(&rng) < densities[d] ? 1.0f : 0.0f;
      wm[i] = m.w2[i] * mask[i];
    }
    tf_sparse_t sp = {0};
    if (tf_sparse_build(&sp, wm, mask, C2, m.cv2.fan_in, &err) < 0) {
      fprintf(stderr, "bench_conv: %s\n", err.msg);
      return 1;
    }
    for (int r = 0; r < repeats; r++) {
      double t0 = cpu_s();
      tf_conv_forward_sparse(&m.cv2, &m.ws, &sp, m.b2, m.a1, BATCH, 1, m.a2);
      tf_conv_backward_sparse(&m.cv2, &m.ws, &sp, m.a1, m.da2, BATCH, m.gb2, m.da1, 1);
      double t = cpu_s() - t0;
      if (t < best) best = t;
    }
    printf("  sparse at %4.0f%% (%s): %7.1f ms, %.2f of dense\n", densities[d] * 100.0,
           tf_sparse_isa(), best * 1e3, best / dense_t);
    tf_sparse_free(&sp);
  }
  free(mask);
  free(wm);
  tf_conv_work_free(&m.ws);
  return 0;
}
