/* Weight initialisers: the names sweeps use, their parameters, and the draws that fill W. */
#include "ticketfarm/init.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketfarm/text.h"

/* Indexed by tf_init_kind_t. */
static const char *const init_names[TF_INIT_COUNT] = {
    "glorot_normal", "glorot_uniform", "he_normal",       "he_uniform",
    "lecun_normal",  "lecun_uniform",  "orthogonal",      "truncated_normal",
    "normal",        "uniform",        "signed_constant", "glorot_normal_truncated",
    "he_normal_truncated", "lecun_normal_truncated",
};

/* The standard deviation of N(0, 1) cut at +-2, by which Keras's VarianceScaling divides sigma
 * so that the truncated draws keep the variance scale / fan. */
#define TRUNCATED_2SIGMA_STDDEV 0.87962566103423978

const char *tf_init_name(tf_init_kind_t kind) {
  if ((int)kind < 0 || kind >= TF_INIT_COUNT) return NULL;
  return init_names[kind];
}

double tf_init_default_param(tf_init_kind_t kind) {
  switch (kind) {
    case TF_INIT_ORTHOGONAL: return 1.0;
    case TF_INIT_TRUNCATED_NORMAL: return 0.1;
    case TF_INIT_NORMAL: return 0.1;
    case TF_INIT_UNIFORM: return 0.1;
    default: return NAN;
  }
}

static int takes_param(tf_init_kind_t kind) { return !isnan(tf_init_default_param(kind)); }

static int unknown_name(const char *name, tf_err_t *err) {
  const char *hint = tf_text_closest(name, init_names, TF_INIT_COUNT);
  if (hint != NULL)
    return tf_err_set(err, TF_EINPUT, "unknown initialiser '%s' — did you mean '%s'?", name, hint);
  char list[512];
  size_t used = 0;
  list[0] = '\0';
  for (int k = 0; k < TF_INIT_COUNT; k++) {
    int w = snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "", init_names[k]);
    if (w < 0 || (size_t)w >= sizeof list - used) break;
    used += (size_t)w;
  }
  return tf_err_set(err, TF_EINPUT, "unknown initialiser '%s' (valid: %s)", name, list);
}

int tf_init_parse(const char *text, tf_init_spec_t *spec, tf_err_t *err) {
  while (isspace((unsigned char)*text)) text++;
  size_t len = strlen(text);
  while (len > 0 && isspace((unsigned char)text[len - 1])) len--;

  const char *open = memchr(text, '(', len);
  size_t name_len = open != NULL ? (size_t)(open - text) : len;
  while (name_len > 0 && isspace((unsigned char)text[name_len - 1])) name_len--;
  char name[64];
  if (name_len >= sizeof name) name_len = sizeof name - 1;
  memcpy(name, text, name_len);
  name[name_len] = '\0';

  int kind = -1;
  for (int k = 0; k < TF_INIT_COUNT; k++)
    if (strcmp(name, init_names[k]) == 0) kind = k;
  if (kind < 0) return unknown_name(name, err);

  double param = tf_init_default_param((tf_init_kind_t)kind);
  if (open != NULL) {
    if (!takes_param((tf_init_kind_t)kind))
      return tf_err_set(err, TF_EINPUT,
                        "initialiser '%s' takes no parameter (got '%.*s'); write '%s'", name,
                        (int)len, text, name);
    if (text[len - 1] != ')')
      return tf_err_set(err, TF_EINPUT, "initialiser '%.*s': missing ')' after the parameter",
                        (int)len, text);
    char arg[64];
    size_t arg_len = (size_t)(text + len - 1 - (open + 1));
    if (arg_len >= sizeof arg) arg_len = sizeof arg - 1;
    memcpy(arg, open + 1, arg_len);
    arg[arg_len] = '\0';
    char *end = NULL;
    param = strtod(arg, &end);
    while (end != NULL && isspace((unsigned char)*end)) end++;
    if (end == arg || *end != '\0')
      return tf_err_set(err, TF_EINPUT, "initialiser '%s': parameter '%s' is not a number", name,
                        arg);
    if (!isfinite(param) || !(param > 0))
      return tf_err_set(err, TF_EINPUT, "initialiser '%s': parameter %s must be finite and > 0",
                        name, arg);
  }
  spec->kind = (tf_init_kind_t)kind;
  spec->param = param;
  return 0;
}

void tf_init_format(const tf_init_spec_t *spec, char *buf, size_t size) {
  const char *name = tf_init_name(spec->kind);
  if (size == 0) return;
  if (name == NULL) {
    snprintf(buf, size, "?");
    return;
  }
  if (!takes_param(spec->kind)) {
    snprintf(buf, size, "%s", name);
    return;
  }
  double p = isnan(spec->param) ? tf_init_default_param(spec->kind) : spec->param;
  /* %g is the canonical form; more digits only when %g would not read back as the same value. */
  char num[40];
  for (int digits = 6; digits <= 17; digits++) {
    snprintf(num, sizeof num, "%.*g", digits, p);
    if (strtod(num, NULL) == p) break;
  }
  snprintf(buf, size, "%s(%s)", name, num);
}

/* Householder QR of a (m, n) Gaussian matrix, m >= n, as in PyTorch's orthogonal_: W is the
 * reduced Q with column j multiplied by sign(R[j][j]), transposed when fan_out < fan_in. */
static int fill_orthogonal(float *w, int fan_out, int fan_in, double gain, tf_rng_t *rng,
                           tf_err_t *err) {
  int transposed = fan_out < fan_in;
  size_t m = (size_t)(transposed ? fan_in : fan_out);
  size_t n = (size_t)(transposed ? fan_out : fan_in);
  double *work = malloc((3 * m * n + 2 * n) * sizeof *work);
  if (work == NULL)
    return tf_err_set(err, TF_ENOMEM, "orthogonal initialiser: no memory for a %zu x %zu matrix", m,
                      n);
  double *a = work;        /* (m, n): the Gaussian matrix, reduced to R in place */
  double *v = a + m * n;   /* (m, n): column k holds Householder vector k in rows k..m */
  double *q = v + m * n;   /* (m, n): the reduced Q */
  double *acc = q + m * n; /* (n) */
  double *sign = acc + n;  /* (n): sign(R[k][k]) */

  /* The draws follow W's row-major order, so the matrix is the one PyTorch would draw. */
  for (size_t r = 0; r < (size_t)fan_out; r++)
    for (size_t c = 0; c < (size_t)fan_in; c++) {
      double z = tf_rng_normal(rng);
      if (transposed)
        a[c * n + r] = z;
      else
        a[r * n + c] = z;
    }

  for (size_t k = 0; k < n; k++) {
    double norm2 = 0;
    for (size_t i = k; i < m; i++) norm2 += a[i * n + k] * a[i * n + k];
    double norm = sqrt(norm2);
    double x0 = a[k * n + k];
    /* Reflect onto -sign(x0) * norm * e1, which avoids cancellation in v = x - alpha e1. */
    double alpha = x0 >= 0 ? -norm : norm;
    sign[k] = alpha < 0 ? -1.0 : 1.0;
    for (size_t i = k; i < m; i++) v[i * n + k] = a[i * n + k];
    v[k * n + k] = x0 - alpha;
    double vnorm2 = 0;
    for (size_t i = k; i < m; i++) vnorm2 += v[i * n + k] * v[i * n + k];
    if (!(vnorm2 > 0)) {
      for (size_t i = k; i < m; i++) v[i * n + k] = 0;
      sign[k] = x0 < 0 ? -1.0 : 1.0;
      continue;
    }
    double inv = 1.0 / sqrt(vnorm2);
    for (size_t i = k; i < m; i++) v[i * n + k] *= inv;
    /* A[k:, k:] -= 2 v (v^T A[k:, k:]) */
    for (size_t j = k; j < n; j++) acc[j] = 0;
    for (size_t i = k; i < m; i++) {
      double vi = v[i * n + k];
      for (size_t j = k; j < n; j++) acc[j] += vi * a[i * n + j];
    }
    for (size_t i = k; i < m; i++) {
      double vi2 = 2.0 * v[i * n + k];
      for (size_t j = k; j < n; j++) a[i * n + j] -= vi2 * acc[j];
    }
  }

  /* Q = H_0 H_1 ... H_{n-1} I[:, :n], applied from the last reflector backwards. */
  memset(q, 0, m * n * sizeof *q);
  for (size_t k = 0; k < n; k++) q[k * n + k] = 1.0;
  for (size_t k = n; k-- > 0;) {
    for (size_t j = 0; j < n; j++) acc[j] = 0;
    for (size_t i = k; i < m; i++) {
      double vi = v[i * n + k];
      for (size_t j = 0; j < n; j++) acc[j] += vi * q[i * n + j];
    }
    for (size_t i = k; i < m; i++) {
      double vi2 = 2.0 * v[i * n + k];
      for (size_t j = 0; j < n; j++) q[i * n + j] -= vi2 * acc[j];
    }
  }

  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      float x = (float)(gain * sign[j] * q[i * n + j]);
      if (transposed)
        w[j * (size_t)fan_in + i] = x;
      else
        w[i * (size_t)fan_in + j] = x;
    }
  free(work);
  return 0;
}

int tf_init_fill(float *w, int fan_out, int fan_in, const tf_init_spec_t *spec, tf_rng_t *rng,
                 tf_err_t *err) {
  return tf_init_fill_kernel(w, fan_out, fan_in, fan_out, fan_in, spec, rng, err);
}

int tf_init_fill_kernel(float *w, int rows, int cols, int fan_out, int fan_in,
                        const tf_init_spec_t *spec, tf_rng_t *rng, tf_err_t *err) {
  if (tf_init_name(spec->kind) == NULL)
    return tf_err_set(err, TF_EINPUT, "initialiser kind %d is out of range", (int)spec->kind);
  if (rows < 0 || cols < 0 || fan_out < 0 || fan_in < 0)
    return tf_err_set(err, TF_EINPUT, "initialiser '%s': bad shape %d x %d", init_names[spec->kind],
                      rows, cols);
  size_t count = (size_t)rows * (size_t)cols;
  if (count == 0) return 0;
  double p = spec->param;
  if (isnan(p)) p = tf_init_default_param(spec->kind);
  double in = fan_in, out = fan_out;

  /* The Gaussian and uniform kinds draw exactly one value per element in row-major order, so
   * two Gaussian (or two uniform) kinds on one stream give proportional matrices. */
  double scale = 0;
  int gaussian = 1;
  switch (spec->kind) {
    case TF_INIT_GLOROT_NORMAL: scale = sqrt(2.0 / (in + out)); break;
    case TF_INIT_HE_NORMAL: scale = sqrt(2.0 / in); break;
    case TF_INIT_LECUN_NORMAL: scale = sqrt(1.0 / in); break;
    case TF_INIT_NORMAL: scale = p; break;
    case TF_INIT_GLOROT_UNIFORM:
      scale = sqrt(6.0 / (in + out));
      gaussian = 0;
      break;
    case TF_INIT_HE_UNIFORM:
      scale = sqrt(6.0 / in);
      gaussian = 0;
      break;
    case TF_INIT_LECUN_UNIFORM:
      scale = sqrt(3.0 / in);
      gaussian = 0;
      break;
    case TF_INIT_UNIFORM:
      scale = p;
      gaussian = 0;
      break;
    case TF_INIT_ORTHOGONAL: return fill_orthogonal(w, rows, cols, p, rng, err);
    case TF_INIT_GLOROT_NORMAL_TRUNCATED:
    case TF_INIT_HE_NORMAL_TRUNCATED:
    case TF_INIT_LECUN_NORMAL_TRUNCATED:
      p = sqrt((spec->kind == TF_INIT_GLOROT_NORMAL_TRUNCATED ? 2.0 / (in + out)
                : spec->kind == TF_INIT_HE_NORMAL_TRUNCATED   ? 2.0 / in
                                                               : 1.0 / in)) /
          TRUNCATED_2SIGMA_STDDEV;
      /* fall through */
    case TF_INIT_TRUNCATED_NORMAL:
      for (size_t i = 0; i < count; i++) {
        double z;
        do z = tf_rng_normal(rng);
        while (!(fabs(z) <= 2.0));
        w[i] = (float)(p * z);
      }
      return 0;
    case TF_INIT_SIGNED_CONSTANT: {
      double c = sqrt(2.0 / in);
      for (size_t i = 0; i < count; i++) w[i] = (float)(tf_rng_uniform(rng) < 0.5 ? -c : c);
      return 0;
    }
    case TF_INIT_COUNT: break;
  }
  if (gaussian) {
    for (size_t i = 0; i < count; i++) w[i] = (float)(scale * tf_rng_normal(rng));
  } else {
    for (size_t i = 0; i < count; i++) w[i] = (float)(scale * (2.0 * tf_rng_uniform(rng) - 1.0));
  }
  return 0;
}

double tf_init_row_gain(const tf_init_spec_t *spec, int fan_in, long surviving) {
  if (surviving <= 0 || fan_in <= 0) return 1.0;
  switch (spec->kind) {
    case TF_INIT_GLOROT_NORMAL:
    case TF_INIT_GLOROT_UNIFORM:
    case TF_INIT_HE_NORMAL:
    case TF_INIT_HE_UNIFORM:
    case TF_INIT_LECUN_NORMAL:
    case TF_INIT_LECUN_UNIFORM:
    case TF_INIT_SIGNED_CONSTANT: return sqrt((double)fan_in / (double)surviving);
    default: return 1.0;
  }
}
