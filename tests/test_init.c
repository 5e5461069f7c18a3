/* Tests for init: each initialiser's distribution, orthogonality, pairing, and name parsing. */
#include "ticketfarm/init.h"

#include "test.h"

typedef struct shape {
  int fan_out, fan_in;
} shape_t;

/* LeNet-300-100's first and second layers. */
static const shape_t shapes[] = {{300, 784}, {100, 300}};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

static float *fill(tf_init_kind_t kind, double param, int fan_out, int fan_in, uint64_t seed) {
  float *w = malloc((size_t)fan_out * (size_t)fan_in * sizeof *w);
  ASSERT(w != NULL);
  tf_init_spec_t spec = {kind, param};
  tf_rng_t rng;
  tf_rng_seed(&rng, seed, TF_STREAM_INIT, 0, 0);
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_init_fill(w, fan_out, fan_in, &spec, &rng, &err), 0);
  return w;
}

typedef struct moments {
  double mean, var, m4, max_abs;
} moments_t;

static moments_t moments_of(const float *w, size_t n) {
  moments_t m = {0, 0, 0, 0};
  for (size_t i = 0; i < n; i++) m.mean += w[i];
  m.mean /= (double)n;
  for (size_t i = 0; i < n; i++) {
    double x = w[i];
    m.var += x * x;
    m.m4 += x * x * x * x;
    if (fabs(x) > m.max_abs) m.max_abs = fabs(x);
  }
  m.var /= (double)n;
  m.m4 /= (double)n;
  return m;
}

/* Mean 0 and E[w^2] = std^2 within 5 standard errors (Var(w^2) = 2 std^4 for a Gaussian). */
static void check_gaussian(tf_init_kind_t kind, double param, double (*std_of)(shape_t)) {
  for (int s = 0; s < NSHAPES; s++) {
    shape_t sh = shapes[s];
    size_t n = (size_t)sh.fan_out * (size_t)sh.fan_in;
    float *w = fill(kind, param, sh.fan_out, sh.fan_in, 100 + (uint64_t)s);
    double sd = std_of(sh);
    moments_t m = moments_of(w, n);
    ASSERT_NEAR(m.mean, 0.0, 5 * sd / sqrt((double)n));
    ASSERT_NEAR(m.var, sd * sd, 5 * sd * sd * sqrt(2.0 / (double)n));
    ASSERT_NEAR(m.m4, 3 * sd * sd * sd * sd, 5 * sd * sd * sd * sd * sqrt(96.0 / (double)n));
    free(w);
  }
}

/* All values in [-a, a], mean 0, E[w^2] = a^2 / 3 (Var(w^2) = 4 a^4 / 45). */
static void check_uniform(tf_init_kind_t kind, double param, double (*bound_of)(shape_t)) {
  for (int s = 0; s < NSHAPES; s++) {
    shape_t sh = shapes[s];
    size_t n = (size_t)sh.fan_out * (size_t)sh.fan_in;
    float *w = fill(kind, param, sh.fan_out, sh.fan_in, 200 + (uint64_t)s);
    double a = bound_of(sh);
    moments_t m = moments_of(w, n);
    ASSERT(m.max_abs <= (float)a);
    ASSERT(m.max_abs > 0.999 * a);
    ASSERT_NEAR(m.mean, 0.0, 5 * a / sqrt(3.0 * (double)n));
    ASSERT_NEAR(m.var, a * a / 3, 5 * a * a * sqrt(4.0 / 45 / (double)n));
    free(w);
  }
}

static double glorot_normal_std(shape_t s) { return sqrt(2.0 / (s.fan_in + s.fan_out)); }
static double he_normal_std(shape_t s) { return sqrt(2.0 / s.fan_in); }
static double lecun_normal_std(shape_t s) { return sqrt(1.0 / s.fan_in); }
static double sigma_005(shape_t s) { return (void)s, 0.05; }
static double glorot_uniform_bound(shape_t s) { return sqrt(6.0 / (s.fan_in + s.fan_out)); }
static double he_uniform_bound(shape_t s) { return sqrt(6.0 / s.fan_in); }
static double lecun_uniform_bound(shape_t s) { return sqrt(3.0 / s.fan_in); }
static double bound_03(shape_t s) { return (void)s, 0.3; }

static void test_init_gaussian_kinds_have_formula_variance(void) {
  check_gaussian(TF_INIT_GLOROT_NORMAL, NAN, glorot_normal_std);
  check_gaussian(TF_INIT_HE_NORMAL, NAN, he_normal_std);
  check_gaussian(TF_INIT_LECUN_NORMAL, NAN, lecun_normal_std);
  check_gaussian(TF_INIT_NORMAL, 0.05, sigma_005);
}

static void test_init_uniform_kinds_have_formula_bounds_and_variance(void) {
  check_uniform(TF_INIT_GLOROT_UNIFORM, NAN, glorot_uniform_bound);
  check_uniform(TF_INIT_HE_UNIFORM, NAN, he_uniform_bound);
  check_uniform(TF_INIT_LECUN_UNIFORM, NAN, lecun_uniform_bound);
  check_uniform(TF_INIT_UNIFORM, 0.3, bound_03);
}

static void test_init_default_params_are_used_when_param_is_nan(void) {
  ASSERT_NEAR(tf_init_default_param(TF_INIT_NORMAL), 0.1, 0);
  ASSERT_NEAR(tf_init_default_param(TF_INIT_UNIFORM), 0.1, 0);
  ASSERT_NEAR(tf_init_default_param(TF_INIT_TRUNCATED_NORMAL), 0.1, 0);
  ASSERT_NEAR(tf_init_default_param(TF_INIT_ORTHOGONAL), 1.0, 0);
  ASSERT(isnan(tf_init_default_param(TF_INIT_HE_NORMAL)));
  ASSERT(isnan(tf_init_default_param(TF_INIT_SIGNED_CONSTANT)));
  float *a = fill(TF_INIT_NORMAL, NAN, 10, 20, 1);
  float *b = fill(TF_INIT_NORMAL, 0.1, 10, 20, 1);
  ASSERT(memcmp(a, b, 200 * sizeof *a) == 0);
  free(a);
  free(b);
}

/* sigma is not rescaled (PyTorch trunc_normal_(std=sigma, a=-2 sigma, b=2 sigma), Keras
 * TruncatedNormal): values in [-2 sigma, 2 sigma] and std = 0.8796 sigma. */
static void test_init_truncated_normal_cuts_at_two_sigma_without_rescaling(void) {
  const double sigma = 0.1;
  /* Moments of N(0, 1) restricted to [-2, 2]. */
  double phi2 = exp(-2.0) / sqrt(2 * 3.14159265358979323846), mass = erf(2 / sqrt(2.0));
  double var1 = 1 - 2 * 2 * phi2 / mass;
  double m4 = 3 - 2 * (8 + 3 * 2) * phi2 / mass;
  ASSERT_NEAR(sqrt(var1), 0.8796, 1e-4);
  for (int s = 0; s < NSHAPES; s++) {
    shape_t sh = shapes[s];
    size_t n = (size_t)sh.fan_out * (size_t)sh.fan_in;
    float *w = fill(TF_INIT_TRUNCATED_NORMAL, sigma, sh.fan_out, sh.fan_in, 300 + (uint64_t)s);
    moments_t m = moments_of(w, n);
    ASSERT(m.max_abs <= (float)(2 * sigma));
    ASSERT(m.max_abs > 1.99 * sigma);
    ASSERT_NEAR(m.mean, 0.0, 5 * sigma * sqrt(var1 / (double)n));
    double s4 = sigma * sigma * sigma * sigma;
    ASSERT_NEAR(m.var, sigma * sigma * var1, 5 * sqrt(s4 * (m4 - var1 * var1) / (double)n));
    free(w);
  }
}

/* Keras's truncated VarianceScaling: sigma = sqrt(scale / fan) / 0.87962566103423978, cut at
 * 2 sigma, so the draws keep the variance scale / fan of the untruncated kind. */
static void check_truncated_keeps_variance(tf_init_kind_t kind, double (*std_of)(shape_t)) {
  double phi2 = exp(-2.0) / sqrt(2 * 3.14159265358979323846), mass = erf(2 / sqrt(2.0));
  double var1 = 1 - 2 * 2 * phi2 / mass;
  double m4 = 3 - 2 * (8 + 3 * 2) * phi2 / mass;
  for (int s = 0; s < NSHAPES; s++) {
    shape_t sh = shapes[s];
    size_t n = (size_t)sh.fan_out * (size_t)sh.fan_in;
    float *w = fill(kind, NAN, sh.fan_out, sh.fan_in, 400 + (uint64_t)s);
    double sd = std_of(sh), sigma = sd / 0.87962566103423978;
    moments_t m = moments_of(w, n);
    ASSERT(m.max_abs <= (float)(2 * sigma));
    ASSERT(m.max_abs > 1.99 * sigma);
    ASSERT_NEAR(m.mean, 0.0, 5 * sd / sqrt((double)n));
    /* Var(w^2) = sigma^4 (m4 - var1^2) */
    double s4 = sigma * sigma * sigma * sigma;
    ASSERT_NEAR(m.var, sd * sd, 5 * sqrt(s4 * (m4 - var1 * var1) / (double)n));
    free(w);
  }
}

static void test_init_truncated_kinds_keep_the_formula_variance_and_cut_at_two_sigma(void) {
  check_truncated_keeps_variance(TF_INIT_GLOROT_NORMAL_TRUNCATED, glorot_normal_std);
  check_truncated_keeps_variance(TF_INIT_HE_NORMAL_TRUNCATED, he_normal_std);
  check_truncated_keeps_variance(TF_INIT_LECUN_NORMAL_TRUNCATED, lecun_normal_std);
  ASSERT(isnan(tf_init_default_param(TF_INIT_HE_NORMAL_TRUNCATED)));
}

static void test_init_signed_constant_is_exactly_plus_minus_c(void) {
  for (int s = 0; s < NSHAPES; s++) {
    shape_t sh = shapes[s];
    size_t n = (size_t)sh.fan_out * (size_t)sh.fan_in;
    float *w = fill(TF_INIT_SIGNED_CONSTANT, NAN, sh.fan_out, sh.fan_in, 400 + (uint64_t)s);
    float c = (float)sqrt(2.0 / sh.fan_in);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
      ASSERT(w[i] == c || w[i] == -c);
      pos += w[i] > 0;
    }
    ASSERT_NEAR((double)pos / (double)n, 0.5, 5 * 0.5 / sqrt((double)n));
    free(w);
  }
}

/* max |(W W^T or W^T W) - gain^2 I| over the smaller Gram matrix of W (fan_out, fan_in). */
static double gram_error(const float *w, int rows, int cols, double gain) {
  int by_rows = rows <= cols;
  int k = by_rows ? rows : cols, len = by_rows ? cols : rows;
  double worst = 0;
  for (int a = 0; a < k; a++)
    for (int b = 0; b < k; b++) {
      double dot = 0;
      for (int t = 0; t < len; t++)
        dot += by_rows ? (double)w[a * cols + t] * w[b * cols + t]
                       : (double)w[t * cols + a] * w[t * cols + b];
      double e = fabs(dot - (a == b ? gain * gain : 0.0));
      if (e > worst) worst = e;
    }
  return worst;
}

static void test_init_orthogonal_has_orthonormal_rows_or_columns(void) {
  const shape_t cases[] = {{300, 784}, {100, 300}, {300, 100}, {64, 64}, {1, 5}, {5, 1}};
  const double gains[] = {1.0, 1.4};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int g = 0; g < 2; g++) {
      shape_t sh = cases[c];
      float *w = fill(TF_INIT_ORTHOGONAL, gains[g], sh.fan_out, sh.fan_in, 500 + c);
      double e = gram_error(w, sh.fan_out, sh.fan_in, gains[g]);
      if (!(e <= 1e-4)) fprintf(stderr, "shape %d x %d gain %g\n", sh.fan_out, sh.fan_in, gains[g]);
      ASSERT_NEAR(e, 0.0, 1e-4);
      free(w);
    }
}

/* As PyTorch's orthogonal_: W (or W^T when fan_out < fan_in) is the Q of the QR decomposition
 * with a positive diagonal of the Gaussian matrix drawn row-major over W from the same stream,
 * so R = Q^T A must be upper triangular with a positive diagonal. */
static void test_init_orthogonal_is_sign_corrected_q_of_the_drawn_gaussian(void) {
  const shape_t cases[] = {{30, 50}, {50, 30}, {20, 20}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int rows = cases[c].fan_out, cols = cases[c].fan_in;
    float *w = fill(TF_INIT_ORTHOGONAL, 1.0, rows, cols, 600 + c);
    double *g = malloc((size_t)rows * cols * sizeof *g);
    tf_rng_t rng;
    tf_rng_seed(&rng, 600 + c, TF_STREAM_INIT, 0, 0);
    for (int i = 0; i < rows * cols; i++) g[i] = tf_rng_normal(&rng);
    /* A = G (rows >= cols) or G^T; Q = W or W^T; both (m, n) with m >= n. */
    int tr = rows < cols, m = tr ? cols : rows, n = tr ? rows : cols;
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) {
        double r = 0;
        for (int t = 0; t < m; t++) {
          double q = tr ? w[i * cols + t] : w[t * cols + i];
          double a = tr ? g[j * cols + t] : g[t * cols + j];
          r += q * a;
        }
        if (i > j) ASSERT_NEAR(r, 0.0, 1e-4 * sqrt((double)m));
        if (i == j) ASSERT(r > 0);
      }
    free(g);
    free(w);
  }
}

/* Paired design: one stream gives glorot_normal and he_normal (and every other Gaussian kind)
 * the same normals, so the weights differ only by the constant ratio of the scales. */
static void test_init_same_seed_gives_proportional_weights(void) {
  const int rows = 300, cols = 784;
  const size_t n = (size_t)rows * cols;
  shape_t sh = {rows, cols};
  struct {
    tf_init_kind_t a, b;
    double pa, pb, ratio;
  } pairs[] = {
      {TF_INIT_GLOROT_NORMAL, TF_INIT_HE_NORMAL, NAN, NAN,
       he_normal_std(sh) / glorot_normal_std(sh)},
      {TF_INIT_LECUN_NORMAL, TF_INIT_NORMAL, NAN, 0.1, 0.1 / lecun_normal_std(sh)},
      {TF_INIT_GLOROT_UNIFORM, TF_INIT_HE_UNIFORM, NAN, NAN,
       he_uniform_bound(sh) / glorot_uniform_bound(sh)},
      {TF_INIT_LECUN_UNIFORM, TF_INIT_UNIFORM, NAN, 0.1, 0.1 / lecun_uniform_bound(sh)},
  };
  for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
    float *a = fill(pairs[p].a, pairs[p].pa, rows, cols, 77);
    float *b = fill(pairs[p].b, pairs[p].pb, rows, cols, 77);
    for (size_t i = 0; i < n; i++) {
      /* Each value is one float rounding of the same draw times its scale. */
      double want = (double)a[i] * pairs[p].ratio;
      ASSERT_NEAR(b[i], want, 2.5e-7 * fabs(want) + 1e-30);
    }
    free(a);
    free(b);
  }
  /* A different seed gives different weights. */
  float *a = fill(TF_INIT_GLOROT_NORMAL, NAN, rows, cols, 77);
  float *b = fill(TF_INIT_GLOROT_NORMAL, NAN, rows, cols, 78);
  float *c = fill(TF_INIT_GLOROT_NORMAL, NAN, rows, cols, 77);
  ASSERT(memcmp(a, b, n * sizeof *a) != 0);
  ASSERT(memcmp(a, c, n * sizeof *a) == 0);
  free(a);
  free(b);
  free(c);
}

static void test_init_names_follow_enum_order(void) {
  const char *want[] = {"glorot_normal", "glorot_uniform", "he_normal",      "he_uniform",
                        "lecun_normal",  "lecun_uniform",  "orthogonal",     "truncated_normal",
                        "normal",        "uniform",        "signed_constant",
                        "glorot_normal_truncated", "he_normal_truncated",
                        "lecun_normal_truncated"};
  ASSERT_INT_EQ(sizeof want / sizeof want[0], TF_INIT_COUNT);
  for (int k = 0; k < TF_INIT_COUNT; k++)
    ASSERT(strcmp(tf_init_name((tf_init_kind_t)k), want[k]) == 0);
  ASSERT(tf_init_name(TF_INIT_COUNT) == NULL);
  ASSERT(tf_init_name((tf_init_kind_t)-1) == NULL);
}

static void test_init_parse_and_format_round_trip(void) {
  const char *texts[] = {"glorot_normal",         "he_uniform",  "signed_constant",
                         "normal(0.05)",          "normal(0.1)", "orthogonal(1.4)",
                         "truncated_normal(0.2)", "uniform(3)",  "normal(0.123456789)",
                         "normal(1e-05)"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    tf_init_spec_t spec, again;
    tf_err_t err = {0};
    ASSERT_INT_EQ(tf_init_parse(texts[i], &spec, &err), 0);
    char buf[64];
    tf_init_format(&spec, buf, sizeof buf);
    if (strcmp(buf, texts[i]) != 0) fprintf(stderr, "'%s' formats as '%s'\n", texts[i], buf);
    ASSERT(strcmp(buf, texts[i]) == 0);
    ASSERT_INT_EQ(tf_init_parse(buf, &again, &err), 0);
    ASSERT_INT_EQ(again.kind, spec.kind);
    ASSERT(again.param == spec.param || (isnan(again.param) && isnan(spec.param)));
  }
}

static void test_init_parse_fills_defaults_and_canonical_form(void) {
  tf_init_spec_t spec;
  tf_err_t err = {0};
  char buf[64];
  ASSERT_INT_EQ(tf_init_parse("normal", &spec, &err), 0);
  ASSERT_INT_EQ(spec.kind, TF_INIT_NORMAL);
  ASSERT_NEAR(spec.param, 0.1, 0);
  tf_init_format(&spec, buf, sizeof buf);
  ASSERT(strcmp(buf, "normal(0.1)") == 0);

  ASSERT_INT_EQ(tf_init_parse("orthogonal", &spec, &err), 0);
  tf_init_format(&spec, buf, sizeof buf);
  ASSERT(strcmp(buf, "orthogonal(1)") == 0);

  ASSERT_INT_EQ(tf_init_parse(" he_normal ", &spec, &err), 0);
  ASSERT_INT_EQ(spec.kind, TF_INIT_HE_NORMAL);
  ASSERT(isnan(spec.param));
  tf_init_format(&spec, buf, sizeof buf);
  ASSERT(strcmp(buf, "he_normal") == 0);

  ASSERT_INT_EQ(tf_init_parse("uniform(0.50)", &spec, &err), 0);
  tf_init_format(&spec, buf, sizeof buf);
  ASSERT(strcmp(buf, "uniform(0.5)") == 0);

  /* A short buffer truncates rather than overflows. */
  char tiny[8];
  tf_init_format(&spec, tiny, sizeof tiny);
  ASSERT(strcmp(tiny, "uniform") == 0);
}

static void expect_parse_error(const char *text, const char *needle) {
  tf_init_spec_t spec = {TF_INIT_SIGNED_CONSTANT, 42};
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_init_parse(text, &spec, &err), TF_EINPUT);
  ASSERT_INT_EQ(err.code, TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, needle);
  ASSERT_INT_EQ(spec.kind, TF_INIT_SIGNED_CONSTANT); /* untouched on error */
}

static void test_init_parse_rejects_bad_names_and_params(void) {
  expect_parse_error("he_norml", "unknown initialiser 'he_norml' — did you mean 'he_normal'?");
  expect_parse_error("glorot_uniorm(2)", "did you mean 'glorot_uniform'?");
  expect_parse_error("xavier", "unknown initialiser 'xavier' (valid: glorot_normal, ");
  expect_parse_error("xavier", "lecun_normal_truncated)");
  expect_parse_error("normal(-1)", "must be finite and > 0");
  expect_parse_error("normal(0)", "must be finite and > 0");
  expect_parse_error("normal(inf)", "must be finite and > 0");
  expect_parse_error("normal(nan)", "must be finite and > 0");
  expect_parse_error("he_normal(2)", "'he_normal' takes no parameter");
  expect_parse_error("normal(abc)", "'abc' is not a number");
  expect_parse_error("normal()", "is not a number");
  expect_parse_error("normal(0.1", "missing ')'");
  expect_parse_error("", "unknown initialiser ''");

  tf_err_t err = {0};
  tf_init_spec_t spec;
  ASSERT_INT_EQ(tf_init_parse("xavier", &spec, &err), TF_EINPUT);
  ASSERT(strstr(err.msg, "did you mean") == NULL);
}

static void test_init_fill_handles_empty_and_bad_shapes(void) {
  tf_init_spec_t spec = {TF_INIT_HE_NORMAL, NAN};
  tf_rng_t rng;
  tf_rng_seed(&rng, 1, TF_STREAM_INIT, 0, 0);
  tf_err_t err = {0};
  float w[1] = {7};
  ASSERT_INT_EQ(tf_init_fill(w, 0, 10, &spec, &rng, &err), 0);
  ASSERT_NEAR(w[0], 7, 0);
  ASSERT_INT_EQ(tf_init_fill(w, -1, 10, &spec, &rng, &err), TF_EINPUT);
  spec.kind = TF_INIT_COUNT;
  ASSERT_INT_EQ(tf_init_fill(w, 1, 1, &spec, &rng, &err), TF_EINPUT);
}

int main(void) {
  RUN(test_init_gaussian_kinds_have_formula_variance);
  RUN(test_init_uniform_kinds_have_formula_bounds_and_variance);
  RUN(test_init_default_params_are_used_when_param_is_nan);
  RUN(test_init_truncated_normal_cuts_at_two_sigma_without_rescaling);
  RUN(test_init_truncated_kinds_keep_the_formula_variance_and_cut_at_two_sigma);
  RUN(test_init_signed_constant_is_exactly_plus_minus_c);
  RUN(test_init_orthogonal_has_orthonormal_rows_or_columns);
  RUN(test_init_orthogonal_is_sign_corrected_q_of_the_drawn_gaussian);
  RUN(test_init_same_seed_gives_proportional_weights);
  RUN(test_init_names_follow_enum_order);
  RUN(test_init_parse_and_format_round_trip);
  RUN(test_init_parse_fills_defaults_and_canonical_form);
  RUN(test_init_parse_rejects_bad_names_and_params);
  RUN(test_init_fill_handles_empty_and_bad_shapes);
  return 0;
}
