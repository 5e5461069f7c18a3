/* The vectorised kernels of sparse.h for one instruction set. meson compiles this file once per
 * set, with TF_SPARSE_ISA (the suffix of the names: baseline, avx2, avx512), TF_SPARSE_W (floats
 * in one of its vectors: 4, 8, 16) and that set's compiler flags; sparse.c picks a copy the
 * processor runs. A 16-lane vector of sparse.h is held as 16 / W native vectors side by side:
 * gcc 12 lowers a vector wider than the target's through the stack (store-forwarding stalls made
 * the kernels 10-25x slower than SGEMM on an AVX2-only processor). Every lane is computed on its
 * own in the order sparse.h states and nothing fuses a multiply-add (ISO C, -ffp-contract=off),
 * so every copy gives the same bits. */
#include "sparse_kernels.h"
#include "vector.h"

#include <stddef.h>
#include <stdint.h>

#define W TF_SPARSE_W
#define K (TF_SPARSE_LANES / W)

typedef float vn __attribute__((vector_size(W * 4)));                      /* native */
typedef int32_t vin __attribute__((vector_size(W * 4)));
typedef float vnu __attribute__((vector_size(W * 4), aligned(4), may_alias)); /* unaligned */
typedef float v4 __attribute__((vector_size(16)));
typedef struct vf {
  vn h[K]; /* lanes [i * W, (i + 1) * W) in h[i] */
} vf;

INLINE vf load(const float *p) {
  vf v;
  for (int i = 0; i < K; i++) v.h[i] = *(const vnu *)(p + i * W);
  return v;
}

INLINE void store(float *p, vf v) {
  for (int i = 0; i < K; i++) *(vnu *)(p + i * W) = v.h[i];
}

INLINE vf zero(void) {
  vf v;
  for (int i = 0; i < K; i++) v.h[i] = (vn){0};
  return v;
}

/* s + w * a, lane by lane, the product rounded before the sum. */
INLINE vf add_scaled(vf s, float w, vf a) {
  for (int i = 0; i < K; i++) s.h[i] += w * a.h[i];
  return s;
}

INLINE vf add_products(vf s, vf x, vf y) {
  for (int i = 0; i < K; i++) s.h[i] += x.h[i] * y.h[i];
  return s;
}

INLINE vf mul(vf x, vf y) {
  for (int i = 0; i < K; i++) x.h[i] *= y.h[i];
  return x;
}

INLINE vf add(vf x, vf y) {
  for (int i = 0; i < K; i++) x.h[i] += y.h[i];
  return x;
}

INLINE vf add_scalar(vf x, float b) {
  for (int i = 0; i < K; i++) x.h[i] += b;
  return x;
}

/* +0 where keep <= 0 (or NaN), x elsewhere: the ReLU select, with NaN sent to +0 as the scalar
 * `keep > 0 ? x : 0` does. */
INLINE vf select_pos(vf x, vf keep) {
  for (int i = 0; i < K; i++) x.h[i] = (vn)((vin)x.h[i] & (keep.h[i] > (vn){0}));
  return x;
}

/* The first two steps of tf_sparse_lane_sum's order: h8[i] = l[i] + l[i + 8], then
 * h4[i] = h8[i] + h8[i + 4]. */
INLINE v4 quarter_sums(vf p) {
#if W == 16
  typedef float v8 __attribute__((vector_size(32)));
  v8 h8 = __builtin_shufflevector(p.h[0], p.h[0], 0, 1, 2, 3, 4, 5, 6, 7) +
          __builtin_shufflevector(p.h[0], p.h[0], 8, 9, 10, 11, 12, 13, 14, 15);
  return __builtin_shufflevector(h8, h8, 0, 1, 2, 3) + __builtin_shufflevector(h8, h8, 4, 5, 6, 7);
#elif W == 8
  vn h8 = p.h[0] + p.h[1];
  return __builtin_shufflevector(h8, h8, 0, 1, 2, 3) + __builtin_shufflevector(h8, h8, 4, 5, 6, 7);
#else
  return (p.h[0] + p.h[2]) + (p.h[1] + p.h[3]);
#endif
}

/* tf_sparse_lane_sum's order on one vector. */
INLINE float lane_sum(vf p) {
  v4 h4 = quarter_sums(p);
  return (h4[0] + h4[2]) + (h4[1] + h4[3]);
}

/* The lane sums of 16 vectors at once, r lane i = lane_sum(p[i]): the last two steps of the
 * order for four vectors per vector addition. */
INLINE vf lane_sums16(const vf p[16]) {
  v4 h[16], u[8], r[4];
  for (int i = 0; i < 16; i++) h[i] = quarter_sums(p[i]);
  for (int i = 0; i < 8; i++) /* (h4[0] + h4[2], h4[1] + h4[3]) of vectors 2i and 2i + 1 */
    u[i] = __builtin_shufflevector(h[2 * i], h[2 * i + 1], 0, 1, 4, 5) +
           __builtin_shufflevector(h[2 * i], h[2 * i + 1], 2, 3, 6, 7);
  for (int i = 0; i < 4; i++) /* the two halves of vectors 4i .. 4i + 3 added */
    r[i] = __builtin_shufflevector(u[2 * i], u[2 * i + 1], 0, 2, 4, 6) +
           __builtin_shufflevector(u[2 * i], u[2 * i + 1], 1, 3, 5, 7);
  vf out;
#if W == 16
  out.h[0] = __builtin_shufflevector(
      __builtin_shufflevector(r[0], r[1], 0, 1, 2, 3, 4, 5, 6, 7),
      __builtin_shufflevector(r[2], r[3], 0, 1, 2, 3, 4, 5, 6, 7), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
      10, 11, 12, 13, 14, 15);
#elif W == 8
  out.h[0] = __builtin_shufflevector(r[0], r[1], 0, 1, 2, 3, 4, 5, 6, 7);
  out.h[1] = __builtin_shufflevector(r[2], r[3], 0, 1, 2, 3, 4, 5, 6, 7);
#else
  for (int i = 0; i < 4; i++) out.h[i] = r[i];
#endif
  return out;
}

/* The kernels hold B <= 4 vectors (64 lanes) of one output row or column in registers while
 * they stream over its entries; B is a constant in each inlined copy. */

INLINE vf bias_relu(vf s, float b, int relu) {
  s = add_scalar(s, b);
  return relu ? select_pos(s, s) : s;
}

INLINE void forward_block(const tf_sparse_t *sp, const float *a, size_t ld, const float *bias,
                          int relu, float *z, int B) {
  const int32_t *col = sp->col;
  const float *val = sp->val;
  const int np = sp->n_panels;
  for (int p = 0; p < np; p++) {
    const int last = p == np - 1;
    for (int j = 0; j < sp->rows; j++) {
      const int32_t *pp = sp->panel_ptr + (size_t)j * ((size_t)np + 1);
      float *zj = z + (size_t)j * ld;
      vf s0 = zero(), s1 = zero(), s2 = zero(), s3 = zero();
      if (p > 0) {
        s0 = load(zj);
        if (B > 1) s1 = load(zj + 16);
        if (B > 2) s2 = load(zj + 32);
        if (B > 3) s3 = load(zj + 48);
      }
      for (int32_t e = pp[p]; e < pp[p + 1]; e++) {
        const float w = val[e];
        const float *ak = a + (size_t)col[e] * ld;
        s0 = add_scaled(s0, w, load(ak));
        if (B > 1) s1 = add_scaled(s1, w, load(ak + 16));
        if (B > 2) s2 = add_scaled(s2, w, load(ak + 32));
        if (B > 3) s3 = add_scaled(s3, w, load(ak + 48));
      }
      if (last) {
        const float b = bias[j];
        s0 = bias_relu(s0, b, relu);
        s1 = bias_relu(s1, b, relu);
        s2 = bias_relu(s2, b, relu);
        s3 = bias_relu(s3, b, relu);
      }
      store(zj, s0);
      if (B > 1) store(zj + 16, s1);
      if (B > 2) store(zj + 32, s2);
      if (B > 3) store(zj + 48, s3);
    }
  }
}

void TF_SPARSE_KERNEL(forward)(const tf_sparse_t *sp, const float *a, size_t ld, int nv,
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
  for (int k = 0; k < sp->cols; k++) {
    vf s0 = zero(), s1 = zero(), s2 = zero(), s3 = zero();
    for (int32_t e = col_ptr[k]; e < col_ptr[k + 1]; e++) {
      const float w = val[t_pos[e]];
      const float *dj = dz + (size_t)t_row[e] * ld;
      s0 = add_scaled(s0, w, load(dj));
      if (B > 1) s1 = add_scaled(s1, w, load(dj + 16));
      if (B > 2) s2 = add_scaled(s2, w, load(dj + 32));
      if (B > 3) s3 = add_scaled(s3, w, load(dj + 48));
    }
    const float *ak = act + (size_t)k * ld;
    float *dk = da + (size_t)k * ld;
    store(dk, select_pos(s0, load(ak)));
    if (B > 1) store(dk + 16, select_pos(s1, load(ak + 16)));
    if (B > 2) store(dk + 32, select_pos(s2, load(ak + 32)));
    if (B > 3) store(dk + 48, select_pos(s3, load(ak + 48)));
  }
}

void TF_SPARSE_KERNEL(backward)(const tf_sparse_t *sp, const float *dz, const float *act,
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

/* A row of dz of up to 4 vectors stays in registers while the row's entries stream by; their
 * lane sums are reduced 16 entries at a time. */
INLINE vf dot_lanes(vf d0, vf d1, vf d2, vf d3, const float *ak, int B) {
  vf p = mul(d0, load(ak));
  if (B > 1) p = add_products(p, d1, load(ak + 16));
  if (B > 2) p = add_products(p, d2, load(ak + 32));
  if (B > 3) p = add_products(p, d3, load(ak + 48));
  return p;
}

INLINE void weight_grad_short(tf_sparse_t *sp, const float *dz, const float *a, size_t ld, int add_to,
                              int B) {
  const int32_t *col = sp->col;
  float *grad = sp->grad;
  const int np = sp->n_panels;
  for (int p = 0; p < np; p++) {
    for (int j = 0; j < sp->rows; j++) {
      const int32_t *pp = sp->panel_ptr + (size_t)j * ((size_t)np + 1);
      const int32_t end = pp[p + 1];
      if (pp[p] == end) continue;
      const float *dj = dz + (size_t)j * ld;
      vf d0 = load(dj), d1 = zero(), d2 = zero(), d3 = zero();
      if (B > 1) d1 = load(dj + 16);
      if (B > 2) d2 = load(dj + 32);
      if (B > 3) d3 = load(dj + 48);
      int32_t e = pp[p];
      for (; e + 16 <= end; e += 16) {
        vf q[16];
        for (int i = 0; i < 16; i++)
          q[i] = dot_lanes(d0, d1, d2, d3, a + (size_t)col[e + i] * ld, B);
        vf r = lane_sums16(q);
        if (add_to) r = add(r, load(grad + e));
        store(grad + e, r);
      }
      for (; e < end; e++) {
        float r = lane_sum(dot_lanes(d0, d1, d2, d3, a + (size_t)col[e] * ld, B));
        grad[e] = add_to ? grad[e] + r : r;
      }
    }
  }
}

void TF_SPARSE_KERNEL(weight_grad)(tf_sparse_t *sp, const float *dz, const float *a, size_t ld,
                                   int nv, int add_to) {
  switch (nv) {
    case 1: weight_grad_short(sp, dz, a, ld, add_to, 1); return;
    case 2: weight_grad_short(sp, dz, a, ld, add_to, 2); return;
    case 3: weight_grad_short(sp, dz, a, ld, add_to, 3); return;
    case 4: weight_grad_short(sp, dz, a, ld, add_to, 4); return;
    default: break;
  }
  for (int j = 0; j < sp->rows; j++) {
    const float *dj = dz + (size_t)j * ld;
    for (int32_t e = sp->row_ptr[j]; e < sp->row_ptr[j + 1]; e++) {
      const float *ak = a + (size_t)sp->col[e] * ld;
      vf p = mul(load(dj), load(ak));
      for (int v = 1; v < nv; v++)
        p = add_products(p, load(dj + v * TF_SPARSE_LANES), load(ak + v * TF_SPARSE_LANES));
      sp->grad[e] = add_to ? sp->grad[e] + lane_sum(p) : lane_sum(p);
    }
  }
}

void TF_SPARSE_KERNEL(row_sums)(const float *x, int rows, size_t ld, int nv, int add_to,
                                float *out) {
  for (int j = 0; j < rows; j++) {
    const float *xj = x + (size_t)j * ld;
    vf p = load(xj);
    for (int v = 1; v < nv; v++) p = add(p, load(xj + v * TF_SPARSE_LANES));
    out[j] = add_to ? out[j] + lane_sum(p) : lane_sum(p);
  }
}
