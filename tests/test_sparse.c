/* Tests of the sparse layer kernels: the packed structure against its mask, each vectorised
 * kernel equal bit for bit to its plain-loop reference for every batch width, and within float
 * rounding of the dense products computed in double. */
#include "ticketfarm/sparse.h"

#include <stdint.h>

#include "test.h"

static uint64_t rand_state = 0x452821e638d01377ull;

static double urand(void) { return tf_test_urand(&rand_state); }

static float *random_floats(size_t n, double lo, double hi) {
  float *a = malloc((n > 0 ? n : 1) * sizeof *a);
  ASSERT(a != NULL);
  for (size_t i = 0; i < n; i++) a[i] = (float)(lo + (hi - lo) * urand());
  return a;
}

/* A mask keeping about `density` of rows x cols, row 1 empty and column 2 empty, so the kernels
 * meet rows and columns without entries. */
static float *random_mask(int rows, int cols, double density) {
  float *m = malloc((size_t)rows * cols * sizeof *m);
  for (int j = 0; j < rows; j++)
    for (int k = 0; k < cols; k++)
      m[(size_t)j * cols + k] = j != 1 && k != 2 && urand() < density ? 1.0f : 0.0f;
  return m;
}

static int same_bits(const float *a, const float *b, size_t n) {
  return memcmp(a, b, n * sizeof *a) == 0;
}

static void test_sparse_build_packs_exactly_the_kept_entries(void) {
  enum { R = 7, C = 11 };
  float *w = random_floats(R * C, -1.0, 1.0);
  float *mask = random_mask(R, C, 0.4);
  w[3 * C + 4] = 0.0f; /* a kept weight that is zero stays an entry */
  mask[3 * C + 4] = 1.0f;
  int32_t kept = 0;
  for (int i = 0; i < R * C; i++) kept += mask[i] != 0.0f;
  tf_sparse_t sp = {0};
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_sparse_build(&sp, w, mask, R, C, &err), 0);
  ASSERT_INT_EQ(sp.nnz, kept);
  ASSERT_INT_EQ(sp.row_ptr[0], 0);
  ASSERT_INT_EQ(sp.row_ptr[R], kept);
  ASSERT_INT_EQ(sp.row_ptr[2] - sp.row_ptr[1], 0);
  ASSERT_INT_EQ(sp.col_ptr[3] - sp.col_ptr[2], 0);
  for (int j = 0; j < R; j++)
    for (int32_t e = sp.row_ptr[j]; e < sp.row_ptr[j + 1]; e++) {
      ASSERT(mask[(size_t)j * C + sp.col[e]] != 0.0f);
      ASSERT(sp.val[e] == w[(size_t)j * C + sp.col[e]]);
      if (e > sp.row_ptr[j]) ASSERT(sp.col[e] > sp.col[e - 1]);
    }
  /* column order: the same entries, rows ascending, pointing back at their values */
  for (int k = 0; k < C; k++)
    for (int32_t e = sp.col_ptr[k]; e < sp.col_ptr[k + 1]; e++) {
      int32_t q = sp.t_pos[e];
      ASSERT(sp.col[q] == k);
      ASSERT(q >= sp.row_ptr[sp.t_row[e]] && q < sp.row_ptr[sp.t_row[e] + 1]);
      if (e > sp.col_ptr[k]) ASSERT(sp.t_row[e] > sp.t_row[e - 1]);
    }
  ASSERT_INT_EQ(sp.col_ptr[C], kept);

  /* scatter writes the packed values back where they came from and nowhere else */
  float *back = calloc(R * C, sizeof *back);
  for (int32_t e = 0; e < sp.nnz; e++) sp.val[e] += 1.0f;
  tf_sparse_scatter(&sp, back);
  for (int i = 0; i < R * C; i++)
    ASSERT(back[i] == (mask[i] != 0.0f ? w[i] + 1.0f : 0.0f));

  /* rebuilding frees the old arrays; an all-pruned matrix has no entries */
  memset(mask, 0, R * C * sizeof *mask);
  ASSERT_INT_EQ(tf_sparse_build(&sp, w, mask, R, C, &err), 0);
  ASSERT_INT_EQ(sp.nnz, 0);
  ASSERT_INT_EQ(sp.row_ptr[R], 0);
  ASSERT_INT_EQ(tf_sparse_build(&sp, w, mask, 0, C, &err), TF_EINPUT);
  tf_sparse_free(&sp);
  free(back);
  free(w);
  free(mask);
}

/* nv = 1..9 covers one to four vectors held in registers and the blocks after them; rows of
 * about 30 entries cover the weight gradient's groups of 16 entries and the rest after them. */
static void test_sparse_kernels_equal_their_references_bit_for_bit(void) {
  enum { R = 23, C = 101 };
  for (int nv = 1; nv <= 9; nv++) {
    size_t ld = (size_t)nv * TF_SPARSE_LANES + (nv % 2 ? 16 : 0); /* ld > lanes too */
    float *w = random_floats(R * C, -1.0, 1.0);
    /* Alternate a mask dense enough for column panels (C = 101: two) and one too sparse. */
    const int paneled = nv % 2 == 1;
    float *mask = random_mask(R, C, paneled ? 0.3 : 0.05);
    float *bias = random_floats(R, -0.5, 0.5);
    float *a = random_floats(C * ld, -1.0, 1.0);
    float *dz = random_floats(R * ld, -1.0, 1.0);
    float *z1 = calloc(R * ld, sizeof *z1), *z2 = calloc(R * ld, sizeof *z2);
    float *d1 = calloc(C * ld, sizeof *d1), *d2 = calloc(C * ld, sizeof *d2);
    tf_sparse_t sp = {0};
    ASSERT_INT_EQ(tf_sparse_build(&sp, w, mask, R, C, NULL), 0);
    ASSERT_INT_EQ(sp.n_panels, paneled ? 2 : 1);
    for (int j = 0; j < R; j++) { /* panel p of row j: its entries in columns [64p, 64p + 64) */
      const int32_t *pp = sp.panel_ptr + (size_t)j * (sp.n_panels + 1);
      ASSERT_INT_EQ(pp[0], sp.row_ptr[j]);
      ASSERT_INT_EQ(pp[sp.n_panels], sp.row_ptr[j + 1]);
      for (int p = 0; p < sp.n_panels; p++)
        for (int32_t e = pp[p]; e < pp[p + 1]; e++)
          ASSERT(sp.n_panels == 1 || sp.col[e] / TF_SPARSE_PANEL == p);
    }
    int longest = 0;
    for (int j = 0; j < R; j++)
      if (sp.row_ptr[j + 1] - sp.row_ptr[j] > longest) longest = sp.row_ptr[j + 1] - sp.row_ptr[j];
    ASSERT(longest >= (paneled ? 33 : 1));
    for (int relu = 0; relu <= 1; relu++) {
      tf_sparse_forward(&sp, a, ld, nv, bias, relu, z1);
      tf_sparse_forward_naive(&sp, a, ld, nv, bias, relu, z2);
      ASSERT(same_bits(z1, z2, R * ld));
    }
    tf_sparse_backward(&sp, dz, a, ld, nv, d1);
    tf_sparse_backward_naive(&sp, dz, a, ld, nv, d2);
    ASSERT(same_bits(d1, d2, C * ld));
    /* written, then added to (a second block of the same batch) */
    float *g1 = malloc((size_t)sp.nnz * sizeof *g1);
    for (int add = 0; add <= 1; add++) {
      tf_sparse_weight_grad(&sp, dz, a, ld, nv, add);
      memcpy(g1, sp.grad, (size_t)sp.nnz * sizeof *g1);
      if (add) tf_sparse_weight_grad(&sp, dz, a, ld, nv, 0);
      float *before = malloc((size_t)sp.nnz * sizeof *before);
      memcpy(before, sp.grad, (size_t)sp.nnz * sizeof *before);
      tf_sparse_weight_grad_naive(&sp, dz, a, ld, nv, add);
      ASSERT(same_bits(g1, sp.grad, (size_t)sp.nnz));
      if (add)
        for (int32_t e = 0; e < sp.nnz; e++) ASSERT(sp.grad[e] == before[e] + before[e]);
      free(before);
    }
    free(g1);
    tf_sparse_free(&sp);
    free(w);
    free(mask);
    free(bias);
    free(a);
    free(dz);
    free(z1);
    free(z2);
    free(d1);
    free(d2);
  }
}

/* Against the dense products in double: forward W a + b with ReLU, the input gradient W^T dz
 * where a > 0, and dz a^T at the kept positions; relative error within float rounding of sums
 * of ~40 terms (1e-5 of the sum of magnitudes). */
static void test_sparse_kernels_match_dense_products(void) {
  enum { R = 30, C = 50, NV = 4, LD = NV * TF_SPARSE_LANES };
  float *w = random_floats(R * C, -1.0, 1.0);
  float *mask = random_mask(R, C, 0.5);
  float *bias = random_floats(R, -0.5, 0.5);
  float *a = random_floats(C * LD, -1.0, 1.0);
  float *dz = random_floats(R * LD, -1.0, 1.0);
  float *z = calloc(R * LD, sizeof *z), *da = calloc(C * LD, sizeof *da);
  tf_sparse_t sp = {0};
  ASSERT_INT_EQ(tf_sparse_build(&sp, w, mask, R, C, NULL), 0);
  tf_sparse_forward(&sp, a, LD, NV, bias, 1, z);
  tf_sparse_backward(&sp, dz, a, LD, NV, da);
  tf_sparse_weight_grad(&sp, dz, a, LD, NV, 0);
  for (int j = 0; j < R; j++)
    for (int b = 0; b < LD; b++) {
      double s = bias[j], mag = fabs(bias[j]);
      for (int k = 0; k < C; k++) {
        double t = (double)mask[j * C + k] * w[j * C + k] * a[k * LD + b];
        s += t;
        mag += fabs(t);
      }
      ASSERT_NEAR(z[j * LD + b], s > 0.0 ? s : 0.0, 1e-5 * mag);
    }
  for (int k = 0; k < C; k++)
    for (int b = 0; b < LD; b++) {
      double s = 0.0, mag = 0.0;
      for (int j = 0; j < R; j++) {
        double t = (double)mask[j * C + k] * w[j * C + k] * dz[j * LD + b];
        s += t;
        mag += fabs(t);
      }
      ASSERT_NEAR(da[k * LD + b], a[k * LD + b] > 0.0f ? s : 0.0, 1e-5 * mag + 1e-30);
    }
  for (int j = 0; j < R; j++)
    for (int32_t e = sp.row_ptr[j]; e < sp.row_ptr[j + 1]; e++) {
      double s = 0.0, mag = 0.0;
      for (int b = 0; b < LD; b++) {
        double t = (double)dz[j * LD + b] * a[sp.col[e] * LD + b];
        s += t;
        mag += fabs(t);
      }
      ASSERT_NEAR(sp.grad[e], s, 1e-6 * mag);
    }
  tf_sparse_free(&sp);
  free(w);
  free(mask);
  free(bias);
  free(a);
  free(dz);
  free(z);
  free(da);
}

/* Lane sums pair lane i with lane i + 8, then halve again: 2^-24 in lanes 4 and 12 meet first
 * and survive as 2^-23 beside 1 in lane 0; summed lane after lane, each would vanish. */
static void test_sparse_lane_sum_order_and_row_sums(void) {
  float l[TF_SPARSE_LANES] = {0};
  l[0] = 1.0f;
  l[4] = 0x1p-24f;
  l[12] = 0x1p-24f;
  ASSERT(tf_sparse_lane_sum(l) == 1.0f + 0x1p-23f);
  float row[2 * 32];
  for (int i = 0; i < 64; i++) row[i] = (float)(i % 32);
  float out[2];
  tf_sparse_row_sums(row, 2, 32, 2, 0, out);
  ASSERT(out[0] == 496.0f && out[1] == 496.0f);
  tf_sparse_row_sums(row, 2, 32, 1, 1, out);
  ASSERT(out[0] == 616.0f && out[1] == 616.0f);
}

/* Kept weights of value zero and NaN-free padding: a zero input lane yields exactly the bias
 * (after ReLU), and a zero dz lane contributes nothing to the weight gradient. */
static void test_sparse_padding_lanes_carry_nothing(void) {
  enum { R = 3, C = 4, NV = 1, LD = 16 };
  float w[R * C], mask[R * C], bias[R] = {0.25f, -0.5f, 0.0f};
  for (int i = 0; i < R * C; i++) {
    w[i] = (float)(i + 1);
    mask[i] = 1.0f;
  }
  float a[C * LD] = {0}, dz[R * LD] = {0}, z[R * LD];
  for (int k = 0; k < C; k++) a[k * LD] = 1.0f; /* lane 0 real, the rest padding */
  for (int j = 0; j < R; j++) dz[j * LD] = 1.0f;
  tf_sparse_t sp = {0};
  ASSERT_INT_EQ(tf_sparse_build(&sp, w, mask, R, C, NULL), 0);
  tf_sparse_forward(&sp, a, LD, NV, bias, 1, z);
  ASSERT(z[0] == 10.25f && z[LD] == 25.5f && z[2 * LD] == 42.0f);
  for (int b = 1; b < LD; b++) ASSERT(z[b] == 0.25f && z[LD + b] == 0.0f && z[2 * LD + b] == 0.0f);
  tf_sparse_weight_grad(&sp, dz, a, LD, NV, 0);
  for (int32_t e = 0; e < sp.nnz; e++) ASSERT(sp.grad[e] == 1.0f);
  tf_sparse_free(&sp);
}

/* Every copy of the kernels this processor runs (sparse.h): the same tests, so the same bits. */
static void test_sparse_every_instruction_set_gives_the_reference_bits(void) {
  const char *isas[] = {"avx512", "avx2", "baseline"};
  const char *first = tf_sparse_isa();
  int ran = 0, widest = -1;
  for (int i = 0; i < 3; i++) {
    if (tf_sparse_use_isa(isas[i]) != 0) continue;
    if (widest < 0) widest = i;
    ASSERT(strcmp(tf_sparse_isa(), isas[i]) == 0);
    test_sparse_kernels_equal_their_references_bit_for_bit();
    test_sparse_kernels_match_dense_products();
    test_sparse_lane_sum_order_and_row_sums();
    test_sparse_padding_lanes_carry_nothing();
    fprintf(stderr, "ok    kernels for %s\n", isas[i]);
    ran++;
  }
  ASSERT(ran >= 1);
  ASSERT(tf_sparse_use_isa("baseline") == 0);      /* every processor runs it */
  ASSERT(tf_sparse_use_isa("neon-or-so") == TF_EINPUT);
  ASSERT(strcmp(first, isas[widest]) == 0);       /* the widest one is the default */
  ASSERT_INT_EQ(tf_sparse_use_isa(first), 0);
}

int main(void) {
  RUN(test_sparse_build_packs_exactly_the_kept_entries);
  RUN(test_sparse_every_instruction_set_gives_the_reference_bits);
  return 0;
}
