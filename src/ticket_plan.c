/* What a task will take before it runs: the round where a layer reaches its last weight, the
 * planned cost of its rounds (plan, the farm's longest-first order, shards) and its memory. */
#include <math.h>

#include "ticketfarm/config.h"
#include "ticketfarm/net.h"
#include "ticketfarm/prune.h"
#include "ticketfarm/sparse.h"
#include "ticketfarm/ticket.h"

#include "ticket_internal.h"

/* A sparse round's fixed costs as a share of a dense round's (sparse_share). */
#define SPARSE_FIXED_SHARE 0.035

int tf_ticket_floor_round(const tf_config_t *cfg, int *layer) {
  tf_ticket_shape_t shape;
  if (tf_ticket_shape(cfg, &shape, NULL) < 0) return 0;
  const int n = shape.n_layers;
  long remaining[TF_MAX_LAYERS];
  long total = 0, total0 = 0;
  for (int l = 0; l < n; l++) {
    remaining[l] = (long)shape.layer_size[l];
    if (tf_config_excluded(cfg, l, n)) continue;
    total += remaining[l];
  }
  total0 = total;
  for (int r = 1; r <= cfg->rounds; r++) {
    if (cfg->scope == TF_SCOPE_GLOBAL) {
      total -= tf_prune_count(total, cfg->rate);
      for (int l = 0; l < n; l++) {
        if (tf_config_excluded(cfg, l, n) || total0 == 0) continue;
        if ((double)shape.layer_size[l] * (double)total / (double)total0 < 1.0) {
          if (layer != NULL) *layer = l;
          return r;
        }
      }
      continue;
    }
    for (int l = 0; l < n; l++) {
      if (tf_config_excluded(cfg, l, n)) continue;
      long c = tf_prune_count(remaining[l], l == n - 1 ? cfg->output_rate : cfg->rate);
      if (remaining[l] > 0 && c >= remaining[l]) {
        if (layer != NULL) *layer = l;
        return r;
      }
      remaining[l] -= c;
    }
  }
  return 0;
}

/* Round `round`'s cost as a share of a dense round's. Below train.sparse_below a round costs its
 * density plus the fixed costs of a sparse step and evaluation (gathering, biases, activations,
 * the output layer, softmax): a LeNet-300-100 round at 3.6% took 0.071 of round 0 (tools/bench,
 * study section), so 0.035 of a dense round. The expected density follows prune.rate (the
 * output layer's own rate is a small share). */
static double sparse_share(const tf_config_t *cfg, int round) {
  const double density = pow(1.0 - cfg->rate, round);
  return density < cfg->sparse_below ? density + SPARSE_FIXED_SHARE : 1.0;
}

double tf_ticket_round_cost(const tf_config_t *cfg, int round) {
  tf_ticket_shape_t shape;
  if (round < 0 || round > cfg->rounds || tf_ticket_shape(cfg, &shape, NULL) < 0) return 0.0;
  const double w = shape.macs;
  const double evals_per_round = (double)shape.n_evals;
  /* forward + weight gradient + input gradient per training image; forward per evaluated one */
  const double train0 = (double)cfg->iterations * cfg->batch * 3.0 * w;
  /* Under at_best the test set is evaluated where the validation loss reaches a new minimum:
   * priced as a fifth of the points (new minima come often before the early-stopping point,
   * rarely after it) plus the last. */
  const double test_evals =
      cfg->test_eval == TF_TEST_EVAL_AT_BEST ? evals_per_round / 5.0 + 1.0 : evals_per_round;
  const double eval0 =
      (evals_per_round * (double)cfg->validation + test_evals * (double)shape.n_test) * w;
  const double later = (double)(cfg->iterations - cfg->rewind) / (double)cfg->iterations;
  const double share = round == 0 ? 1.0 : sparse_share(cfg, round);
  /* The instability analysis: a second copy from the rewind point, and the path's test sets. */
  const double path = cfg->instability > 0
                          ? share * (later * train0 + cfg->instability * (double)shape.n_test * w)
                          : 0.0;
  if (round == 0) return train0 + eval0 + path;
  return later * share * (train0 + eval0) + path;
}

double tf_ticket_replay_cost(const tf_config_t *cfg, int round) {
  if (round < 1 || round >= cfg->rounds) return 0.0;
  tf_ticket_shape_t shape;
  if (tf_ticket_shape(cfg, &shape, NULL) < 0) return 0.0;
  const double train0 = (double)cfg->iterations * cfg->batch * 3.0 * shape.macs;
  const double share = sparse_share(cfg, round);
  const double later = (double)(cfg->iterations - cfg->rewind) / (double)cfg->iterations;
  return later * share * train0;
}

double tf_ticket_cost(const tf_config_t *cfg) {
  double cost = 0.0;
  for (int r = 0; r <= cfg->rounds; r++) cost += tf_ticket_round_cost(cfg, r);
  /* Alone, a control or a transfer also trains the ticket (without evaluation) for the next
   * round's mask. */
  if (cfg->control != TF_CONTROL_TICKET || tf_config_transfer(cfg))
    for (int r = 1; r < cfg->rounds; r++) cost += tf_ticket_replay_cost(cfg, r);
  return cost;
}

int tf_ticket_memory(const tf_config_t *cfg, double *bytes, tf_err_t *err) {
  *bytes = 0.0;
  tf_ticket_shape_t s;
  int rc = tf_ticket_shape(cfg, &s, err);
  if (rc < 0) return rc;
  const double f = sizeof(float), np = (double)s.n_params, nw = (double)s.n_weights;
  tf_model_t model;
  tf_config_model(cfg, &model);
  int32_t c = 0, h = 0, w = 0;
  rc = tf_data_image(cfg->dataset, &c, &h, &w, err);
  if (rc < 0) return rc;
  tf_net_arch_t arch;
  rc = tf_net_arch(&arch, c, h, w, &model, s.classes, err);
  if (rc < 0) return rc;
  /* tf_net_create: the batch rows of every activation and delta are padded to the lanes. */
  const int chunk = model.n_conv > 0 ? CONV_EVAL_CHUNK : EVAL_CHUNK;
  const int max_batch = cfg->batch > chunk ? cfg->batch : chunk;
  const double ld = (double)((max_batch + TF_SPARSE_LANES - 1) / TF_SPARSE_LANES * TF_SPARSE_LANES);
  double units = 0.0, widest = 0.0, lowered = 0.0;
  for (int l = 0; l < s.n_layers; l++) {
    units += (double)arch.sizes[l + 1];
    /* A convolution also holds its output before pooling, and its lowered input (one image). */
    if (l < arch.n_conv) {
      units += (double)arch.conv[l].out_size;
      const double cols = (double)arch.conv[l].fan_in * (double)arch.conv[l].ld;
      if (cols > lowered) lowered = cols;
    }
    if ((double)s.layer_size[l] > widest) widest = (double)s.layer_size[l];
  }
  double m = 2.0 * lowered * f;              /* conv: lowered input and its gradient */
  m += 3.0 * np * f;                         /* net: params, grads, mask */
  m += ld * (double)s.input_dim * f;         /* net: the input batch */
  m += 2.0 * ld * units * f;                 /* net: activations and deltas */
  if (cfg->optimizer == TF_OPT_MOMENTUM || cfg->optimizer == TF_OPT_ADAM) m += np * f;
  if (cfg->optimizer == TF_OPT_ADAM) m += np * f;
  m += 5.0 * np * f;                         /* theta_0, theta_k, the ticket's final parameters
                                              * and its masks of this round and the next */
  m += 2.0 * (double)s.mask_bytes;           /* this round's and the next round's mask bits */
  m += 4.0 * ((double)s.n_test + (double)s.n_train + (double)max_batch); /* indices, labels */
  /* Pruning's sort keys (16 bytes a weight of a layer, or of all for a global prune), or a
   * random mask's indices: freed before training goes on, but held beside all of the above. */
  const double keys = 16.0 * (cfg->scope == TF_SCOPE_GLOBAL ? nw : widest);
  m += keys > 8.0 * widest ? keys : 8.0 * widest;
  /* Sparse layers (below train.sparse_below): 20 bytes an entry besides the dense slab. */
  if (cfg->sparse_below > 0) m += 20.0 * (cfg->sparse_below < 1 ? cfg->sparse_below : 1.0) * nw;
  m += np * f;                               /* the results file's row of parameters */
  /* The instability analysis: the round's start, the second copy and the first kept aside. */
  if (cfg->instability > 0) m += 3.0 * np * f + (double)cfg->instability * f;
  /* A transfer trains on a net of its own beside the source's: about as much again. */
  if (tf_config_transfer(cfg)) m *= 2.0;
  *bytes = m;
  return 0;
}
