/* Tests of the convolution layers and max-pooling: the lowering against its definition, the
 * SGEMM and sparse paths against the direct-loop references within a stated rounding bound,
 * finite-difference gradients, and the layer shapes of LeNet-5 and Conv-2. */
#include "ticketfarm/conv.h"

#include <stdint.h>

#include "test.h"

static uint64_t rand_state = 0x243f6a8885a308d3ull;

static double urand(void) { return tf_test_urand(&rand_state); }

static float *random_floats(size_t n, double lo, double hi) {
  float *a = malloc((n > 0 ? n : 1) * sizeof *a);
  ASSERT(a != NULL);
  for (size_t i = 0; i < n; i++) a[i] = (float)(lo + (hi - lo) * urand());
  return a;
}

static float *zero_floats(size_t n) {
  float *a = calloc(n > 0 ? n : 1, sizeof *a);
  ASSERT(a != NULL);
  return a;
}

static float *abs_copy(const float *a, size_t n) {
  float *b = zero_floats(n);
  for (size_t i = 0; i < n; i++) b[i] = fabsf(a[i]);
  return b;
}

/* The tolerance of fast against reference. Each computes every output as a float sum of the
 * same T terms (products, and the bias) in its own order: the naive loop in order, SGEMM in
 * blocks and possibly with fused multiply-adds, the sparse kernels lane by lane. Each is within
 * gamma_T * A of the exact sum, A the same sum over the terms' absolute values and gamma_T =
 * T u / (1 - T u), u = 2^-24 (Higham, Accuracy and Stability of Numerical Algorithms, 3.1; a
 * fused multiply-add only removes roundings), so the two are within 2 gamma_T A of each other.
 * A ReLU applied to both keeps the bound (it is 1-Lipschitz), and a mask both apply identically
 * changes nothing. A is computed by the naive reference on the absolute values; its own rounding
 * is below the factor 2 left over in the bound's derivation for any T here. */
static double gamma_t(double terms) {
  const double u = 0x1p-24;
  return terms * u / (1.0 - terms * u);
}

static double worst_ratio; /* largest |fast - ref| / bound seen, printed at the end */

static void expect_within_bound(const char *what, const float *fast, const float *ref,
                                const float *absref, size_t count, double terms) {
  double g = 2.0 * gamma_t(terms);
  for (size_t i = 0; i < count; i++) {
    double diff = fabs((double)fast[i] - (double)ref[i]), bound = g * (double)absref[i];
    if (!(diff <= bound)) {
      fprintf(stderr, "%s[%zu]: fast %.9g, reference %.9g, |diff| %.3g > bound %.3g (T = %.0f)\n",
              what, i, (double)fast[i], (double)ref[i], diff, bound, terms);
      exit(1);
    }
    if (bound > 0.0 && diff / bound > worst_ratio) worst_ratio = diff / bound;
  }
}

typedef struct layer_case {
  int in_c, h, w, out_c, k;
  tf_conv_padding_t padding;
  int n;
} layer_case_t;

static tf_conv_t make_conv(const layer_case_t *c) {
  tf_conv_t cv;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_conv_init(&cv, c->in_c, c->h, c->w, c->out_c, c->k, c->padding, &err), 0);
  return cv;
}

/* Odd sizes, both paddings, a 1x1 kernel (lowered or not: 5 x 6 and 4 x 4 pixels), an even
 * kernel, a kernel as large as the image, and outputs whose pixels fill whole 16-lane vectors
 * (8 x 8) or not. */
static const layer_case_t cases[] = {
    {3, 7, 9, 4, 3, TF_CONV_SAME, 3},  {3, 7, 9, 4, 3, TF_CONV_VALID, 3},
    {2, 5, 6, 3, 1, TF_CONV_SAME, 2},  {5, 4, 4, 3, 1, TF_CONV_VALID, 2},
    {2, 8, 5, 5, 4, TF_CONV_SAME, 2},  {2, 8, 5, 5, 4, TF_CONV_VALID, 2},
    {1, 5, 5, 3, 5, TF_CONV_SAME, 2},  {1, 5, 5, 3, 5, TF_CONV_VALID, 2},
    {4, 10, 10, 6, 3, TF_CONV_VALID, 2}, {1, 1, 1, 2, 1, TF_CONV_VALID, 1},
};
enum { N_CASES = sizeof cases / sizeof cases[0] };

static void test_conv_init_computes_shapes_and_refuses_bad_ones(void) {
  tf_conv_t cv;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_conv_init(&cv, 3, 32, 32, 64, 3, TF_CONV_SAME, &err), 0);
  ASSERT_INT_EQ(cv.out_h, 32);
  ASSERT_INT_EQ(cv.out_w, 32);
  ASSERT_INT_EQ(cv.pad, 1);
  ASSERT_INT_EQ(cv.fan_in, 27);
  ASSERT_INT_EQ(cv.fan_out, 576);
  ASSERT_INT_EQ(cv.pixels, 1024);
  ASSERT_INT_EQ(cv.ld, 1024);
  ASSERT_INT_EQ(cv.in_size, 3072);
  ASSERT_INT_EQ(cv.out_size, 64 * 1024);
  ASSERT_INT_EQ(tf_conv_init(&cv, 6, 14, 14, 16, 5, TF_CONV_VALID, &err), 0);
  ASSERT_INT_EQ(cv.out_h, 10);
  ASSERT_INT_EQ(cv.pad, 0);
  ASSERT_INT_EQ(cv.pixels, 100);
  ASSERT_INT_EQ(cv.ld, 112);
  /* an even kernel puts its extra padding row below and column right */
  ASSERT_INT_EQ(tf_conv_init(&cv, 1, 6, 7, 1, 4, TF_CONV_SAME, &err), 0);
  ASSERT_INT_EQ(cv.pad, 1);
  ASSERT_INT_EQ(cv.out_h, 6);
  ASSERT_INT_EQ(cv.out_w, 7);
  ASSERT_INT_EQ(tf_conv_init(&cv, 1, 4, 6, 1, 5, TF_CONV_VALID, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "valid padding needs an image at least that large, got 4 x 6");
  ASSERT_INT_EQ(tf_conv_init(&cv, 0, 4, 6, 1, 3, TF_CONV_SAME, &err), TF_EINPUT);
  ASSERT_INT_EQ(tf_conv_init(&cv, 1, 4, 6, 1, 0, TF_CONV_SAME, &err), TF_EINPUT);
  ASSERT_INT_EQ(tf_conv_init(&cv, 1, 4, 6, 1, 3, (tf_conv_padding_t)7, &err), TF_EINPUT);
  ASSERT_INT_EQ(tf_conv_init(&cv, 1 << 20, 1024, 1024, 1, 3, TF_CONV_SAME, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "too large");

  tf_conv_pool_t p;
  ASSERT_INT_EQ(tf_conv_pool_init(&p, 64, 7, 9, &err), 0);
  ASSERT_INT_EQ(p.out_h, 3);
  ASSERT_INT_EQ(p.out_w, 4);
  ASSERT_INT_EQ(p.out_size, 64 * 12);
  ASSERT_INT_EQ(tf_conv_pool_init(&p, 1, 1, 9, &err), TF_EINPUT);
}

static void test_conv_lower_follows_its_definition(void) {
  for (int ci = 0; ci < N_CASES; ci++) {
    tf_conv_t cv = make_conv(&cases[ci]);
    float *x = random_floats(cv.in_size, -1.0, 1.0);
    float *cols = random_floats((size_t)cv.fan_in * cv.ld, 5.0, 6.0); /* stale values */
    tf_conv_lower(&cv, x, cols);
    for (int c = 0; c < cv.in_c; c++)
      for (int dy = 0; dy < cv.k; dy++)
        for (int dx = 0; dx < cv.k; dx++) {
          const float *row = cols + (size_t)((c * cv.k + dy) * cv.k + dx) * cv.ld;
          for (int oy = 0; oy < cv.out_h; oy++)
            for (int ox = 0; ox < cv.out_w; ox++) {
              int iy = oy - cv.pad + dy, ix = ox - cv.pad + dx;
              float want = iy < 0 || iy >= cv.in_h || ix < 0 || ix >= cv.in_w
                               ? 0.0f
                               : x[((size_t)c * cv.in_h + iy) * cv.in_w + ix];
              ASSERT(row[oy * cv.out_w + ox] == want);
            }
          for (size_t p = (size_t)cv.pixels; p < cv.ld; p++) ASSERT(row[p] == 0.0f);
        }
    free(x);
    free(cols);
  }
}

/* Runs forward and backward of layer cv on random data through the SGEMM path and the reference
 * and checks them against each other within the bound. */
static void check_dense_against_naive(const tf_conv_t *cv, int n, const float *x, int relu_in,
                                      tf_conv_work_t *ws) {
  size_t nw = (size_t)cv->out_c * cv->fan_in, nx = (size_t)n * cv->in_size,
         ny = (size_t)n * cv->out_size;
  float *w = random_floats(nw, -0.5, 0.5), *b = random_floats((size_t)cv->out_c, -0.5, 0.5);
  float *dy = random_floats(ny, -1.0, 1.0);
  float *y = zero_floats(ny), *y_ref = zero_floats(ny), *y_abs = zero_floats(ny);
  float *aw = abs_copy(w, nw), *ab = abs_copy(b, (size_t)cv->out_c), *ax = abs_copy(x, nx);
  float *ady = abs_copy(dy, ny);
  tf_conv_forward_naive(cv, aw, ab, ax, n, 0, y_abs);
  for (int relu = 0; relu <= 1; relu++) {
    tf_conv_forward(cv, ws, w, b, x, n, relu, y);
    tf_conv_forward_naive(cv, w, b, x, n, relu, y_ref);
    expect_within_bound("forward", y, y_ref, y_abs, ny, cv->fan_in + 1.0);
  }
  float *gw = zero_floats(nw), *gw_ref = zero_floats(nw), *gw_abs = zero_floats(nw);
  float *gb = zero_floats((size_t)cv->out_c), *gb_ref = zero_floats((size_t)cv->out_c);
  float *gb_abs = zero_floats((size_t)cv->out_c);
  float *dx = zero_floats(nx), *dx_ref = zero_floats(nx), *dx_abs = zero_floats(nx);
  tf_conv_backward_naive(cv, aw, ax, ady, n, gw_abs, gb_abs, dx_abs, 0);
  tf_conv_backward(cv, ws, w, x, dy, n, gw, gb, dx, relu_in);
  tf_conv_backward_naive(cv, w, x, dy, n, gw_ref, gb_ref, dx_ref, relu_in);
  double batch_terms = (double)n * cv->pixels;
  expect_within_bound("weight gradient", gw, gw_ref, gw_abs, nw, batch_terms);
  expect_within_bound("bias gradient", gb, gb_ref, gb_abs, (size_t)cv->out_c, batch_terms);
  expect_within_bound("input gradient", dx, dx_ref, dx_abs, nx, (double)cv->out_c * cv->k * cv->k);
  if (relu_in)
    for (size_t q = 0; q < nx; q++)
      if (!(x[q] > 0.0f)) ASSERT(dx[q] == 0.0f);
  /* without dx the weight and bias gradients are the same */
  float *gw2 = zero_floats(nw), *gb2 = zero_floats((size_t)cv->out_c);
  tf_conv_backward(cv, ws, w, x, dy, n, gw2, gb2, NULL, relu_in);
  ASSERT(memcmp(gw, gw2, nw * sizeof *gw) == 0);
  ASSERT(memcmp(gb, gb2, (size_t)cv->out_c * sizeof *gb) == 0);
  free(w), free(b), free(dy), free(y), free(y_ref), free(y_abs), free(aw), free(ab), free(ax);
  free(ady), free(gw), free(gw_ref), free(gw_abs), free(gb), free(gb_ref), free(gb_abs);
  free(dx), free(dx_ref), free(dx_abs), free(gw2), free(gb2);
}

static void test_conv_sgemm_path_matches_direct_convolution(void) {
  tf_conv_work_t ws = {0};
  tf_err_t err = {0};
  for (int ci = 0; ci < N_CASES; ci++) {
    tf_conv_t cv = make_conv(&cases[ci]);
    ASSERT_INT_EQ(tf_conv_work_reserve(&ws, &cv, &err), 0);
    size_t nx = (size_t)cases[ci].n * cv.in_size;
    float *x = random_floats(nx, -1.0, 1.0);
    for (int relu_in = 0; relu_in <= 1; relu_in++)
      check_dense_against_naive(&cv, cases[ci].n, x, relu_in, &ws);
    free(x);
  }
  tf_conv_work_free(&ws);
}

/* ---- Finite differences ---- */

/* sum(r * y) in double. */
static double dot(const float *r, const float *y, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)r[i] * (double)y[i];
  return s;
}

/* A convolution is linear in x, in W and in b, so central differences of L = sum(r * conv) have
 * no truncation error at any step h: what they carry is the float rounding of the forward pass
 * (about sqrt(T) u |y| per output, T <= 28 here) divided by 2h. With h = 1/16 that is below
 * 1e-5 for the values here; the tolerance 1e-4 (1 + |g|) leaves a factor of ten. */
#define FD_STEP 0.0625f
#define FD_TOL 1e-4

static void expect_fd(const char *what, size_t i, double fd, float g) {
  if (!(fabs(fd - (double)g) <= FD_TOL * (1.0 + fabs((double)g)))) {
    fprintf(stderr, "%s[%zu]: backward %.9g, finite difference %.9g\n", what, i, (double)g, fd);
    exit(1);
  }
}

/* The reference forward's L at the current parameters. */
static double conv_loss(const tf_conv_t *cv, const float *w, const float *b, const float *x, int n,
                        const float *r, float *y) {
  tf_conv_forward_naive(cv, w, b, x, n, 0, y);
  return dot(r, y, (size_t)n * cv->out_size);
}

static void fd_check(const char *what, float *theta, size_t count, const float *g,
                     const tf_conv_t *cv, const float *w, const float *b, const float *x, int n,
                     const float *r, float *y) {
  for (size_t i = 0; i < count; i++) {
    float keep = theta[i];
    theta[i] = keep + FD_STEP;
    double lp = conv_loss(cv, w, b, x, n, r, y);
    theta[i] = keep - FD_STEP;
    double lm = conv_loss(cv, w, b, x, n, r, y);
    theta[i] = keep;
    expect_fd(what, i, (lp - lm) / (2.0 * FD_STEP), g[i]);
  }
}

static void test_conv_gradients_match_finite_differences(void) {
  const layer_case_t fd_cases[] = {
      {2, 5, 6, 3, 3, TF_CONV_SAME, 2},
      {2, 5, 6, 3, 3, TF_CONV_VALID, 2},
      {2, 4, 5, 2, 2, TF_CONV_SAME, 1},
      {3, 3, 4, 2, 1, TF_CONV_VALID, 2},
  };
  tf_conv_work_t ws = {0};
  tf_err_t err = {0};
  for (size_t ci = 0; ci < sizeof fd_cases / sizeof fd_cases[0]; ci++) {
    const layer_case_t *c = &fd_cases[ci];
    tf_conv_t cv = make_conv(c);
    ASSERT_INT_EQ(tf_conv_work_reserve(&ws, &cv, &err), 0);
    size_t nw = (size_t)cv.out_c * cv.fan_in, nx = (size_t)c->n * cv.in_size,
           ny = (size_t)c->n * cv.out_size;
    float *w = random_floats(nw, -1.0, 1.0), *b = random_floats((size_t)cv.out_c, -1.0, 1.0);
    float *x = random_floats(nx, -1.0, 1.0), *r = random_floats(ny, -1.0, 1.0);
    float *y = zero_floats(ny), *gw = zero_floats(nw), *gb = zero_floats((size_t)cv.out_c);
    float *dx = zero_floats(nx);
    /* dL/dy = r */
    tf_conv_backward(&cv, &ws, w, x, r, c->n, gw, gb, dx, 0);
    fd_check("dL/dW", w, nw, gw, &cv, w, b, x, c->n, r, y);
    fd_check("dL/db", b, (size_t)cv.out_c, gb, &cv, w, b, x, c->n, r, y);
    fd_check("dL/dx", x, nx, dx, &cv, w, b, x, c->n, r, y);

    /* Through a ReLU below: L(p) = sum(r * conv(relu(p))), with |p| >= 0.1 so that no step
     * crosses the kink; the backward with relu_in on x = relu(p) gives dL/dp. */
    float *pre = random_floats(nx, 0.1, 1.0), *xr = zero_floats(nx);
    for (size_t q = 0; q < nx; q++) {
      if (urand() < 0.5) pre[q] = -pre[q];
      xr[q] = pre[q] > 0.0f ? pre[q] : 0.0f;
    }
    tf_conv_backward(&cv, &ws, w, xr, r, c->n, gw, gb, dx, 1);
    for (size_t q = 0; q < nx; q++) {
      float keep = pre[q];
      double l[2];
      for (int s = 0; s < 2; s++) {
        float v = keep + (s == 0 ? FD_STEP : -FD_STEP);
        float kept = xr[q];
        xr[q] = v > 0.0f ? v : 0.0f;
        l[s] = conv_loss(&cv, w, b, xr, c->n, r, y);
        xr[q] = kept;
      }
      expect_fd("dL/dp through a ReLU", q, (l[0] - l[1]) / (2.0 * FD_STEP), dx[q]);
    }
    free(w), free(b), free(x), free(r), free(y), free(gw), free(gb), free(dx), free(pre);
    free(xr);
  }
  tf_conv_work_free(&ws);
}

/* A fused ReLU is the ReLU of the plain output, bit for bit. */
static void test_conv_fused_relu_equals_relu_of_output(void) {
  tf_conv_work_t ws = {0};
  tf_err_t err = {0};
  tf_conv_t cv = make_conv(&cases[0]);
  ASSERT_INT_EQ(tf_conv_work_reserve(&ws, &cv, &err), 0);
  int n = cases[0].n;
  size_t ny = (size_t)n * cv.out_size;
  float *w = random_floats((size_t)cv.out_c * cv.fan_in, -1.0, 1.0);
  float *b = random_floats((size_t)cv.out_c, -1.0, 1.0);
  float *x = random_floats((size_t)n * cv.in_size, -1.0, 1.0);
  float *y0 = zero_floats(ny), *y1 = zero_floats(ny);
  tf_conv_forward(&cv, &ws, w, b, x, n, 0, y0);
  tf_conv_forward(&cv, &ws, w, b, x, n, 1, y1);
  int positive = 0, clipped = 0;
  for (size_t i = 0; i < ny; i++) {
    ASSERT(y1[i] == (y0[i] > 0.0f ? y0[i] : 0.0f));
    positive += y0[i] > 0.0f;
    clipped += y0[i] < 0.0f;
  }
  ASSERT(positive > 0 && clipped > 0);
  free(w), free(b), free(x), free(y0), free(y1);
  tf_conv_work_free(&ws);
}

/* ---- Pooling ---- */

static void test_conv_pool_matches_reference_and_routes_gradients(void) {
  const int shapes[][3] = {{3, 6, 8}, {2, 7, 9}, {1, 2, 2}, {4, 3, 5}};
  tf_err_t err = {0};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    tf_conv_pool_t p;
    ASSERT_INT_EQ(tf_conv_pool_init(&p, shapes[s][0], shapes[s][1], shapes[s][2], &err), 0);
    const int n = 3;
    size_t nx = (size_t)n * p.in_size, ny = (size_t)n * p.out_size;
    float *x = random_floats(nx, -1.0, 1.0);
    /* ties: image 1's first window all equal, its second with a tie for the maximum */
    x[p.in_size + 0] = x[p.in_size + 1] = x[p.in_size + (size_t)p.in_w] =
        x[p.in_size + (size_t)p.in_w + 1] = 0.25f;
    float *y = zero_floats(ny), *y_ref = zero_floats(ny), *dy = random_floats(ny, -1.0, 1.0);
    int32_t *arg = calloc(ny, sizeof *arg);
    float *dx = random_floats(nx, 3.0, 4.0), *dx_ref = zero_floats(nx);
    tf_conv_pool_forward(&p, x, n, y, arg);
    tf_conv_pool_forward_naive(&p, x, n, y_ref);
    ASSERT(memcmp(y, y_ref, ny * sizeof *y) == 0);
    ASSERT_INT_EQ(arg[p.out_size], 0); /* the first of four equal values */
    for (int i = 0; i < n; i++)
      for (int c = 0; c < p.c; c++)
        for (int oy = 0; oy < p.out_h; oy++)
          for (int ox = 0; ox < p.out_w; ox++) {
            size_t o = (size_t)i * p.out_size + ((size_t)c * p.out_h + oy) * p.out_w + ox;
            int32_t a = arg[o];
            int iy = (int)(a % (int32_t)(p.in_h * p.in_w)) / p.in_w, ix = (int)(a % p.in_w);
            ASSERT(a / (p.in_h * p.in_w) == c);
            ASSERT(iy / 2 == oy && ix / 2 == ox && iy < 2 * p.out_h && ix < 2 * p.out_w);
            ASSERT(x[(size_t)i * p.in_size + (size_t)a] == y[o]);
          }
    tf_conv_pool_backward(&p, dy, arg, n, dx);
    tf_conv_pool_backward_naive(&p, x, dy, n, dx_ref);
    ASSERT(memcmp(dx, dx_ref, nx * sizeof *dx) == 0);
    /* every output's gradient lands once; the dropped odd row and column get none */
    double sum_dx = 0.0, sum_dy = 0.0;
    for (size_t q = 0; q < nx; q++) sum_dx += dx[q];
    for (size_t o = 0; o < ny; o++) sum_dy += dy[o];
    ASSERT_NEAR(sum_dx, sum_dy, 1e-9);
    if (p.in_h % 2)
      for (int i = 0; i < n; i++)
        for (int c = 0; c < p.c; c++)
          for (int ix = 0; ix < p.in_w; ix++)
            ASSERT(dx[(size_t)i * p.in_size + ((size_t)c * p.in_h + p.in_h - 1) * p.in_w + ix] ==
                   0.0f);
    free(x), free(y), free(y_ref), free(dy), free(arg), free(dx), free(dx_ref);
  }
}

/* Pooling is piecewise linear: with inputs 0.01 apart and h = 0.002 no step changes a window's
 * maximum, so central differences are exact but for the rounding of x +- h (|x| <= 1: below
 * 6e-8 / h = 3e-5 relative); tolerance 1e-4 (1 + |g|). */
static void test_conv_pool_gradient_matches_finite_differences(void) {
  tf_conv_pool_t p;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_conv_pool_init(&p, 2, 5, 7, &err), 0);
  const int n = 2;
  size_t nx = (size_t)n * p.in_size, ny = (size_t)n * p.out_size;
  float *x = zero_floats(nx);
  for (size_t q = 0; q < nx; q++) x[q] = (float)q * 0.01f - 0.6f;
  for (size_t q = nx - 1; q > 0; q--) { /* shuffled, so maxima fall anywhere in the windows */
    size_t j = (size_t)(urand() * (double)(q + 1));
    float t = x[q];
    x[q] = x[j];
    x[j] = t;
  }
  float *r = random_floats(ny, -1.0, 1.0), *y = zero_floats(ny), *dx = zero_floats(nx);
  int32_t *arg = calloc(ny, sizeof *arg);
  tf_conv_pool_forward(&p, x, n, y, arg);
  tf_conv_pool_backward(&p, r, arg, n, dx);
  const float h = 0.002f;
  for (size_t q = 0; q < nx; q++) {
    float keep = x[q];
    x[q] = keep + h;
    tf_conv_pool_forward_naive(&p, x, n, y);
    double lp = dot(r, y, ny);
    x[q] = keep - h;
    tf_conv_pool_forward_naive(&p, x, n, y);
    double lm = dot(r, y, ny);
    x[q] = keep;
    double fd = (lp - lm) / ((double)(keep + h) - (double)(keep - h));
    if (!(fabs(fd - (double)dx[q]) <= 1e-4 * (1.0 + fabs((double)dx[q])))) {
      fprintf(stderr, "pool dL/dx[%zu]: backward %.9g, finite difference %.9g\n", q,
              (double)dx[q], fd);
      exit(1);
    }
  }
  free(x), free(r), free(y), free(dx), free(arg);
}

/* ---- The sparse path ---- */

static void test_conv_sparse_path_matches_dense_path(void) {
  tf_conv_work_t ws = {0};
  tf_err_t err = {0};
  for (int ci = 0; ci < N_CASES; ci++) {
    tf_conv_t cv = make_conv(&cases[ci]);
    ASSERT_INT_EQ(tf_conv_work_reserve(&ws, &cv, &err), 0);
    int n = cases[ci].n;
    size_t nw = (size_t)cv.out_c * cv.fan_in, nx = (size_t)n * cv.in_size,
           ny = (size_t)n * cv.out_size;
    float *w = random_floats(nw, -0.5, 0.5), *b = random_floats((size_t)cv.out_c, -0.5, 0.5);
    float *mask = zero_floats(nw);
    /* about 35% kept; output channel 1 and lowered row 0 entirely pruned */
    for (int j = 0; j < cv.out_c; j++)
      for (int q = 0; q < cv.fan_in; q++)
        mask[(size_t)j * cv.fan_in + q] = j != 1 && q != 0 && urand() < 0.35 ? 1.0f : 0.0f;
    if (cv.out_c == 1 || cv.fan_in == 1) mask[nw - 1] = 1.0f;
    for (size_t i = 0; i < nw; i++) w[i] *= mask[i];
    tf_sparse_t sp = {0};
    ASSERT_INT_EQ(tf_sparse_build(&sp, w, mask, cv.out_c, cv.fan_in, &err), 0);

    float *x = random_floats(nx, -1.0, 1.0), *dy = random_floats(ny, -1.0, 1.0);
    float *ax = abs_copy(x, nx), *aw = abs_copy(w, nw), *ab = abs_copy(b, (size_t)cv.out_c);
    float *ady = abs_copy(dy, ny);
    float *y = zero_floats(ny), *y_sp = random_floats(ny, 7.0, 8.0), *y_abs = zero_floats(ny);
    tf_conv_forward_naive(&cv, aw, ab, ax, n, 0, y_abs);
    for (int relu = 0; relu <= 1; relu++) {
      tf_conv_forward(&cv, &ws, w, b, x, n, relu, y);
      tf_conv_forward_sparse(&cv, &ws, &sp, b, x, n, relu, y_sp);
      expect_within_bound("sparse forward", y_sp, y, y_abs, ny, cv.fan_in + 1.0);
    }

    float *gw = zero_floats(nw), *gw_sp = zero_floats(nw), *gw_abs = zero_floats(nw);
    float *gb = zero_floats((size_t)cv.out_c), *gb_sp = zero_floats((size_t)cv.out_c);
    float *gb_abs = zero_floats((size_t)cv.out_c);
    float *dx = zero_floats(nx), *dx_sp = random_floats(nx, 7.0, 8.0), *dx_abs = zero_floats(nx);
    tf_conv_backward_naive(&cv, aw, ax, ady, n, gw_abs, gb_abs, dx_abs, 0);
    for (int relu_in = 0; relu_in <= 1; relu_in++) {
      tf_conv_backward(&cv, &ws, w, x, dy, n, gw, gb, dx, relu_in);
      tf_conv_backward_sparse(&cv, &ws, &sp, x, dy, n, gb_sp, dx_sp, relu_in);
      memset(gw_sp, 0, nw * sizeof *gw_sp);
      float *vals = sp.val;
      sp.val = sp.grad; /* scatter the gradients to their positions */
      tf_sparse_scatter(&sp, gw_sp);
      sp.val = vals;
      for (size_t i = 0; i < nw; i++)
        if (mask[i] == 0.0f) gw[i] = 0.0f; /* the dense path's pruned entries are dropped later */
      expect_within_bound("sparse weight gradient", gw_sp, gw, gw_abs, nw,
                          (double)n * cv.pixels);
      ASSERT(memcmp(gb, gb_sp, (size_t)cv.out_c * sizeof *gb) == 0);
      expect_within_bound("sparse input gradient", dx_sp, dx, dx_abs, nx,
                          (double)cv.out_c * cv.k * cv.k);
    }
    tf_sparse_free(&sp);
    free(w), free(b), free(mask), free(x), free(dy), free(ax), free(aw), free(ab), free(ady);
    free(y), free(y_sp), free(y_abs), free(gw), free(gw_sp), free(gw_abs), free(gb), free(gb_sp);
    free(gb_abs), free(dx), free(dx_sp), free(dx_abs);
  }
  tf_conv_work_free(&ws);
}

/* Each image is its own product, so an image's output and input gradient do not depend on the
 * batch around it (evaluation may run in chunks of any size), and the sparse path gives the
 * same bits on every instruction set's kernels. */
static void test_conv_results_do_not_depend_on_batch_or_instruction_set(void) {
  const layer_case_t c = {3, 7, 9, 5, 3, TF_CONV_SAME, 4};
  tf_conv_t cv = make_conv(&c);
  tf_conv_work_t ws = {0};
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_conv_work_reserve(&ws, &cv, &err), 0);
  size_t nw = (size_t)cv.out_c * cv.fan_in, nx = (size_t)c.n * cv.in_size,
         ny = (size_t)c.n * cv.out_size;
  float *w = random_floats(nw, -0.5, 0.5), *b = random_floats((size_t)cv.out_c, -0.5, 0.5);
  float *mask = zero_floats(nw);
  for (size_t i = 0; i < nw; i++) mask[i] = urand() < 0.3 ? 1.0f : 0.0f;
  float *x = random_floats(nx, -1.0, 1.0), *dy = random_floats(ny, -1.0, 1.0);
  float *y = zero_floats(ny), *y1 = zero_floats(ny), *dx = zero_floats(nx), *dx1 = zero_floats(nx);
  float *gw = zero_floats(nw), *gb = zero_floats((size_t)cv.out_c);
  tf_conv_forward(&cv, &ws, w, b, x, c.n, 1, y);
  tf_conv_backward(&cv, &ws, w, x, dy, c.n, gw, gb, dx, 1);
  for (int i = 0; i < c.n; i++) {
    tf_conv_forward(&cv, &ws, w, b, x + i * cv.in_size, 1, 1, y1 + i * cv.out_size);
    tf_conv_backward(&cv, &ws, w, x + i * cv.in_size, dy + i * cv.out_size, 1, gw, gb,
                     dx1 + i * cv.in_size, 1);
  }
  ASSERT(memcmp(y, y1, ny * sizeof *y) == 0);
  ASSERT(memcmp(dx, dx1, nx * sizeof *dx) == 0);

  tf_sparse_t sp = {0};
  ASSERT_INT_EQ(tf_sparse_build(&sp, w, mask, cv.out_c, cv.fan_in, &err), 0);
  float *ys = zero_floats(ny), *dxs = zero_floats(nx), *gs = zero_floats((size_t)sp.nnz);
  const char *isas[] = {"baseline", "avx2", "avx512"};
  const char *native = tf_sparse_isa();
  int compared = 0;
  for (int k = 0; k < 3; k++) {
    if (tf_sparse_use_isa(isas[k]) != 0) continue;
    tf_conv_forward_sparse(&cv, &ws, &sp, b, x, c.n, 1, y);
    tf_conv_backward_sparse(&cv, &ws, &sp, x, dy, c.n, gb, dx, 1);
    if (compared++ == 0) {
      memcpy(ys, y, ny * sizeof *y);
      memcpy(dxs, dx, nx * sizeof *dx);
      memcpy(gs, sp.grad, (size_t)sp.nnz * sizeof *gs);
      for (int i = 0; i < c.n; i++) {
        tf_conv_forward_sparse(&cv, &ws, &sp, b, x + i * cv.in_size, 1, 1, y1 + i * cv.out_size);
        tf_conv_backward_sparse(&cv, &ws, &sp, x + i * cv.in_size, dy + i * cv.out_size, 1, gb,
                                dx1 + i * cv.in_size, 1);
      }
      ASSERT(memcmp(y, y1, ny * sizeof *y) == 0);
      ASSERT(memcmp(dx, dx1, nx * sizeof *dx) == 0);
      continue;
    }
    ASSERT(memcmp(y, ys, ny * sizeof *y) == 0);
    ASSERT(memcmp(dx, dxs, nx * sizeof *dx) == 0);
    ASSERT(memcmp(sp.grad, gs, (size_t)sp.nnz * sizeof *gs) == 0);
  }
  ASSERT(compared >= 1);
  ASSERT_INT_EQ(tf_sparse_use_isa(native), 0);
  tf_sparse_free(&sp);
  free(w), free(b), free(mask), free(x), free(dy), free(y), free(y1), free(dx), free(dx1);
  free(gw), free(gb), free(ys), free(dxs), free(gs);
  tf_conv_work_free(&ws);
}

/* ---- The networks' layers ---- */

typedef struct net_layer {
  int conv; /* 1: convolution to `c` channels with kernel k and padding; 0: 2x2 pool */
  int c, k;
  tf_conv_padding_t padding;
} net_layer_t;

/* The layers of a net on (c, h, w) inputs, each checked as above at its shape on the previous
 * layer's reference output (n images); returns the flattened size the dense layers see and the
 * conv layers' weights in *conv_weights. */
static size_t run_stack(const net_layer_t *layers, int n_layers, int c, int h, int w, int n,
                        size_t *conv_weights, int *fan_ins, int *fan_outs) {
  tf_conv_work_t ws = {0};
  tf_err_t err = {0};
  float *x = random_floats((size_t)n * c * h * w, 0.0, 1.0);
  size_t weights = 0;
  int conv_i = 0;
  for (int l = 0; l < n_layers; l++) {
    size_t nx = (size_t)n * c * h * w;
    if (layers[l].conv) {
      tf_conv_t cv;
      ASSERT_INT_EQ(
          tf_conv_init(&cv, c, h, w, layers[l].c, layers[l].k, layers[l].padding, &err), 0);
      ASSERT_INT_EQ(tf_conv_work_reserve(&ws, &cv, &err), 0);
      check_dense_against_naive(&cv, n, x, l > 0, &ws);
      weights += (size_t)cv.out_c * cv.fan_in;
      fan_ins[conv_i] = cv.fan_in;
      fan_outs[conv_i++] = cv.fan_out;
      float *wt = random_floats((size_t)cv.out_c * cv.fan_in, -0.3, 0.3);
      float *b = random_floats((size_t)cv.out_c, 0.0, 0.1);
      float *y = zero_floats((size_t)n * cv.out_size);
      tf_conv_forward_naive(&cv, wt, b, x, n, 1, y);
      free(wt), free(b), free(x);
      x = y;
      c = cv.out_c, h = cv.out_h, w = cv.out_w;
    } else {
      tf_conv_pool_t p;
      ASSERT_INT_EQ(tf_conv_pool_init(&p, c, h, w, &err), 0);
      float *y = zero_floats((size_t)n * p.out_size), *y_ref = zero_floats((size_t)n * p.out_size);
      int32_t *arg = calloc((size_t)n * p.out_size, sizeof *arg);
      tf_conv_pool_forward(&p, x, n, y, arg);
      tf_conv_pool_forward_naive(&p, x, n, y_ref);
      ASSERT(memcmp(y, y_ref, (size_t)n * p.out_size * sizeof *y) == 0);
      (void)nx;
      free(x), free(y_ref), free(arg);
      x = y;
      h = p.out_h, w = p.out_w;
    }
  }
  free(x);
  tf_conv_work_free(&ws);
  *conv_weights = weights;
  return (size_t)c * h * w;
}

static void test_conv_lenet5_and_conv2_layers_on_mnist_and_cifar_shapes(void) {
  const net_layer_t conv2[] = {
      {1, 64, 3, TF_CONV_SAME}, {1, 64, 3, TF_CONV_SAME}, {0, 0, 0, TF_CONV_SAME}};
  /* LeNet-5 as LeCun et al. 1998 on 32 x 32 inputs: both convolutions valid. */
  const net_layer_t lenet5_valid[] = {{1, 6, 5, TF_CONV_VALID},
                                      {0, 0, 0, TF_CONV_VALID},
                                      {1, 16, 5, TF_CONV_VALID},
                                      {0, 0, 0, TF_CONV_VALID}};
  /* On 28 x 28 MNIST, the first convolution padded (same) gives LeCun's 32 x 32 geometry. */
  const net_layer_t lenet5_same[] = {{1, 6, 5, TF_CONV_SAME},
                                     {0, 0, 0, TF_CONV_VALID},
                                     {1, 16, 5, TF_CONV_VALID},
                                     {0, 0, 0, TF_CONV_VALID}};
  size_t weights = 0;
  int fi[4], fo[4];

  ASSERT_INT_EQ(run_stack(lenet5_same, 4, 1, 28, 28, 2, &weights, fi, fo), 16 * 5 * 5);
  ASSERT_INT_EQ(weights, 6 * 25 + 16 * 150);
  ASSERT_INT_EQ(fi[0], 25);
  ASSERT_INT_EQ(fo[0], 150);
  ASSERT_INT_EQ(fi[1], 150);
  ASSERT_INT_EQ(fo[1], 400);
  ASSERT_INT_EQ(run_stack(lenet5_valid, 4, 1, 28, 28, 2, &weights, fi, fo), 16 * 4 * 4);
  ASSERT_INT_EQ(run_stack(lenet5_valid, 4, 3, 32, 32, 2, &weights, fi, fo), 16 * 5 * 5);
  ASSERT_INT_EQ(weights, 6 * 75 + 16 * 150);
  ASSERT_INT_EQ(fi[0], 75);

  /* Conv-2 (Frankle & Carbin, Table 1): 38K convolution weights on CIFAR-10, 4.3M dense ones
   * behind a 16 x 16 x 64 flattening. */
  ASSERT_INT_EQ(run_stack(conv2, 3, 3, 32, 32, 1, &weights, fi, fo), 16 * 16 * 64);
  ASSERT_INT_EQ(weights, 64 * 27 + 64 * 576);
  ASSERT_INT_EQ(weights, 38592);
  ASSERT_INT_EQ(fi[1], 576);
  ASSERT_INT_EQ(fo[1], 576);
  ASSERT_INT_EQ(16 * 16 * 64 * 256 + 256 * 256 + 256 * 10, 4262400);
  ASSERT_INT_EQ(run_stack(conv2, 3, 1, 28, 28, 1, &weights, fi, fo), 14 * 14 * 64);
  ASSERT_INT_EQ(weights, 64 * 9 + 64 * 576);
  ASSERT_INT_EQ(fi[0], 9);
  ASSERT_INT_EQ(fo[0], 576);
}

int main(void) {
  RUN(test_conv_init_computes_shapes_and_refuses_bad_ones);
  RUN(test_conv_lower_follows_its_definition);
  RUN(test_conv_sgemm_path_matches_direct_convolution);
  RUN(test_conv_fused_relu_equals_relu_of_output);
  RUN(test_conv_gradients_match_finite_differences);
  RUN(test_conv_pool_matches_reference_and_routes_gradients);
  RUN(test_conv_pool_gradient_matches_finite_differences);
  RUN(test_conv_sparse_path_matches_dense_path);
  RUN(test_conv_results_do_not_depend_on_batch_or_instruction_set);
  RUN(test_conv_lenet5_and_conv2_layers_on_mnist_and_cifar_shapes);
  fprintf(stderr, "largest |fast - reference| seen: %.3f of the bound 2 gamma_T A\n", worst_ratio);
  return 0;
}
