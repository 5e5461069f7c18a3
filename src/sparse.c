/* Pruned weight matrices by their surviving entries (row and column order), the vectorised
 * kernels over feature-major batches that train them, and their plain-loop references. */
#include "ticketfarm/sparse.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The kernels are compiled for AVX-512, AVX2 and baseline x86-64, one picked when the program
 * loads; all give the same bits (see sparse.h: lanes are independent, the orders fixed, and the
 * project compiles as ISO C, in which gcc fuses no multiply-add). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define TF_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TF_CLONES
#endif

#define INLINE static inline __attribute__((always_inline))

/* The helpers taking and returning vectors are always inlined, so no vector crosses a call and
 * gcc's note that such calls would change the ABI without AVX-512 does not apply. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpsabi"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

/* 16 lanes; gcc splits the operations into whatever vectors the clone's target has. */
typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));
typedef float vf8 __attribute__((vector_size(32)));
typedef float vf4 __attribute__((vector_size(16)));

/* memcpy loads and stores: no alignment or aliasing assumption, one unaligned move each. */
INLINE vf load(const float *p) {
  vf v;
  memcpy(&v, p, sizeof v);
  return v;
}

INLINE void store(float *p, vf v) { memcpy(p, &v, sizeof v); }

/* +0 where keep <= 0 (or NaN), x elsewhere: the ReLU select, with NaN sent to +0 as the scalar
 * `keep > 0 ? x : 0` does. */
INLINE vf select_pos(vf x, vf keep) {
  const vf zero = {0};
  return (vf)((vi)x & (keep > zero));
}

/* tf_sparse_lane_sum's order on one vector. */
INLINE float lane_sum(vf p) {
  vf8 h8 = __builtin_shufflevector(p, p, 0, 1, 2, 3, 4, 5, 6, 7) +
           __builtin_shufflevector(p, p, 8, 9, 10, 11, 12, 13, 14, 15);
  vf4 h4 = __builtin_shufflevector(h8, h8, 0, 1, 2, 3) +
           __builtin_shufflevector(h8, h8, 4, 5, 6, 7);
  return (h4[0] + h4[2]) + (h4[1] + h4[3]);
}

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
  if (!sp->row_ptr || !sp->col_ptr || !sp->col || !sp->val || !sp->grad || !sp->t_row ||
      !sp->t_pos) {
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

/* The kernels hold B <= 4 vectors (64 lanes) of one output row or column in registers while
 * they stream over its entries; B is a constant in each inlined copy. */

INLINE void forward_block(const tf_sparse_t *sp, const float *a, size_t ld, const float *bias,
                          int relu, float *z, int B) {
  const int32_t *row_ptr = sp->row_ptr, *col = sp->col;
  const float *val = sp->val;
  const vf zero = {0};
  for (int j = 0; j < sp->rows; j++) {
    vf s0 = zero, s1 = zero, s2 = zero, s3 = zero;
    for (int32_t e = row_ptr[j]; e < row_ptr[j + 1]; e++) {
      const float w = val[e];
      const float *ak = a + (size_t)col[e] * ld;
      s0 += w * load(ak);
      if (B > 1) s1 += w * load(ak + 16);
      if (B > 2) s2 += w * load(ak + 32);
      if (B > 3) s3 += w * load(ak + 48);
    }
    const float b = bias[j];
    s0 += b;
    s1 += b;
    s2 += b;
    s3 += b;
    if (relu) {
      s0 = select_pos(s0, s0);
      s1 = select_pos(s1, s1);
      s2 = select_pos(s2, s2);
      s3 = select_pos(s3, s3);
    }
    float *zj = z + (size_t)j * ld;
    store(zj, s0);
    if (B > 1) store(zj + 16, s1);
    if (B > 2) store(zj + 32, s2);
    if (B > 3) store(zj + 48, s3);
  }
}

TF_CLONES void tf_sparse_forward(const tf_sparse_t *sp, const float *a, size_t ld, int nv,
                                 const float *bias, int relu, float *z) {
  for (int v0 = 0; v0 < nv; v0 += 4) {
    const float *av = a + (size_t)v0 * TF_SPARSE_LANES;
    float *zv = z + (size_t)v0 * TF_SPARSE_LANES;
    switch (nv - v0) {
      case 1: forward_block(sp, av, ld, bias, relu, zv, 1); break;
      case 2: forward_block(sp, av, ld, bias, relu, zv, 2); break;
      case 3: forward_block(sp, av, ld, bias, relu, zv, 3); break;
      default: forward_block(sp, av, ld, bias, relu, zv, 4); break;
    }
  }
}

INLINE void backward_block(const tf_sparse_t *sp, const float *dz, const float *act, size_t ld,
                           float *da, int B) {
  const int32_t *col_ptr = sp->col_ptr, *t_row = sp->t_row, *t_pos = sp->t_pos;
  const float *val = sp->val;
  const vf zero = {0};
  for (int k = 0; k < sp->cols; k++) {
    vf s0 = zero, s1 = zero, s2 = zero, s3 = zero;
    for (int32_t e = col_ptr[k]; e < col_ptr[k + 1]; e++) {
      const float w = val[t_pos[e]];
      const float *dj = dz + (size_t)t_row[e] * ld;
      s0 += w * load(dj);
      if (B > 1) s1 += w * load(dj + 16);
      if (B > 2) s2 += w * load(dj + 32);
      if (B > 3) s3 += w * load(dj + 48);
    }
    const float *ak = act + (size_t)k * ld;
    float *dk = da + (size_t)k * ld;
    store(dk, select_pos(s0, load(ak)));
    if (B > 1) store(dk + 16, select_pos(s1, load(ak + 16)));
    if (B > 2) store(dk + 32, select_pos(s2, load(ak + 32)));
    if (B > 3) store(dk + 48, select_pos(s3, load(ak + 48)));
  }
}

TF_CLONES void tf_sparse_backward(const tf_sparse_t *sp, const float *dz, const float *act,
                                  size_t ld, int nv, float *da) {
  for (int v0 = 0; v0 < nv; v0 += 4) {
    size_t o = (size_t)v0 * TF_SPARSE_LANES;
    switch (nv - v0) {
      case 1: backward_block(sp, dz + o, act + o, ld, da + o, 1); break;
      case 2: backward_block(sp, dz + o, act + o, ld, da + o, 2); break;
      case 3: backward_block(sp, dz + o, act + o, ld, da + o, 3); break;
      default: backward_block(sp, dz + o, act + o, ld, da + o, 4); break;
    }
  }
}

/* The lane sums of 16 entries at once, each in the order of lane_sum: every step adds the
 * halves of all 16 entries' partial sums with one vector addition, the shuffles gathering the
 * halves of several entries side by side; r[i] = lane_sum(p[i]). */
INLINE vf lane_sums16(const vf p[16]) {
  vf t[8], u[4], w[2];
  for (int i = 0; i < 8; i++)
    t[i] = __builtin_shufflevector(p[2 * i], p[2 * i + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19,
                                   20, 21, 22, 23) +
           __builtin_shufflevector(p[2 * i], p[2 * i + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25,
                                   26, 27, 28, 29, 30, 31);
  for (int i = 0; i < 4; i++)
    u[i] = __builtin_shufflevector(t[2 * i], t[2 * i + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18,
                                   19, 24, 25, 26, 27) +
           __builtin_shufflevector(t[2 * i], t[2 * i + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22,
                                   23, 28, 29, 30, 31);
  for (int i = 0; i < 2; i++)
    w[i] = __builtin_shufflevector(u[2 * i], u[2 * i + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20,
                                   21, 24, 25, 28, 29) +
           __builtin_shufflevector(u[2 * i], u[2 * i + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22,
                                   23, 26, 27, 30, 31);
  return __builtin_shufflevector(w[0], w[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                 28, 30) +
         __builtin_shufflevector(w[0], w[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27,
                                 29, 31);
}

/* A row of dz of up to 4 vectors stays in registers while the row's entries stream by; their
 * lane sums are reduced 16 entries at a time. */
INLINE vf dot_lanes(vf d0, vf d1, vf d2, vf d3, const float *ak, int B) {
  vf p = d0 * load(ak);
  if (B > 1) p += d1 * load(ak + 16);
  if (B > 2) p += d2 * load(ak + 32);
  if (B > 3) p += d3 * load(ak + 48);
  return p;
}

INLINE void weight_grad_short(tf_sparse_t *sp, const float *dz, const float *a, size_t ld, int add,
                              int B) {
  const int32_t *row_ptr = sp->row_ptr, *col = sp->col;
  float *grad = sp->grad;
  const vf zero = {0};
  for (int j = 0; j < sp->rows; j++) {
    const float *dj = dz + (size_t)j * ld;
    vf d0 = load(dj), d1 = zero, d2 = zero, d3 = zero;
    if (B > 1) d1 = load(dj + 16);
    if (B > 2) d2 = load(dj + 32);
    if (B > 3) d3 = load(dj + 48);
    int32_t e = row_ptr[j];
    for (; e + 16 <= row_ptr[j + 1]; e += 16) {
      vf p[16];
      for (int i = 0; i < 16; i++) p[i] = dot_lanes(d0, d1, d2, d3, a + (size_t)col[e + i] * ld, B);
      vf r = lane_sums16(p);
      if (add) r += load(grad + e);
      store(grad + e, r);
    }
    for (; e < row_ptr[j + 1]; e++) {
      float r = lane_sum(dot_lanes(d0, d1, d2, d3, a + (size_t)col[e] * ld, B));
      grad[e] = add ? grad[e] + r : r;
    }
  }
}

TF_CLONES void tf_sparse_weight_grad(tf_sparse_t *sp, const float *dz, const float *a, size_t ld,
                                     int nv, int add) {
  switch (nv) {
    case 1: weight_grad_short(sp, dz, a, ld, add, 1); return;
    case 2: weight_grad_short(sp, dz, a, ld, add, 2); return;
    case 3: weight_grad_short(sp, dz, a, ld, add, 3); return;
    case 4: weight_grad_short(sp, dz, a, ld, add, 4); return;
    default: break;
  }
  for (int j = 0; j < sp->rows; j++) {
    const float *dj = dz + (size_t)j * ld;
    for (int32_t e = sp->row_ptr[j]; e < sp->row_ptr[j + 1]; e++) {
      const float *ak = a + (size_t)sp->col[e] * ld;
      vf p = load(dj) * load(ak);
      for (int v = 1; v < nv; v++)
        p += load(dj + v * TF_SPARSE_LANES) * load(ak + v * TF_SPARSE_LANES);
      sp->grad[e] = add ? sp->grad[e] + lane_sum(p) : lane_sum(p);
    }
  }
}

TF_CLONES void tf_sparse_row_sums(const float *x, int rows, size_t ld, int nv, int add,
                                  float *out) {
  for (int j = 0; j < rows; j++) {
    const float *xj = x + (size_t)j * ld;
    vf p = load(xj);
    for (int v = 1; v < nv; v++) p += load(xj + v * TF_SPARSE_LANES);
    out[j] = add ? out[j] + lane_sum(p) : lane_sum(p);
  }
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
