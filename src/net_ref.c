/* The plain-loop reference for the network (convolutions, dense layers, softmax cross-entropy),
 * which the BLAS and sparse paths in net.c are tested against. */
#include "ticketfarm/net.h"

#include "net_internal.h"

static void forward_naive(tf_net_t *net, const float *x, int n) {
  const float *a = x;
  for (int l = 0; l < net->n_conv; l++) {
    float *out = net->act[l + 1];
    float *y = net->pooled[l] ? net->cy[l] : out;
    tf_conv_forward_naive(&net->conv[l], net->params + net->w_off[l], net->params + net->b_off[l],
                          a, n, 1, y);
    if (net->pooled[l]) tf_conv_pool_forward_naive(&net->pool[l], y, n, out);
    a = out;
  }
  for (int l = net->n_conv; l < net->n_layers; l++) {
    int in = net->sizes[l], out = net->sizes[l + 1];
    const float *w = net->params + net->w_off[l];
    const float *b = net->params + net->b_off[l];
    float *z = net->act[l + 1];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < out; j++) {
        float s = 0.0f;
        for (int k = 0; k < in; k++) s += a[(size_t)i * in + k] * w[(size_t)j * in + k];
        s += b[j];
        z[(size_t)i * out + j] = l + 1 < net->n_layers ? relu(s) : s;
      }
    }
    a = z;
  }
}

float tf_net_train_grad_naive(tf_net_t *net, const float *x, const int32_t *y, int n) {
  int nl = net->n_layers;
  forward_naive(net, x, n);
  double loss = 0.0;
  int c = net->sizes[nl];
  tf_net_softmax_xent(net->act[nl], (size_t)c, 1, y, n, c, n, net->delta[nl], &loss, NULL);

  for (int l = nl - 1; l >= net->n_conv; l--) {
    int in = net->sizes[l], out = net->sizes[l + 1];
    const float *a = l == 0 ? x : net->act[l];
    const float *dz = net->delta[l + 1];
    const float *w = net->params + net->w_off[l];
    float *gw = net->grads + net->w_off[l];
    float *gb = net->grads + net->b_off[l];
    for (int j = 0; j < out; j++) {
      for (int k = 0; k < in; k++) {
        float s = 0.0f;
        for (int i = 0; i < n; i++) s += dz[(size_t)i * out + j] * a[(size_t)i * in + k];
        gw[(size_t)j * in + k] = s;
      }
      float s = 0.0f;
      for (int i = 0; i < n; i++) s += dz[(size_t)i * out + j];
      gb[j] = s;
    }
    if (l > 0) {
      float *da = net->delta[l];
      const float *al = net->act[l];
      for (int i = 0; i < n; i++) {
        for (int k = 0; k < in; k++) {
          float s = 0.0f;
          for (int j = 0; j < out; j++) s += dz[(size_t)i * out + j] * w[(size_t)j * in + k];
          da[(size_t)i * in + k] = al[(size_t)i * in + k] > 0.0f ? s : 0.0f;
        }
      }
    }
  }
  for (int l = net->n_conv - 1; l >= 0; l--) {
    const float *d = net->delta[l + 1];
    if (net->pooled[l]) {
      tf_conv_pool_backward_naive(&net->pool[l], net->cy[l], d, n, net->cdy[l]);
      d = net->cdy[l];
    }
    tf_conv_backward_naive(&net->conv[l], net->params + net->w_off[l], l == 0 ? x : net->act[l],
                           d, n, net->grads + net->w_off[l], net->grads + net->b_off[l],
                           l > 0 ? net->delta[l] : NULL, 1);
  }
  return (float)(loss / n);
}

void tf_net_eval_naive(tf_net_t *net, const float *x, const int32_t *y, int n, double *loss_sum,
                       long *correct) {
  int nl = net->n_layers, c = net->sizes[nl];
  for (int i0 = 0; i0 < n; i0 += net->max_batch) {
    int m = n - i0 < net->max_batch ? n - i0 : net->max_batch;
    forward_naive(net, x + (size_t)i0 * net->sizes[0], m);
    tf_net_softmax_xent(net->act[nl], (size_t)c, 1, y + i0, m, c, m, NULL, loss_sum, correct);
  }
}
