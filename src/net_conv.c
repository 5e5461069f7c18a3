/* The convolution layers within the network: forward and backward through them, images one
 * after the other, (n, c, h, w), in every plan, each layer updated as soon as its gradient is
 * ready. */
#include "ticketfarm/net.h"

#include "net_internal.h"

/* Where convolution l hands on its output: act[l + 1], or net->flat for the last one in a
 * feature-major plan (transposed into act[n_conv] for the dense layers). */
static float *conv_out(tf_net_t *net, int l) {
  return l == net->n_conv - 1 && net->feature_major ? net->flat : net->act[l + 1];
}

/* The convolution layers' forward pass (net_internal.h). */
void tf_net_conv_forward(tf_net_t *net, const float *x, int n) {
  for (int l = 0; l < net->n_conv; l++) {
    const tf_conv_t *cv = &net->conv[l];
    const float *in = l == 0 ? x : net->act[l];
    const float *b = net->params + net->b_off[l];
    float *out = conv_out(net, l);
    float *y = net->pooled[l] ? net->cy[l] : out;
    if (net->sparse[l])
      tf_conv_forward_sparse(cv, &net->cw, &net->sp[l], b, in, n, 1, y);
    else
      tf_conv_forward(cv, &net->cw, net->params + net->w_off[l], b, in, n, 1, y);
    if (net->pooled[l]) tf_conv_pool_forward(&net->pool[l], y, n, out, net->carg[l]);
  }
}

/* Backward through the convolution layers (net_internal.h). */
void tf_net_conv_backward(tf_net_t *net, const float *x, const float *dtop, int n,
                          tf_optim_t *opt) {
  for (int l = net->n_conv - 1; l >= 0; l--) {
    const tf_conv_t *cv = &net->conv[l];
    const float *d = l == net->n_conv - 1 ? dtop : net->delta[l + 1];
    if (net->pooled[l]) {
      tf_conv_pool_backward(&net->pool[l], d, net->carg[l], n, net->cdy[l]);
      d = net->cdy[l];
    }
    const float *in = l == 0 ? x : net->act[l];
    float *dx = l > 0 ? net->delta[l] : NULL;
    float *gb = net->grads + net->b_off[l];
    if (net->sparse[l])
      tf_conv_backward_sparse(cv, &net->cw, &net->sp[l], in, d, n, gb, dx, 1);
    else
      tf_conv_backward(cv, &net->cw, net->params + net->w_off[l], in, d, n,
                       net->grads + net->w_off[l], gb, dx, 1);
    if (opt != NULL) tf_net_update_layer(net, opt, l);
  }
}
