/* Convolution layers lowered through im2col onto cblas_sgemm or the sparse kernels, 2x2
 * max-pooling, and the direct-loop references they are tested against. */
#include "ticketfarm/conv.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

/* Workspace rows start on a cache line (ld is a multiple of 16 floats, so every row does). */
#define TF_CONV_ALIGN 64

int tf_conv_init(tf_conv_t *cv, int in_c, int in_h, int in_w, int out_c, int k,
                 tf_conv_padding_t padding, tf_err_t *err) {
  memset(cv, 0, sizeof *cv);
  if (in_c <= 0 || in_h <= 0 || in_w <= 0 || out_c <= 0 || k <= 0)
    return tf_err_set(err, TF_EINPUT,
                      "conv: input %d x %d x %d, %d output channels and kernel %d must be positive",
                      in_c, in_h, in_w, out_c, k);
  if (padding != TF_CONV_SAME && padding != TF_CONV_VALID)
    return tf_err_set(err, TF_EINPUT, "conv: padding %d is neither same nor valid", (int)padding);
  if (padding == TF_CONV_VALID && (k > in_h || k > in_w))
    return tf_err_set(err, TF_EINPUT,
                      "conv: a %d x %d kernel with valid padding needs an image at least that "
                      "large, got %d x %d",
                      k, k, in_h, in_w);
  int same = padding == TF_CONV_SAME;
  int out_h = same ? in_h : in_h - k + 1, out_w = same ? in_w : in_w - k + 1;
  /* Every lowered matrix, image and weight matrix is indexed by int in places (the sparse
   * kernels' entries, BLAS's dimensions): keep each below 2^31. */
  size_t pixels = (size_t)out_h * (size_t)out_w;
  size_t ld = (pixels + TF_SPARSE_LANES - 1) / TF_SPARSE_LANES * TF_SPARSE_LANES;
  size_t fan_in = (size_t)in_c * (size_t)k * (size_t)k;
  const size_t lim = (size_t)INT32_MAX;
  if (fan_in > lim / ld || (size_t)out_c > lim / ld || (size_t)out_c > lim / fan_in ||
      (size_t)in_c * (size_t)in_h > lim / (size_t)in_w || (size_t)out_c * (size_t)k > lim / k)
    return tf_err_set(err, TF_EINPUT,
                      "conv: input %d x %d x %d to %d channels with a %d x %d kernel is too large "
                      "(a matrix beyond 2^31 elements)",
                      in_c, in_h, in_w, out_c, k, k);
  cv->in_c = in_c;
  cv->in_h = in_h;
  cv->in_w = in_w;
  cv->out_c = out_c;
  cv->out_h = out_h;
  cv->out_w = out_w;
  cv->k = k;
  cv->pad = same ? (k - 1) / 2 : 0;
  cv->fan_in = (int)fan_in;
  cv->fan_out = out_c * k * k;
  cv->in_size = (size_t)in_c * (size_t)in_h * (size_t)in_w;
  cv->out_size = (size_t)out_c * pixels;
  cv->pixels = (int)pixels;
  cv->ld = ld;
  return 0;
}

static float *alloc_floats(size_t n) {
  void *p = NULL;
  if (posix_memalign(&p, TF_CONV_ALIGN, (n > 0 ? n : 1) * sizeof(float)) != 0) return NULL;
  memset(p, 0, (n > 0 ? n : 1) * sizeof(float));
  return p;
}

int tf_conv_work_reserve(tf_conv_work_t *ws, const tf_conv_t *cv, tf_err_t *err) {
  size_t n_cols = (size_t)cv->fan_in * cv->ld, n_out = (size_t)cv->out_c * cv->ld;
  if (n_cols > ws->cap_cols) {
    float *cols = alloc_floats(n_cols), *dcols = alloc_floats(n_cols);
    float *ones = alloc_floats(n_cols);
    if (cols == NULL || dcols == NULL || ones == NULL) {
      free(cols);
      free(dcols);
      free(ones);
      return tf_err_set(err, TF_ENOMEM, "conv: out of memory for a %d x %zu lowered image",
                        cv->fan_in, cv->ld);
    }
    for (size_t i = 0; i < n_cols; i++) ones[i] = 1.0f;
    free(ws->cols);
    free(ws->dcols);
    free(ws->ones);
    ws->cols = cols;
    ws->dcols = dcols;
    ws->ones = ones;
    ws->cap_cols = n_cols;
  }
  if (n_out > ws->cap_out) {
    float *z = alloc_floats(n_out);
    if (z == NULL)
      return tf_err_set(err, TF_ENOMEM, "conv: out of memory for a %d x %zu output image",
                        cv->out_c, cv->ld);
    free(ws->z);
    ws->z = z;
    ws->cap_out = n_out;
  }
  return 0;
}

void tf_conv_work_free(tf_conv_work_t *ws) {
  if (ws == NULL) return;
  free(ws->cols);
  free(ws->dcols);
  free(ws->ones);
  free(ws->z);
  memset(ws, 0, sizeof *ws);
}

/* Output columns [*x0, *x1) of kernel column dx read input columns inside the image; the others
 * read the zero padding. */
static void inside_columns(const tf_conv_t *cv, int dx, int *x0, int *x1) {
  int lo = cv->pad - dx, hi = cv->in_w + cv->pad - dx;
  if (lo < 0) lo = 0;
  if (hi > cv->out_w) hi = cv->out_w;
  if (hi < lo) hi = lo;
  *x0 = lo;
  *x1 = hi;
}

/* Stride 1 makes each output row of a kernel tap one contiguous run of an input row. */
void tf_conv_lower(const tf_conv_t *cv, const float *x, float *cols) {
  const int k = cv->k, oh = cv->out_h, ow = cv->out_w, ih = cv->in_h, iw = cv->in_w;
  for (int c = 0; c < cv->in_c; c++) {
    const float *xc = x + (size_t)c * (size_t)ih * (size_t)iw;
    for (int dy = 0; dy < k; dy++) {
      for (int dx = 0; dx < k; dx++) {
        float *row = cols + (size_t)((c * k + dy) * k + dx) * cv->ld;
        int x0, x1;
        inside_columns(cv, dx, &x0, &x1);
        for (int oy = 0; oy < oh; oy++) {
          float *restrict r = row + (size_t)oy * (size_t)ow;
          int iy = oy - cv->pad + dy;
          if (iy < 0 || iy >= ih) {
            memset(r, 0, (size_t)ow * sizeof *r);
            continue;
          }
          /* src[j] is input column x0 - pad + dx + j */
          const float *restrict src = xc + (size_t)iy * (size_t)iw + (size_t)(x0 - cv->pad + dx);
          for (int ox = 0; ox < x0; ox++) r[ox] = 0.0f;
          for (int j = 0; j < x1 - x0; j++) r[x0 + j] = src[j];
          for (int ox = x1; ox < ow; ox++) r[ox] = 0.0f;
        }
        memset(row + cv->pixels, 0, (cv->ld - (size_t)cv->pixels) * sizeof *row);
      }
    }
  }
}

/* The adjoint of tf_conv_lower: dx (in_c, in_h, in_w) = +0, then every element of dcols
 * (fan_in, ld) added to the input position it was lowered from (taps in row order). */
static void raise_cols(const tf_conv_t *cv, const float *dcols, float *dx) {
  const int k = cv->k, oh = cv->out_h, ow = cv->out_w, ih = cv->in_h, iw = cv->in_w;
  memset(dx, 0, cv->in_size * sizeof *dx);
  for (int c = 0; c < cv->in_c; c++) {
    float *xc = dx + (size_t)c * (size_t)ih * (size_t)iw;
    for (int dy = 0; dy < k; dy++) {
      for (int dxk = 0; dxk < k; dxk++) {
        const float *row = dcols + (size_t)((c * k + dy) * k + dxk) * cv->ld;
        int x0, x1;
        inside_columns(cv, dxk, &x0, &x1);
        for (int oy = 0; oy < oh; oy++) {
          int iy = oy - cv->pad + dy;
          if (iy < 0 || iy >= ih) continue;
          const float *restrict r = row + (size_t)oy * (size_t)ow + (size_t)x0;
          float *restrict dst = xc + (size_t)iy * (size_t)iw + (size_t)(x0 - cv->pad + dxk);
          for (int j = 0; j < x1 - x0; j++) dst[j] += r[j];
        }
      }
    }
  }
}

static inline float relu(float v) { return v > 0.0f ? v : 0.0f; }

/* y (rows, cols) += b[row], then ReLU when relu != 0. */
static void bias_relu(float *restrict y, int rows, int cols, const float *restrict b, int relu_on) {
  for (int j = 0; j < rows; j++) {
    float *restrict yj = y + (size_t)j * (size_t)cols;
    const float bj = b[j];
    if (relu_on)
      for (int p = 0; p < cols; p++) yj[p] = relu(yj[p] + bj);
    else
      for (int p = 0; p < cols; p++) yj[p] += bj;
  }
}

/* gb[j] = sum over images of (sum over pixels of dy[i][j]): the same code and order for the
 * dense and the sparse path, so their bias gradients are equal bit for bit. */
static void bias_grad(const tf_conv_t *cv, const float *dy, int n, float *gb) {
  for (int j = 0; j < cv->out_c; j++) gb[j] = 0.0f;
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < cv->out_c; j++) {
      const float *restrict d = dy + (size_t)i * cv->out_size + (size_t)j * (size_t)cv->pixels;
      float s = 0.0f;
      for (int p = 0; p < cv->pixels; p++) s += d[p];
      gb[j] += s;
    }
  }
}

/* dx = +0 where x <= 0 (or NaN): the derivative of the ReLU that produced x. */
static void mask_by_input(float *restrict dx, const float *restrict x, size_t count) {
  for (size_t q = 0; q < count; q++) dx[q] = x[q] > 0.0f ? dx[q] : 0.0f;
}

/* A 1x1 kernel's lowered matrix is its input image: (in_c, in_h * in_w), ld = pixels. */
static int lowers_to_itself(const tf_conv_t *cv) { return cv->k == 1; }

/* Image xi lowered for SGEMM: (fan_in, pixels) with leading dimension *lda, xi itself for a 1x1
 * kernel, else the workspace's cols. */
static const float *lower_for_sgemm(const tf_conv_t *cv, tf_conv_work_t *ws, const float *xi,
                                    int *lda) {
  if (lowers_to_itself(cv)) {
    *lda = cv->pixels;
    return xi;
  }
  tf_conv_lower(cv, xi, ws->cols);
  *lda = (int)cv->ld;
  return ws->cols;
}

void tf_conv_forward(const tf_conv_t *cv, tf_conv_work_t *ws, const float *w, const float *b,
                     const float *x, int n, int relu_on, float *y) {
  for (int i = 0; i < n; i++) {
    const float *xi = x + (size_t)i * cv->in_size;
    float *yi = y + (size_t)i * cv->out_size;
    int lda;
    const float *a = lower_for_sgemm(cv, ws, xi, &lda);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cv->out_c, cv->pixels, cv->fan_in,
                1.0f, w, cv->fan_in, a, lda, 0.0f, yi, cv->pixels);
    bias_relu(yi, cv->out_c, cv->pixels, b, relu_on);
  }
}

void tf_conv_backward(const tf_conv_t *cv, tf_conv_work_t *ws, const float *w, const float *x,
                      const float *dy, int n, float *gw, float *gb, float *dx, int relu_in) {
  const int direct = lowers_to_itself(cv);
  bias_grad(cv, dy, n, gb);
  if (n <= 0) memset(gw, 0, (size_t)cv->out_c * (size_t)cv->fan_in * sizeof *gw);
  for (int i = 0; i < n; i++) {
    const float *xi = x + (size_t)i * cv->in_size;
    const float *dyi = dy + (size_t)i * cv->out_size;
    int lda;
    const float *a = lower_for_sgemm(cv, ws, xi, &lda);
    /* gw (out_c, fan_in) (+)= dy_i (out_c, pixels) cols^T (pixels, fan_in) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, cv->out_c, cv->fan_in, cv->pixels, 1.0f,
                dyi, cv->pixels, a, lda, i > 0 ? 1.0f : 0.0f, gw, cv->fan_in);
    if (dx == NULL) continue;
    float *dxi = dx + (size_t)i * cv->in_size;
    /* dcols (fan_in, pixels) = W^T (fan_in, out_c) dy_i (out_c, pixels) */
    if (direct) {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cv->fan_in, cv->pixels, cv->out_c,
                  1.0f, w, cv->fan_in, dyi, cv->pixels, 0.0f, dxi, cv->pixels);
    } else {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cv->fan_in, cv->pixels, cv->out_c,
                  1.0f, w, cv->fan_in, dyi, cv->pixels, 0.0f, ws->dcols, (int)cv->ld);
      raise_cols(cv, ws->dcols, dxi);
    }
    if (relu_in) mask_by_input(dxi, xi, cv->in_size);
  }
}

/* ---- The sparse path ---- */

/* The lowered image as the sparse kernels read it: (fan_in, ld) with zero padding lanes. A 1x1
 * kernel's input is that matrix already when its pixels fill whole vectors. */
static const float *lower_for_sparse(const tf_conv_t *cv, tf_conv_work_t *ws, const float *xi) {
  if (lowers_to_itself(cv) && cv->ld == (size_t)cv->pixels) return xi;
  tf_conv_lower(cv, xi, ws->cols);
  return ws->cols;
}

void tf_conv_forward_sparse(const tf_conv_t *cv, tf_conv_work_t *ws, const tf_sparse_t *sp,
                            const float *b, const float *x, int n, int relu_on, float *y) {
  const int nv = (int)(cv->ld / TF_SPARSE_LANES);
  const int padded = cv->ld != (size_t)cv->pixels;
  for (int i = 0; i < n; i++) {
    const float *a = lower_for_sparse(cv, ws, x + (size_t)i * cv->in_size);
    float *yi = y + (size_t)i * cv->out_size;
    if (!padded) {
      tf_sparse_forward(sp, a, cv->ld, nv, b, relu_on, yi);
      continue;
    }
    tf_sparse_forward(sp, a, cv->ld, nv, b, relu_on, ws->z);
    for (int j = 0; j < cv->out_c; j++)
      memcpy(yi + (size_t)j * (size_t)cv->pixels, ws->z + (size_t)j * cv->ld,
             (size_t)cv->pixels * sizeof *yi);
  }
}

void tf_conv_backward_sparse(const tf_conv_t *cv, tf_conv_work_t *ws, tf_sparse_t *sp,
                             const float *x, const float *dy, int n, float *gb, float *dx,
                             int relu_in) {
  const int nv = (int)(cv->ld / TF_SPARSE_LANES);
  const int padded = cv->ld != (size_t)cv->pixels;
  bias_grad(cv, dy, n, gb);
  if (n <= 0 && sp->nnz > 0) memset(sp->grad, 0, (size_t)sp->nnz * sizeof *sp->grad);
  for (int i = 0; i < n; i++) {
    const float *xi = x + (size_t)i * cv->in_size;
    const float *a = lower_for_sparse(cv, ws, xi);
    const float *d = dy + (size_t)i * cv->out_size;
    if (padded) {
      /* dy_i into lane-padded rows; the padding lanes meet zero columns of cols in the weight
       * gradient and are cut off the input gradient, but must be finite: +0. */
      for (int j = 0; j < cv->out_c; j++) {
        float *zj = ws->z + (size_t)j * cv->ld;
        memcpy(zj, d + (size_t)j * (size_t)cv->pixels, (size_t)cv->pixels * sizeof *zj);
        memset(zj + cv->pixels, 0, (cv->ld - (size_t)cv->pixels) * sizeof *zj);
      }
      d = ws->z;
    }
    tf_sparse_weight_grad(sp, d, a, cv->ld, nv, i > 0);
    if (dx == NULL) continue;
    float *dxi = dx + (size_t)i * cv->in_size;
    /* With relu_in the kernel's select on the lowered input is the ReLU mask: every element of
     * cols is a copy of an input element (its mask too) or padding, whose gradient is dropped. */
    const float *act = relu_in ? a : ws->ones;
    if (a == xi) {
      tf_sparse_backward(sp, d, act, cv->ld, nv, dxi);
    } else {
      tf_sparse_backward(sp, d, act, cv->ld, nv, ws->dcols);
      raise_cols(cv, ws->dcols, dxi);
    }
  }
}

/* ---- The references ---- */

void tf_conv_forward_naive(const tf_conv_t *cv, const float *w, const float *b, const float *x,
                           int n, int relu_on, float *y) {
  const int k = cv->k;
  for (int i = 0; i < n; i++) {
    const float *xi = x + (size_t)i * cv->in_size;
    float *yi = y + (size_t)i * cv->out_size;
    for (int o = 0; o < cv->out_c; o++) {
      const float *wo = w + (size_t)o * (size_t)cv->fan_in;
      for (int oy = 0; oy < cv->out_h; oy++) {
        for (int ox = 0; ox < cv->out_w; ox++) {
          float s = 0.0f;
          for (int c = 0; c < cv->in_c; c++)
            for (int dy = 0; dy < k; dy++)
              for (int dx = 0; dx < k; dx++) {
                int iy = oy - cv->pad + dy, ix = ox - cv->pad + dx;
                if (iy < 0 || iy >= cv->in_h || ix < 0 || ix >= cv->in_w) continue;
                s += wo[(c * k + dy) * k + dx] *
                     xi[((size_t)c * cv->in_h + (size_t)iy) * cv->in_w + (size_t)ix];
              }
          s += b[o];
          yi[((size_t)o * cv->out_h + (size_t)oy) * cv->out_w + (size_t)ox] =
              relu_on ? relu(s) : s;
        }
      }
    }
  }
}

void tf_conv_backward_naive(const tf_conv_t *cv, const float *w, const float *x, const float *dy,
                            int n, float *gw, float *gb, float *dx, int relu_in) {
  const int k = cv->k;
  for (int o = 0; o < cv->out_c; o++) {
    for (int c = 0; c < cv->in_c; c++)
      for (int dy_ = 0; dy_ < k; dy_++)
        for (int dx_ = 0; dx_ < k; dx_++) {
          float s = 0.0f;
          for (int i = 0; i < n; i++)
            for (int oy = 0; oy < cv->out_h; oy++)
              for (int ox = 0; ox < cv->out_w; ox++) {
                int iy = oy - cv->pad + dy_, ix = ox - cv->pad + dx_;
                if (iy < 0 || iy >= cv->in_h || ix < 0 || ix >= cv->in_w) continue;
                s += dy[(size_t)i * cv->out_size + ((size_t)o * cv->out_h + (size_t)oy) * cv->out_w +
                        (size_t)ox] *
                     x[(size_t)i * cv->in_size + ((size_t)c * cv->in_h + (size_t)iy) * cv->in_w +
                       (size_t)ix];
              }
          gw[(size_t)o * (size_t)cv->fan_in + (size_t)((c * k + dy_) * k + dx_)] = s;
        }
    float s = 0.0f;
    for (int i = 0; i < n; i++)
      for (int p = 0; p < cv->pixels; p++)
        s += dy[(size_t)i * cv->out_size + (size_t)o * (size_t)cv->pixels + (size_t)p];
    gb[o] = s;
  }
  if (dx == NULL) return;
  for (int i = 0; i < n; i++) {
    for (int c = 0; c < cv->in_c; c++)
      for (int iy = 0; iy < cv->in_h; iy++)
        for (int ix = 0; ix < cv->in_w; ix++) {
          size_t q = (size_t)i * cv->in_size + ((size_t)c * cv->in_h + (size_t)iy) * cv->in_w +
                     (size_t)ix;
          float s = 0.0f;
          for (int o = 0; o < cv->out_c; o++)
            for (int dy_ = 0; dy_ < k; dy_++)
              for (int dx_ = 0; dx_ < k; dx_++) {
                int oy = iy + cv->pad - dy_, ox = ix + cv->pad - dx_;
                if (oy < 0 || oy >= cv->out_h || ox < 0 || ox >= cv->out_w) continue;
                s += dy[(size_t)i * cv->out_size + ((size_t)o * cv->out_h + (size_t)oy) * cv->out_w +
                        (size_t)ox] *
                     w[(size_t)o * (size_t)cv->fan_in + (size_t)((c * k + dy_) * k + dx_)];
              }
          dx[q] = relu_in && !(x[q] > 0.0f) ? 0.0f : s;
        }
  }
}

/* ---- Max-pooling ---- */

int tf_conv_pool_init(tf_conv_pool_t *p, int c, int in_h, int in_w, tf_err_t *err) {
  memset(p, 0, sizeof *p);
  if (c <= 0 || in_h < 2 || in_w < 2)
    return tf_err_set(err, TF_EINPUT,
                      "pool: %d channels of %d x %d: 2x2 pooling needs channels and an image of "
                      "at least 2 x 2",
                      c, in_h, in_w);
  if ((size_t)c * (size_t)in_h > (size_t)INT32_MAX / (size_t)in_w)
    return tf_err_set(err, TF_EINPUT, "pool: %d x %d x %d is beyond 2^31 elements", c, in_h,
                      in_w);
  p->c = c;
  p->in_h = in_h;
  p->in_w = in_w;
  p->out_h = in_h / 2;
  p->out_w = in_w / 2;
  p->in_size = (size_t)c * (size_t)in_h * (size_t)in_w;
  p->out_size = (size_t)c * (size_t)p->out_h * (size_t)p->out_w;
  return 0;
}

void tf_conv_pool_forward(const tf_conv_pool_t *p, const float *x, int n, float *y, int32_t *arg) {
  const int iw = p->in_w;
  for (int i = 0; i < n; i++) {
    const float *xi = x + (size_t)i * p->in_size;
    float *yi = y + (size_t)i * p->out_size;
    int32_t *ai = arg + (size_t)i * p->out_size;
    size_t o = 0;
    for (int c = 0; c < p->c; c++) {
      for (int oy = 0; oy < p->out_h; oy++) {
        int32_t row = (int32_t)(((size_t)c * p->in_h + 2 * (size_t)oy) * (size_t)iw);
        for (int ox = 0; ox < p->out_w; ox++, o++) {
          int32_t q = row + 2 * ox, best = q;
          if (xi[q + 1] > xi[best]) best = q + 1;
          if (xi[q + iw] > xi[best]) best = q + iw;
          if (xi[q + iw + 1] > xi[best]) best = q + iw + 1;
          yi[o] = xi[best];
          ai[o] = best;
        }
      }
    }
  }
}

void tf_conv_pool_backward(const tf_conv_pool_t *p, const float *dy, const int32_t *arg, int n,
                           float *dx) {
  memset(dx, 0, (size_t)n * p->in_size * sizeof *dx);
  for (int i = 0; i < n; i++) {
    const float *dyi = dy + (size_t)i * p->out_size;
    const int32_t *ai = arg + (size_t)i * p->out_size;
    float *dxi = dx + (size_t)i * p->in_size;
    for (size_t o = 0; o < p->out_size; o++) dxi[ai[o]] = dyi[o];
  }
}

/* Position of the window maximum of output (c, oy, ox) within its image, first in row-major
 * window order among equals. */
static size_t window_argmax(const tf_conv_pool_t *p, const float *xi, int c, int oy, int ox) {
  size_t best = 0;
  int first = 1;
  for (int dy = 0; dy < 2; dy++)
    for (int dx = 0; dx < 2; dx++) {
      size_t q = ((size_t)c * p->in_h + (size_t)(2 * oy + dy)) * p->in_w + (size_t)(2 * ox + dx);
      if (first || xi[q] > xi[best]) best = q;
      first = 0;
    }
  return best;
}

void tf_conv_pool_forward_naive(const tf_conv_pool_t *p, const float *x, int n, float *y) {
  for (int i = 0; i < n; i++) {
    const float *xi = x + (size_t)i * p->in_size;
    for (int c = 0; c < p->c; c++)
      for (int oy = 0; oy < p->out_h; oy++)
        for (int ox = 0; ox < p->out_w; ox++)
          y[(size_t)i * p->out_size + ((size_t)c * p->out_h + (size_t)oy) * p->out_w +
            (size_t)ox] = xi[window_argmax(p, xi, c, oy, ox)];
  }
}

void tf_conv_pool_backward_naive(const tf_conv_pool_t *p, const float *x, const float *dy, int n,
                                 float *dx) {
  for (int i = 0; i < n; i++) {
    const float *xi = x + (size_t)i * p->in_size;
    float *dxi = dx + (size_t)i * p->in_size;
    for (size_t q = 0; q < p->in_size; q++) dxi[q] = 0.0f;
    for (int c = 0; c < p->c; c++)
      for (int oy = 0; oy < p->out_h; oy++)
        for (int ox = 0; ox < p->out_w; ox++)
          dxi[window_argmax(p, xi, c, oy, ox)] =
              dy[(size_t)i * p->out_size + ((size_t)c * p->out_h + (size_t)oy) * p->out_w +
                 (size_t)ox];
  }
}
