/* 2-D convolution layers (stride 1, square kernel, same or valid zero padding) and 2x2
 * max-pooling on NCHW minibatches: forward and backward lowered through im2col onto cblas_sgemm,
 * or onto the sparse kernels for a pruned layer, beside direct-loop references. */
#ifndef TICKETFARM_CONV_H
#define TICKETFARM_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "ticketfarm/error.h"
#include "ticketfarm/sparse.h"

/* A layer's weights are W (out_c, fan_in) row-major with fan_in = in_c * k * k, column
 * (c * k + dy) * k + dx for input channel c and kernel tap (dy, dx): PyTorch's (out_c, in_c, k, k)
 * flattened, and a plain matrix for the code that masks, prunes, packs and stores dense layers'
 * weights. Its bias is b (out_c). Pruning W removes single taps.
 *
 * Lowering: image i of a batch, x_i (in_c, in_h, in_w), becomes cols (fan_in, ld) with
 * cols[(c * k + dy) * k + dx][oy * out_w + ox] = x_i[c][oy - pad + dy][ox - pad + dx] (zero
 * outside the image) in columns [0, pixels) and zero in the padding columns [pixels, ld); then
 * y_i (out_c, pixels) = W cols + b. That is a layer's product on a feature-major batch whose
 * lanes are the output pixels, so a pruned W runs on the sparse kernels (tf_sparse_forward and
 * the others) unchanged, with ld a multiple of TF_SPARSE_LANES. */
typedef enum { TF_CONV_VALID, TF_CONV_SAME } tf_conv_padding_t;

typedef struct tf_conv {
  int in_c, in_h, in_w;    /* one input image: (in_c, in_h, in_w) */
  int out_c, out_h, out_w; /* one output image: (out_c, out_h, out_w) */
  int k;                   /* kernel size */
  int pad;     /* zero rows above (columns left of) the image: (k - 1) / 2 for same, so an even k
                * puts its extra row below and column right, as PyTorch and TensorFlow do; 0 for
                * valid */
  int fan_in;  /* in_c * k * k: columns of W */
  int fan_out; /* out_c * k * k (PyTorch's fan_out of a convolution) */
  size_t in_size, out_size; /* floats per input and per output image */
  int pixels;               /* out_h * out_w: lanes of the lowered product */
  size_t ld;                /* pixels rounded up to TF_SPARSE_LANES: row length of cols */
} tf_conv_t;

/* Sets the shape of a layer taking (in_c, in_h, in_w) images to out_c channels with a k x k
 * kernel: same padding keeps in_h x in_w, valid gives (in_h - k + 1) x (in_w - k + 1). Returns 0,
 * or TF_EINPUT for non-positive sizes, a valid kernel larger than the image, or a layer whose
 * lowered matrix would not fit 2^31 elements. Rank-local. */
int tf_conv_init(tf_conv_t *cv, int in_c, int in_h, int in_w, int out_c, int k,
                 tf_conv_padding_t padding, tf_err_t *err);

/* Scratch memory for the lowered products of one image at a time; one workspace serves every
 * layer it has been reserved for (layers of a net run one after the other). Rank-local, used by
 * one thread at a time. */
typedef struct tf_conv_work {
  size_t cap_cols, cap_out; /* floats in cols, dcols and ones; floats in z */
  float *cols;  /* (fan_in, ld) one image lowered */
  float *dcols; /* (fan_in, ld) the loss gradient with respect to cols */
  float *ones;  /* (fan_in, ld) all 1.0f: the sparse input gradient's mask when the input did
                 * not come through a ReLU */
  float *z;     /* (out_c, ld) one image's output or output gradient with lane-padded rows, for
                 * the sparse kernels when pixels < ld */
} tf_conv_work_t;

/* Grows ws (zeroed or reserved before) to fit layer cv. Returns 0 or TF_ENOMEM (ws still fits
 * every layer it fitted before). */
int tf_conv_work_reserve(tf_conv_work_t *ws, const tf_conv_t *cv, tf_err_t *err);
void tf_conv_work_free(tf_conv_work_t *ws);

/* Lowers one image x (in_c, in_h, in_w) into cols (fan_in, ld) as above. */
void tf_conv_lower(const tf_conv_t *cv, const float *x, float *cols);

/* y (n, out_c, out_h, out_w) = W * x + b for x (n, in_c, in_h, in_w), w (out_c, fan_in),
 * b (out_c); ReLU applied when relu != 0. One cblas_sgemm per image (none to lower a 1x1
 * kernel, whose input is its own lowered matrix). */
void tf_conv_forward(const tf_conv_t *cv, tf_conv_work_t *ws, const float *w, const float *b,
                     const float *x, int n, int relu, float *y);

/* Backward for the batch x (n, in_c, in_h, in_w) the layer was applied to, given dy (n, out_c,
 * out_h, out_w), the loss gradient with respect to the layer's pre-activation output (a fused
 * ReLU's derivative already applied): gw (out_c, fan_in) and gb (out_c) are set to the sums over
 * the batch (gw is not masked; the optimiser drops pruned weights); dx (n, in_c, in_h, in_w),
 * unless NULL, is set to the gradient with respect to x, and with relu_in to that gradient
 * where x > 0 and +0 elsewhere (x came out of a ReLU, or out of a max-pool of one: the ReLU's
 * derivative of the layer below). Two cblas_sgemm per image, one without dx. */
void tf_conv_backward(const tf_conv_t *cv, tf_conv_work_t *ws, const float *w, const float *x,
                      const float *dy, int n, float *gw, float *gb, float *dx, int relu_in);

/* The same on a pruned layer whose surviving weights sp packs (tf_sparse_build on W, out_c rows
 * and fan_in columns): tf_conv_forward's result with W's pruned entries zero, and the backward's
 * weight gradient into sp->grad at the surviving entries (the sums over the batch); gb and dx as
 * tf_conv_backward. Each image is one call of tf_sparse_forward, tf_sparse_weight_grad and
 * tf_sparse_backward over its lowered matrix. The sums run in another order than SGEMM's, so
 * results agree with the dense path to rounding, not bit for bit. */
void tf_conv_forward_sparse(const tf_conv_t *cv, tf_conv_work_t *ws, const tf_sparse_t *sp,
                            const float *b, const float *x, int n, int relu, float *y);
void tf_conv_backward_sparse(const tf_conv_t *cv, tf_conv_work_t *ws, tf_sparse_t *sp,
                             const float *x, const float *dy, int n, float *gb, float *dx,
                             int relu_in);

/* The references: the same results by direct convolution with plain loops (sums over the batch,
 * the kernel taps and channels in loop order), for tests. */
void tf_conv_forward_naive(const tf_conv_t *cv, const float *w, const float *b, const float *x,
                           int n, int relu, float *y);
void tf_conv_backward_naive(const tf_conv_t *cv, const float *w, const float *x, const float *dy,
                            int n, float *gw, float *gb, float *dx, int relu_in);

/* 2x2 max-pooling with stride 2 over each channel: (c, in_h, in_w) to (c, in_h / 2, in_w / 2),
 * rounded down; the last row (column) of an odd size is dropped, as PyTorch's MaxPool2d(2)
 * does. */
typedef struct tf_conv_pool {
  int c, in_h, in_w;
  int out_h, out_w;
  size_t in_size, out_size; /* floats per input and per output image */
} tf_conv_pool_t;

/* Returns 0 or TF_EINPUT for a non-positive channel count or an image smaller than 2 x 2. */
int tf_conv_pool_init(tf_conv_pool_t *p, int c, int in_h, int in_w, tf_err_t *err);

/* y (n, c, out_h, out_w) = the maximum of each 2 x 2 window of x (n, c, in_h, in_w); arg (n, c,
 * out_h, out_w) = its position within its image, c * in_h * in_w + iy * in_w + ix, the first in
 * row-major window order among equal values. */
void tf_conv_pool_forward(const tf_conv_pool_t *p, const float *x, int n, float *y, int32_t *arg);

/* dx (n, c, in_h, in_w) = dy (n, c, out_h, out_w) routed to the positions arg names, +0 at every
 * other position. */
void tf_conv_pool_backward(const tf_conv_pool_t *p, const float *dy, const int32_t *arg, int n,
                           float *dx);

/* The references: the window maxima and their gradient recomputed from x, without arg. */
void tf_conv_pool_forward_naive(const tf_conv_pool_t *p, const float *x, int n, float *y);
void tf_conv_pool_backward_naive(const tf_conv_pool_t *p, const float *x, const float *dy, int n,
                                 float *dx);

#endif
