/* Pruned weight matrices by their surviving entries (row and column order), the vectorised
 * kernels over feature-major batches that train them, and their plain-loop references. */
#include "ticketfarm/sparse.h"

#include "sparse_kernels.h"
#include "vector.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* tf_sparse_gather (TF_CLONES) is compiled for AVX-512, AVX2 and baseline x86-64, one picked
 * when the program loads (its loops are plain C that gcc vectorises for each). */

float tf_sparse_lane_sum(const float l[TF_SPARSE_LANES]) {
  float h8[8], h4[4];
  for (int i = 0; i < 8; i++) h8[i] = l[i] + l[i + 8];
  for (int i = 0; i < 4; i++) h4[i] = h8[i] + h8[i + 4];
  return (h4[0] + h4[2]) + (h4[1] + h4[3]);
}

void tf_sparse_free(tf_sparse_t *sp) {
  if (sp == NULL) return;
  free(sp->row_ptr);
  free(sp->col);
  free(sp->val);
  free(sp->grad);
  free(sp->col_ptr);
  free(sp->t_row);
  free(sp->t_pos);
  free(sp->panel_ptr);
  memset(sp, 0, sizeof *sp);
}

int tf_sparse_build(tf_sparse_t *sp, const float *w, const float *mask, int rows, int cols,
                    tf_err_t *err) {
  tf_sparse_free(sp);
  if (rows <= 0 || cols <= 0)
    return tf_err_set(err, TF_EINPUT, "sparse: shape (%d, %d) must be positive", rows, cols);
  size_t total = (size_t)rows * (size_t)cols;
  if (total > (size_t)INT32_MAX)
    return tf_err_set(err, TF_EINPUT, "sparse: shape (%d, %d) has more than 2^31 entries", rows,
                      cols);
  int32_t nnz = 0;
  for (size_t i = 0; i < total; i++) nnz += mask[i] != 0.0f;
  size_t cap = nnz > 0 ? (size_t)nnz : 1;
  sp->rows = rows;
  sp->cols = cols;
  sp->nnz = nnz;
  sp->row_ptr = malloc(((size_t)rows + 1) * sizeof *sp->row_ptr);
  sp->col_ptr = calloc((size_t)cols + 1, sizeof *sp->col_ptr);
  sp->col = malloc(cap * sizeof *sp->col);
  sp->val = malloc(cap * sizeof *sp->val);
  sp->grad = calloc(cap, sizeof *sp->grad);
  sp->t_row = malloc(cap * sizeof *sp->t_row);
  sp->t_pos = malloc(cap * sizeof *sp->t_pos);
  /* Panels pay for the round trips of the partial sums when a row has entries enough in each
   * (bench_layer: slower at 3.6% density, faster from 20% up on LeNet-300-100's first layer). */
  sp->n_panels = (cols + TF_SPARSE_PANEL - 1) / TF_SPARSE_PANEL;
  if ((double)nnz < 8.0 * rows * sp->n_panels) sp->n_panels = 1;
  sp->panel_ptr = malloc((size_t)rows * ((size_t)sp->n_panels + 1) * sizeof *sp->panel_ptr);
  if (!sp->row_ptr || !sp->col_ptr || !sp->col || !sp->val || !sp->grad || !sp->t_row ||
      !sp->t_pos || !sp->panel_ptr) {
    tf_sparse_free(sp);
    return tf_err_set(err, TF_ENOMEM, "sparse: out of memory for %d entries", (int)nnz);
  }
  int32_t e = 0;
  for (int j = 0; j < rows; j++) {
    sp->row_ptr[j] = e;
    const float *wj = w + (size_t)j * cols, *mj = mask + (size_t)j * cols;
    for (int k = 0; k < cols; k++) {
      if (mj[k] == 0.0f) continue;
      sp->col[e] = k;
      sp->val[e] = wj[k];
      sp->col_ptr[k + 1]++;
      e++;
    }
  }
  sp->row_ptr[rows] = e;
  for (int j = 0; j < rows; j++) {
    int32_t *pp = sp->panel_ptr + (size_t)j * ((size_t)sp->n_panels + 1);
    int32_t q = sp->row_ptr[j];
    for (int p = 0; p < sp->n_panels; p++) {
      pp[p] = q;
      while (q < sp->row_ptr[j + 1] && sp->col[q] < (p + 1) * TF_SPARSE_PANEL) q++;
    }
    pp[sp->n_panels] = sp->row_ptr[j + 1];
  }
  for (int k = 0; k < cols; k++) sp->col_ptr[k + 1] += sp->col_ptr[k];
  /* Entries visited row by row land in each column in ascending row order. */
  int32_t *fill = malloc((size_t)cols * sizeof *fill);
  if (fill == NULL) {
    tf_sparse_free(sp);
    return tf_err_set(err, TF_ENOMEM, "sparse: out of memory for %d columns", cols);
  }
  memcpy(fill, sp->col_ptr, (size_t)cols * sizeof *fill);
  for (int j = 0; j < rows; j++) {
    for (int32_t q = sp->row_ptr[j]; q < sp->row_ptr[j + 1]; q++) {
      int32_t t = fill[sp->col[q]]++;
      sp->t_row[t] = j;
      sp->t_pos[t] = q;
    }
  }
  free(fill);
  return 0;
}

void tf_sparse_scatter(const tf_sparse_t *sp, float *w) {
  for (int j = 0; j < sp->rows; j++) {
    float *wj = w + (size_t)j * sp->cols;
    for (int32_t e = sp->row_ptr[j]; e < sp->row_ptr[j + 1]; e++) wj[sp->col[e]] = sp->val[e];
  }
}

/* The copies of the kernels, widest first; a processor runs the first it supports. */
typedef struct kernels {
  const char *isa;
  int (*supported)(void);
  void (*forward)(const tf_sparse_t *, const float *, size_t, int, const float *, int, float *);
  void (*backward)(const tf_sparse_t *, const float *, const float *, size_t, int, float *);
  void (*weight_grad)(tf_sparse_t *, const float *, const float *, size_t, int, int);
  void (*row_sums)(const float *, int, size_t, int, int, float *);
} kernels_t;

#define KERNELS(isa, supported)                                                            \
  {#isa, supported, tf__sparse_##isa##_forward, tf__sparse_##isa##_backward,               \
   tf__sparse_##isa##_weight_grad, tf__sparse_##isa##_row_sums}

static int always(void) { return 1; }
#if defined(TF_SPARSE_X86)
static int has_avx512(void) { return __builtin_cpu_supports("avx512f"); }
static int has_avx2(void) { return __builtin_cpu_supports("avx2"); }
#endif

static const kernels_t all_kernels[] = {
#if defined(TF_SPARSE_X86)
    KERNELS(avx512, has_avx512),
    KERNELS(avx2, has_avx2),
#endif
    KERNELS(baseline, always),
};
enum { N_KERNELS = sizeof all_kernels / sizeof all_kernels[0] };

static const kernels_t *chosen;

static const kernels_t *kernels(void) {
  if (chosen == NULL) {
    int i = 0;
    while (!all_kernels[i].supported()) i++;
    chosen = &all_kernels[i];
  }
  return chosen;
}

const char *tf_sparse_isa(void) { return kernels()->isa; }

int tf_sparse_use_isa(const char *isa) {
  for (int i = 0; i < N_KERNELS; i++)
    if (strcmp(all_kernels[i].isa, isa) == 0) {
      if (!all_kernels[i].supported()) return TF_EINPUT;
      chosen = &all_kernels[i];
      return 0;
    }
  return TF_EINPUT;
}

void tf_sparse_forward(const tf_sparse_t *sp, const float *a, size_t ld, int nv, const float *bias,
                       int relu, float *z) {
  kernels()->forward(sp, a, ld, nv, bias, relu, z);
}

void tf_sparse_backward(const tf_sparse_t *sp, const float *dz, const float *act, size_t ld,
                        int nv, float *da) {
  kernels()->backward(sp, dz, act, ld, nv, da);
}

void tf_sparse_weight_grad(tf_sparse_t *sp, const float *dz, const float *a, size_t ld, int nv,
                           int add) {
  kernels()->weight_grad(sp, dz, a, ld, nv, add);
}

void tf_sparse_row_sums(const float *x, int rows, size_t ld, int nv, int add, float *out) {
  kernels()->row_sums(x, rows, ld, nv, add, out);
}

/* Transposes a tile of 16 rows of 16 bytes into out[16][16]: out[j][i] = row i's byte j. With
 * SSE2, four rounds of interleaving row i with row i + 8 (the bytes of their low halves, then of
 * their high halves) leave register j holding byte j of every row. */
INLINE void transpose16(const uint8_t *const src[16], size_t k, uint8_t out[16][16]) {
#if defined(__SSE2__)
  __m128i r[16], t[16];
  for (int i = 0; i < 16; i++) r[i] = _mm_loadu_si128((const __m128i *)(const void *)(src[i] + k));
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < 8; i++) {
      t[2 * i] = _mm_unpacklo_epi8(r[i], r[i + 8]);
      t[2 * i + 1] = _mm_unpackhi_epi8(r[i], r[i + 8]);
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
  }
  for (int j = 0; j < 16; j++) _mm_storeu_si128((__m128i *)(void *)out[j], r[j]);
#else
  for (int i = 0; i < 16; i++)
    for (int j = 0; j < 16; j++) out[j][i] = src[i][k + (size_t)j];
#endif
}

static size_t lanes_of(int count) {
  return ((size_t)count + TF_SPARSE_LANES - 1) / TF_SPARSE_LANES * TF_SPARSE_LANES;
}

static void zero_padding(float *x, size_t rows, int count) {
  size_t lanes = lanes_of(count);
  for (size_t k = 0; k < rows; k++)
    memset(x + k * lanes + (size_t)count, 0, (lanes - (size_t)count) * sizeof *x);
}

/* Pixels v to (float)v / 255.0f: the same bits as tf_data_gather's table of v / 255.0 rounded
 * to float, for every byte (test_sparse checks all 256). */
INLINE void bytes_to_pixels(const uint8_t *restrict v, float *restrict x) {
  for (int i = 0; i < 16; i++) x[i] = (float)v[i] / 255.0f;
}

TF_CLONES void tf_sparse_gather(const uint8_t *pixels, size_t dim, const int32_t *idx, int count,
                                float *x) {
  const size_t lanes = lanes_of(count);
  for (int b0 = 0; b0 < count; b0 += TF_SPARSE_LANES) {
    /* A last block of fewer images repeats its first; zero_padding clears those lanes. */
    const uint8_t *src[TF_SPARSE_LANES];
    for (int i = 0; i < TF_SPARSE_LANES; i++)
      src[i] = pixels + (size_t)idx[b0 + (b0 + i < count ? i : 0)] * dim;
    float *xb = x + b0;
    size_t k = 0;
    for (; k + 16 <= dim; k += 16) {
      uint8_t tile[16][16];
      transpose16(src, k, tile);
      for (int j = 0; j < 16; j++) bytes_to_pixels(tile[j], xb + (k + (size_t)j) * lanes);
    }
    for (; k < dim; k++)
      for (int i = 0; i < TF_SPARSE_LANES; i++)
        xb[k * lanes + (size_t)i] = (float)src[i][k] / 255.0f;
  }
  zero_padding(x, dim, count);
}

void tf_sparse_gather_naive(const uint8_t *pixels, size_t dim, const int32_t *idx, int count,
                            float *x) {
  const size_t lanes = lanes_of(count);
  for (int i = 0; i < count; i++)
    for (size_t k = 0; k < dim; k++)
      x[k * lanes + (size_t)i] = (float)pixels[(size_t)idx[i] * dim + k] / 255.0f;
  zero_padding(x, dim, count);
}

void tf_sparse_forward_naive(const tf_sparse_t *sp, const float *a, size_t ld, int nv,
                             const float *bias, int relu, float *z) {
  size_t lanes = (size_t)nv * TF_SPARSE_LANES;
  for (int j = 0; j < sp->rows; j++) {
    for (size_t b = 0; b < lanes; b++) {
      float s = 0.0f;
      for (int32_t e = sp->row_ptr[j]; e < sp->row_ptr[j + 1]; e++)
        s += sp->val[e] * a[(size_t)sp->col[e] * ld + b];
      s += bias[j];
      z[(size_t)j * ld + b] = relu && !(s > 0.0f) ? 0.0f : s;
    }
  }
}

void tf_sparse_backward_naive(const tf_sparse_t *sp, const float *dz, const float *act, size_t ld,
                              int nv, float *da) {
  size_t lanes = (size_t)nv * TF_SPARSE_LANES;
  for (int k = 0; k < sp->cols; k++) {
    for (size_t b = 0; b < lanes; b++) {
      float s = 0.0f;
      for (int32_t e = sp->col_ptr[k]; e < sp->col_ptr[k + 1]; e++)
        s += sp->val[sp->t_pos[e]] * dz[(size_t)sp->t_row[e] * ld + b];
      da[(size_t)k * ld + b] = act[(size_t)k * ld + b] > 0.0f ? s : 0.0f;
    }
  }
}

void tf_sparse_weight_grad_naive(tf_sparse_t *sp, const float *dz, const float *a, size_t ld,
                                 int nv, int add) {
  for (int j = 0; j < sp->rows; j++) {
    for (int32_t e = sp->row_ptr[j]; e < sp->row_ptr[j + 1]; e++) {
      const float *dj = dz + (size_t)j * ld, *ak = a + (size_t)sp->col[e] * ld;
      float lanes[TF_SPARSE_LANES];
      for (int b = 0; b < TF_SPARSE_LANES; b++) {
        float s = dj[b] * ak[b];
        for (int v = 1; v < nv; v++) s += dj[v * TF_SPARSE_LANES + b] * ak[v * TF_SPARSE_LANES + b];
        lanes[b] = s;
      }
      sp->grad[e] = add ? sp->grad[e] + tf_sparse_lane_sum(lanes) : tf_sparse_lane_sum(lanes);
    }
  }
}
