/* A pruned layer's weight matrix stored by its surviving entries, and the kernels that train it
 * on feature-major activations: the forward product, the transposed product for the input
 * gradient, the weight gradient at the surviving positions only (SDDMM), each beside a plain-loop
 * reference it is tested against. */
#ifndef TICKETFARM_SPARSE_H
#define TICKETFARM_SPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "ticketfarm/error.h"

/* Feature-major activations: a batch of n examples is a matrix (features, ld) whose row k holds
 * feature k of every example, in lanes [0, n). The kernels work on whole vectors of
 * TF_SPARSE_LANES lanes, nv = ceil(n / TF_SPARSE_LANES) of them per row, so lanes [n, nv * 16)
 * must hold finite values (the net keeps them zero where it matters); ld is a multiple of
 * TF_SPARSE_LANES. Rows starting on 64-byte boundaries load fastest. Every lane is computed on
 * its own, with a fixed order of operations, so results do not depend on nv, on the lanes'
 * neighbours or on the processor's vector width; no kernel fuses a multiply-add. */
#define TF_SPARSE_LANES 16

/* W (rows, cols) row-major, rows = fan-out, cols = fan-in, by the entries a mask keeps. */
typedef struct tf_sparse {
  int rows, cols;
  int32_t nnz;      /* surviving entries */
  int32_t *row_ptr; /* (rows + 1) entries of row j: [row_ptr[j], row_ptr[j + 1]) */
  int32_t *col;     /* (nnz) column of each entry, ascending within its row */
  float *val;       /* (nnz) the weights, row by row */
  float *grad;      /* (nnz) the loss gradient at each entry */
  int32_t *col_ptr; /* (cols + 1) the same entries column by column */
  int32_t *t_row;   /* (nnz) row of each entry in column order, ascending within its column */
  int32_t *t_pos;   /* (nnz) position in val of each entry in column order */
  int n_panels;     /* ceil(cols / TF_SPARSE_PANEL), or 1 with fewer than 8 entries a row in each */
  int32_t *panel_ptr; /* (rows, n_panels + 1) first entry of row j in column panel p */
} tf_sparse_t;

/* The row-order kernels go through W in panels of this many columns (when its rows are dense
 * enough), all rows of one panel before the next, so that the activations they read (64 columns of 64 lanes, 16 KiB) stay in
 * the L1 cache; a row's partial sums wait in the output between panels, which changes no bit. */
#define TF_SPARSE_PANEL 64

/* Builds sp from the entries of w (rows, cols) where mask != 0 (kept entries that are zero
 * stay entries). Frees what sp held before; sp must be zeroed or built before. Returns 0,
 * TF_EINPUT for non-positive shapes, or TF_ENOMEM. */
int tf_sparse_build(tf_sparse_t *sp, const float *w, const float *mask, int rows, int cols,
                    tf_err_t *err);
void tf_sparse_free(tf_sparse_t *sp);

/* Writes val into w (rows, cols) at the entries' positions; other elements are left as they are
 * (zero, for a pruned weight). */
void tf_sparse_scatter(const tf_sparse_t *sp, float *w);

/* The kernels below exist in one copy per instruction set (x86-64: avx512, avx2, baseline; other
 * processors: baseline), all giving the same bits; the widest the processor runs is used.
 * tf_sparse_isa names the copy in use; tf_sparse_use_isa switches to another (for tests and
 * benchmarks), returning 0, or TF_EINPUT for a name unknown here or not run by this processor.
 * Rank-local; not thread-safe. */
const char *tf_sparse_isa(void);
int tf_sparse_use_isa(const char *isa);

/* Forward product: z (rows, ld) = W a + b, with a (cols, ld); ReLU when relu != 0. Each lane is
 * sum_e val[e] * a[col[e]] over the row's entries in order from +0, then + b[j]. */
void tf_sparse_forward(const tf_sparse_t *sp, const float *a, size_t ld, int nv,
                       const float *bias, int relu, float *z);

/* Transposed product for the input gradient through a ReLU layer: da (cols, ld) = (W^T dz) where
 * act > 0, +0 elsewhere; dz (rows, ld), act (cols, ld) the activations W was applied to. Each
 * lane sums over the column's entries in row order from +0. */
void tf_sparse_backward(const tf_sparse_t *sp, const float *dz, const float *act, size_t ld,
                        int nv, float *da);

/* Weight gradient at the kept positions (sampled dense-dense product): grad[e] = sum over the
 * nv * 16 lanes of dz[row(e)] * a[col(e)]: per lane the products of successive vectors are
 * summed, then the 16 lane sums in a fixed tree (tf_sparse_lane_sum). With `add`, the sum is
 * added to grad[e] instead (a batch in several blocks). */
void tf_sparse_weight_grad(tf_sparse_t *sp, const float *dz, const float *a, size_t ld, int nv,
                           int add);

/* out[j] = (or, with `add`, out[j] +=) the sum of row j of x (rows, ld) over nv vectors, in the
 * same order as tf_sparse_weight_grad (the bias gradient of a feature-major layer). */
void tf_sparse_row_sums(const float *x, int rows, size_t ld, int nv, int add, float *out);

/* The fixed order in which 16 lane values are summed: (l[i] + l[i + 8]) for i < 8, then the
 * same halving down to one value. */
float tf_sparse_lane_sum(const float l[TF_SPARSE_LANES]);

/* Gathers images idx[0..count) of `pixels` (n, dim) bytes into x (dim, lanes) feature-major,
 * lanes = count rounded up to TF_SPARSE_LANES, each byte v as (float)v / 255.0f (the same bits as
 * tf_data_gather), padding lanes +0. Sixteen images at a time are transposed in registers. */
void tf_sparse_gather(const uint8_t *pixels, size_t dim, const int32_t *idx, int count, float *x);

/* The references: the same sums with plain scalar loops, for tests. */
void tf_sparse_forward_naive(const tf_sparse_t *sp, const float *a, size_t ld, int nv,
                             const float *bias, int relu, float *z);
void tf_sparse_backward_naive(const tf_sparse_t *sp, const float *dz, const float *act, size_t ld,
                              int nv, float *da);
void tf_sparse_weight_grad_naive(tf_sparse_t *sp, const float *dz, const float *a, size_t ld,
                                 int nv, int add);
void tf_sparse_gather_naive(const uint8_t *pixels, size_t dim, const int32_t *idx, int count,
                            float *x);

#endif
