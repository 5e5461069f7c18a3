/* One task of a sweep: dense training, then rounds of magnitude pruning, rewinding (or a control)
 * and retraining, with evaluation curves and early-stop points for every round. */
#include "ticketfarm/ticket.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ticketfarm/data.h"
#include "ticketfarm/init.h"
#include "ticketfarm/net.h"
#include "ticketfarm/optim.h"
#include "ticketfarm/prune.h"
#include "ticketfarm/rng.h"

#include "clock.h"

/* Evaluation runs through the net in chunks of this many images; part of the results'
 * definition (float sums depend on it), so it is a constant, not a tuning knob. */
#define EVAL_CHUNK 1000
/* Training steps between calls of the sink's poll hook. */
#define POLL_EVERY 8

typedef struct ticket {
  const tf_config_t *cfg;
  const tf_dataset_t *data;
  const tf_ticket_sink_t *sink;
  tf_net_t net;
  tf_optim_t opt;
  tf_split_t split;
  int32_t *test_idx;   /* (n_test): 0..n_test-1, so test images gather like validation ones */
  int32_t *order;      /* (n_train split): the current epoch's permutation */
  long order_epoch;    /* epoch whose permutation `order` holds; -1 = none */
  int32_t *y;          /* (max_batch) gathered labels */
  float *theta0;       /* (n_params) initial parameters */
  float *theta_k;      /* (n_params) parameters at the rewind iteration of round 0 */
  float *ticket_final; /* (n_params) the ticket's trained parameters of the last round */
  float *ticket_mask;  /* (n_params) the ticket's mask, net layout */
  float *ctl_final;    /* (n_params) a control's trained parameters while the ticket is replayed */
  float *ctl_mask;     /* (n_params) a control's mask, likewise */
  uint8_t *bits;       /* (packed mask bytes) the mask trained in the round being reported */
  uint8_t *next_bits;  /* (packed mask bytes) the ticket's mask for the next round */
  tf_eval_t *evals;    /* (n_evals) */
  int n_evals;
} ticket_t;

static int sink_poll(const tf_ticket_sink_t *sink) {
  return sink != NULL && sink->poll != NULL ? sink->poll(sink->ctx) : 0;
}

static int snapshot(ticket_t *t, tf_snapshot_t which, const float *params) {
  if (t->sink == NULL || t->sink->snapshot == NULL) return 0;
  return t->sink->snapshot(t->sink->ctx, which, params, t->net.n_params);
}

/* Weights of every layer from the initialiser, each layer from its own stream (purpose, round,
 * layer), biases zero. */
static int draw_init(const tf_config_t *cfg, const tf_net_t *net, float *params,
                     tf_stream_t purpose, int round, tf_err_t *err) {
  memset(params, 0, net->n_params * sizeof *params);
  for (int l = 0; l < net->n_layers; l++) {
    tf_rng_t rng;
    tf_rng_seed(&rng, cfg->seed, purpose, (uint64_t)round, (uint64_t)l);
    int rc = tf_init_fill(params + net->w_off[l], net->sizes[l + 1], net->sizes[l], &cfg->init,
                          &rng, err);
    if (rc < 0) return rc;
  }
  return 0;
}

/* The batch of training iteration `it`: epochs are permutations of the training split from
 * TF_STREAM_ORDER(seed, epoch), cut into floor(n_train / batch) batches (the remainder is not
 * used in that epoch). The order depends on the seed only, so every initialiser and control of a
 * seed, and every round, sees the same sequence, and a rewound round resumes it at iteration k. */
static void gather_batch(ticket_t *t, long it) {
  const int batch = t->cfg->batch;
  const long per_epoch = t->split.n_train / batch;
  const long epoch = it / per_epoch;
  if (epoch != t->order_epoch) {
    memcpy(t->order, t->split.train_idx, (size_t)t->split.n_train * sizeof *t->order);
    tf_rng_t rng;
    tf_rng_seed(&rng, t->cfg->seed, TF_STREAM_ORDER, (uint64_t)epoch, 0);
    tf_rng_shuffle(&rng, t->order, (size_t)t->split.n_train);
    t->order_epoch = epoch;
  }
  const long pos = (it % per_epoch) * batch;
  tf_net_gather(&t->net, &t->data->train, t->order + pos, batch, t->y);
}

/* Mean loss and accuracy of the net over images idx[0..n) of `images`. */
static int evaluate(ticket_t *t, const tf_images_t *images, const int32_t *idx, int32_t n,
                    float *loss, float *acc) {
  double loss_sum = 0.0;
  long correct = 0;
  for (int32_t i = 0; i < n; i += EVAL_CHUNK) {
    int count = n - i < EVAL_CHUNK ? (int)(n - i) : EVAL_CHUNK;
    tf_net_gather(&t->net, images, idx + i, count, t->y);
    tf_net_eval_batch(&t->net, t->y, count, &loss_sum, &correct);
    int rc = sink_poll(t->sink);
    if (rc != 0) return rc;
  }
  *loss = n > 0 ? (float)(loss_sum / n) : NAN;
  *acc = n > 0 ? (float)((double)correct / n) : NAN;
  return 0;
}

static int eval_point(ticket_t *t, int j, float train_loss, int round, tf_err_t *err) {
  tf_eval_t *e = &t->evals[j];
  e->iteration = (long)j * t->cfg->eval_every;
  e->train_loss = train_loss;
  int rc = evaluate(t, &t->data->train, t->split.val_idx, t->split.n_val, &e->val_loss, &e->val_acc);
  if (rc == 0)
    rc = evaluate(t, &t->data->test, t->test_idx, t->data->test.n, &e->test_loss, &e->test_acc);
  if (rc != 0) return rc;
  if ((t->split.n_val > 0 && !isfinite(e->val_loss)) || !isfinite(e->test_loss))
    return tf_err_set(err, TF_EDIVERGED, "round %d, iteration %ld: evaluation loss is %g", round,
                      e->iteration, (double)(isfinite(e->val_loss) ? e->test_loss : e->val_loss));
  return 0;
}

/* Trains the net as it stands (params and mask already set) from iteration `start` up to `end`,
 * each layer on dense or sparse kernels as train.sparse_below and the mask decide, and leaves
 * the trained parameters in net->params. With `evaluate_curve`, records evals[start/eval_every
 * ..]. In round 0, copies the parameters at the rewind iteration into theta_k. */
static int train_round(ticket_t *t, int round, long start, long end, int evaluate_curve,
                       tf_err_t *err) {
  const tf_config_t *cfg = t->cfg;
  tf_net_t *net = &t->net;
  tf_optim_reset(&t->opt);
  int rc = tf_net_plan(net, cfg->sparse_below, err);
  if (rc < 0) return rc;
  if (round == 0 && cfg->rewind == 0) {
    memcpy(t->theta_k, net->params, net->n_params * sizeof *net->params);
    rc = snapshot(t, TF_SNAPSHOT_REWIND, t->theta_k);
    if (rc != 0) return rc;
  }
  if (evaluate_curve) {
    rc = eval_point(t, (int)(start / cfg->eval_every), NAN, round, err);
    if (rc != 0) return rc;
  }
  double loss_sum = 0.0;
  long loss_count = 0;
  for (long it = start; it < end; it++) {
    gather_batch(t, it);
    float loss = tf_net_step(net, &t->opt, t->y, cfg->batch);
    if (!isfinite(loss))
      return tf_err_set(err, TF_EDIVERGED, "round %d, iteration %ld: training loss is %g", round,
                        it + 1, (double)loss);
    loss_sum += loss;
    loss_count++;
    const long done = it + 1;
    if (round == 0 && done == cfg->rewind) {
      tf_net_sync(net);
      memcpy(t->theta_k, net->params, net->n_params * sizeof *net->params);
      rc = snapshot(t, TF_SNAPSHOT_REWIND, t->theta_k);
      if (rc != 0) return rc;
    }
    if (evaluate_curve && done % cfg->eval_every == 0) {
      rc = eval_point(t, (int)(done / cfg->eval_every), (float)(loss_sum / loss_count), round, err);
      if (rc != 0) return rc;
      loss_sum = 0.0;
      loss_count = 0;
    }
    if (done % POLL_EVERY == 0) {
      rc = sink_poll(t->sink);
      if (rc != 0) return rc;
    }
  }
  tf_net_sync(net);
  return 0;
}

static int early_stop_index(const ticket_t *t, int first) {
  int best = first;
  for (int j = first + 1; j < t->n_evals; j++)
    if (t->evals[j].val_loss < t->evals[best].val_loss) best = j;
  return best;
}

int tf_ticket_control(const tf_config_t *cfg, const tf_net_t *net, const float *theta_k,
                      const float *ticket_mask, int round, float *params, float *mask,
                      tf_err_t *err) {
  const size_t n = net->n_params;
  switch (cfg->control) {
    case TF_CONTROL_TICKET:
      memcpy(mask, ticket_mask, n * sizeof *mask);
      memcpy(params, theta_k, n * sizeof *params);
      break;
    case TF_CONTROL_REINIT:
    case TF_CONTROL_SIGN_REINIT: {
      int rc = draw_init(cfg, net, params, TF_STREAM_REINIT, round, err);
      if (rc < 0) return rc;
      memcpy(mask, ticket_mask, n * sizeof *mask);
      for (int l = 0; l < net->n_layers; l++) {
        float *w = params + net->w_off[l];
        const float *wk = theta_k + net->w_off[l];
        size_t count = (size_t)net->sizes[l] * (size_t)net->sizes[l + 1];
        if (cfg->control == TF_CONTROL_SIGN_REINIT)
          for (size_t i = 0; i < count; i++) w[i] = copysignf(fabsf(w[i]), wk[i]);
        memcpy(params + net->b_off[l], theta_k + net->b_off[l],
               (size_t)net->sizes[l + 1] * sizeof *w);
      }
      break;
    }
    case TF_CONTROL_RANDOM_MASK: {
      long keep[TF_MAX_LAYERS];
      tf_prune_remaining(net, ticket_mask, keep);
      int rc = tf_prune_random(net, mask, keep, cfg->seed, round, err);
      if (rc < 0) return rc;
      memcpy(params, theta_k, n * sizeof *params);
      break;
    }
    default:
      return tf_err_set(err, TF_EINPUT, "unknown control %d", (int)cfg->control);
  }
  for (size_t i = 0; i < n; i++) params[i] *= mask[i];
  return 0;
}

/* Hands round `round` to the sink: trained under `mask` to `final`, next_mask the ticket's mask
 * for the next round (NULL after the last). */
static int report_round(ticket_t *t, int round, const float *mask, const float *final,
                        const float *next_mask, double wall_s) {
  const tf_config_t *cfg = t->cfg;
  const tf_net_t *net = &t->net;
  tf_round_t r = {0};
  r.round = round;
  r.n_layers = net->n_layers;
  tf_prune_remaining(net, mask, r.remaining);
  long kept = 0, total = 0;
  for (int l = 0; l < net->n_layers; l++) {
    r.total[l] = (long)net->sizes[l] * net->sizes[l + 1];
    kept += r.remaining[l];
    total += r.total[l];
  }
  r.density = (double)kept / (double)total;
  r.n_evals = t->n_evals;
  r.first_eval = round == 0 ? 0 : (int)(cfg->rewind / cfg->eval_every);
  r.evals = t->evals;
  r.early_stop = early_stop_index(t, r.first_eval);
  tf_prune_pack(net, mask, t->bits);
  r.mask_bits = t->bits;
  if (next_mask != NULL) {
    tf_prune_pack(net, next_mask, t->next_bits);
    r.next_mask_bits = t->next_bits;
  }
  r.mask_bytes = tf_prune_packed_size(net);
  r.final = final;
  r.n_params = net->n_params;
  r.wall_s = wall_s;
  if (t->sink == NULL || t->sink->round_done == NULL) return 0;
  return t->sink->round_done(t->sink->ctx, &r);
}

static void clear_evals(ticket_t *t) {
  for (int j = 0; j < t->n_evals; j++) {
    t->evals[j] = (tf_eval_t){.iteration = (long)j * t->cfg->eval_every,
                              .train_loss = NAN, .val_loss = NAN, .val_acc = NAN,
                              .test_loss = NAN, .test_acc = NAN};
  }
}

static void ticket_free(ticket_t *t) {
  tf_net_free(&t->net);
  tf_optim_free(&t->opt);
  tf_data_split_free(&t->split);
  free(t->test_idx);
  free(t->order);
  free(t->y);
  free(t->theta0);
  free(t->theta_k);
  free(t->ticket_final);
  free(t->ticket_mask);
  free(t->ctl_final);
  free(t->ctl_mask);
  free(t->bits);
  free(t->next_bits);
  free(t->evals);
}

int tf_ticket_shape(const tf_config_t *cfg, tf_ticket_shape_t *shape, tf_err_t *err) {
  memset(shape, 0, sizeof *shape);
  int rc = tf_data_shape(cfg->dataset, &shape->n_train, &shape->n_test, &shape->input_dim,
                         &shape->classes, err);
  if (rc < 0) return rc;
  if (cfg->eval_every <= 0 || cfg->iterations < 0 || cfg->rounds < 0 || cfg->n_hidden < 0 ||
      cfg->n_hidden > TF_MAX_HIDDEN)
    return tf_err_set(err, TF_EINPUT, "invalid task configuration: eval_every %d, iterations "
                      "%ld, rounds %d, %d hidden layers", cfg->eval_every, cfg->iterations,
                      cfg->rounds, cfg->n_hidden);
  shape->n_rounds = cfg->rounds + 1;
  shape->eval_every = cfg->eval_every;
  shape->n_evals = (int)(cfg->iterations / cfg->eval_every) + 1;
  shape->n_layers = cfg->n_hidden + 1;
  int prev = shape->input_dim;
  for (int l = 0; l < shape->n_layers; l++) {
    int next = l < cfg->n_hidden ? cfg->hidden[l] : shape->classes;
    shape->layer_size[l] = (int64_t)next * prev;
    prev = next;
  }
  shape->n_params = tf_net_count_params(shape->input_dim, cfg->hidden, cfg->n_hidden,
                                        shape->classes, &shape->n_weights);
  shape->mask_bytes = (shape->n_weights + 7) / 8;
  return 0;
}

static int ticket_setup(ticket_t *t, tf_err_t *err) {
  const tf_config_t *cfg = t->cfg;
  const tf_dataset_t *data = t->data;
  tf_ticket_shape_t shape;
  int rc = tf_ticket_shape(cfg, &shape, err);
  if (rc < 0) return rc;
  const int32_t dim = shape.input_dim, classes = shape.classes;
  if (data->train.dim != dim || data->test.dim != dim || data->classes != classes)
    return tf_err_set(err, TF_EINPUT, "dataset '%s' has %d-pixel images and %d classes, "
                      "the task expects %d and %d", data->name, data->train.dim,
                      data->classes, dim, classes);
  int max_batch = cfg->batch > EVAL_CHUNK ? cfg->batch : EVAL_CHUNK;
  rc = tf_net_create(&t->net, dim, cfg->hidden, cfg->n_hidden, classes, max_batch, err);
  if (rc < 0) return rc;
  rc = tf_optim_create(&t->opt, cfg, t->net.n_params, err);
  if (rc < 0) return rc;
  rc = tf_data_split(&t->split, data->train.n, cfg->validation, cfg->seed, err);
  if (rc < 0) return rc;
  const size_t np = t->net.n_params;
  t->n_evals = shape.n_evals;
  t->order_epoch = -1;
  t->test_idx = malloc((size_t)data->test.n * sizeof *t->test_idx);
  t->order = malloc((size_t)t->split.n_train * sizeof *t->order);
  t->y = malloc((size_t)max_batch * sizeof *t->y);
  t->theta0 = malloc(np * sizeof *t->theta0);
  t->theta_k = malloc(np * sizeof *t->theta_k);
  t->ticket_final = malloc(np * sizeof *t->ticket_final);
  t->ticket_mask = malloc(np * sizeof *t->ticket_mask);
  t->ctl_final = malloc(np * sizeof *t->ctl_final);
  t->ctl_mask = malloc(np * sizeof *t->ctl_mask);
  t->bits = malloc(tf_prune_packed_size(&t->net));
  t->next_bits = malloc(tf_prune_packed_size(&t->net));
  t->evals = malloc((size_t)t->n_evals * sizeof *t->evals);
  if (!t->test_idx || !t->order || !t->y || !t->theta0 || !t->theta_k ||
      !t->ticket_final || !t->ticket_mask || !t->ctl_final || !t->ctl_mask || !t->bits ||
      !t->next_bits || !t->evals)
    return tf_err_set(err, TF_ENOMEM, "out of memory for a task of %zu parameters", np);
  for (int32_t i = 0; i < data->test.n; i++) t->test_idx[i] = i;
  return 0;
}

/* The ticket's mask for the round after `round`, pruned from its trained parameters; NULL after
 * the last round. */
static const float *next_ticket_mask(ticket_t *t, int round, tf_err_t *err, int *rc) {
  const tf_config_t *cfg = t->cfg;
  *rc = 0;
  if (round == cfg->rounds) return NULL;
  *rc = tf_prune_magnitude(&t->net, t->ticket_final, t->ticket_mask, cfg->rate, cfg->output_rate,
                           cfg->scope, err);
  return t->ticket_mask;
}

static int ticket_rounds(ticket_t *t, const tf_ticket_start_t *start, tf_err_t *err) {
  const tf_config_t *cfg = t->cfg;
  tf_net_t *net = &t->net;
  const size_t np = net->n_params;
  const int first = start != NULL ? start->round : 0;

  int rc = draw_init(cfg, net, t->theta0, TF_STREAM_INIT, 0, err);
  if (rc < 0) return rc;
  rc = snapshot(t, TF_SNAPSHOT_INIT, t->theta0);
  if (rc != 0) return rc;
  memcpy(net->params, t->theta0, np * sizeof *net->params);
  for (size_t i = 0; i < np; i++) net->mask[i] = 1.0f;

  if (first == 0) {
    /* Round 0: the dense network, shared by every control. */
    double t0 = tf__clock_now();
    clear_evals(t);
    rc = train_round(t, 0, 0, cfg->iterations, 1, err);
    if (rc != 0) return rc;
    memcpy(t->ticket_final, net->params, np * sizeof *net->params);
    memcpy(t->ticket_mask, net->mask, np * sizeof *net->mask);
    const float *next = next_ticket_mask(t, 0, err, &rc);
    if (rc < 0) return rc;
    rc = report_round(t, 0, net->mask, net->params, next, tf__clock_now() - t0);
    if (rc != 0) return rc;
  } else {
    /* Resuming: theta_k is round 0's state at iteration k, recomputed bit for bit. */
    rc = train_round(t, 0, 0, cfg->rewind, 0, err);
    if (rc != 0) return rc;
    tf_prune_unpack(net, start->mask_bits, t->ticket_mask);
  }

  for (int round = first > 1 ? first : 1; round <= cfg->rounds; round++) {
    double t0 = tf__clock_now();
    rc = tf_ticket_control(cfg, net, t->theta_k, t->ticket_mask, round, net->params, net->mask,
                           err);
    if (rc < 0) return rc;
    clear_evals(t);
    rc = train_round(t, round, cfg->rewind, cfg->iterations, 1, err);
    if (rc != 0) return rc;
    const float *mask = net->mask, *final = net->params;
    if (cfg->control != TF_CONTROL_TICKET && round < cfg->rounds) {
      /* A control trains on the ticket's masks, so the ticket itself is retrained (without
       * evaluation, which changes nothing in training) to find the next round's mask. */
      memcpy(t->ctl_final, net->params, np * sizeof *net->params);
      memcpy(t->ctl_mask, net->mask, np * sizeof *net->mask);
      mask = t->ctl_mask;
      final = t->ctl_final;
      tf_config_t as_ticket = *cfg;
      as_ticket.control = TF_CONTROL_TICKET;
      rc = tf_ticket_control(&as_ticket, net, t->theta_k, t->ticket_mask, round, net->params,
                             net->mask, err);
      if (rc < 0) return rc;
      rc = train_round(t, round, cfg->rewind, cfg->iterations, 0, err);
      if (rc != 0) return rc;
    }
    memcpy(t->ticket_final, net->params, np * sizeof *net->params);
    const float *next = next_ticket_mask(t, round, err, &rc);
    if (rc < 0) return rc;
    rc = report_round(t, round, mask, final, next, tf__clock_now() - t0);
    if (rc != 0) return rc;
  }
  return 0;
}

int tf_ticket_run(const tf_config_t *cfg, const tf_dataset_t *data, const tf_ticket_start_t *start,
                  const tf_ticket_sink_t *sink, tf_err_t *err) {
  if (start != NULL && (start->round < 0 || start->round > cfg->rounds ||
                        (start->round > 0 && start->mask_bits == NULL)))
    return tf_err_set(err, TF_EINPUT, "cannot start a task of %d rounds at round %d",
                      cfg->rounds + 1, start->round);
  ticket_t t = {.cfg = cfg, .data = data, .sink = sink};
  int rc = ticket_setup(&t, err);
  if (rc == 0) rc = ticket_rounds(&t, start, err);
  if (rc > 0) rc = tf_err_set(err, TF_EINTERRUPTED, "task interrupted");
  ticket_free(&t);
  return rc;
}
double tf_ticket_round_cost(const tf_config_t *cfg, int round) {
  tf_ticket_shape_t shape;
  if (round < 0 || round > cfg->rounds || tf_ticket_shape(cfg, &shape, NULL) < 0) return 0.0;
  const double w = (double)shape.n_weights;
  const double evals_per_round = (double)shape.n_evals;
  /* forward + weight gradient + input gradient per training image; forward per evaluated one */
  const double train0 = (double)cfg->iterations * cfg->batch * 3.0 * w;
  const double eval0 = evals_per_round * (double)(cfg->validation + shape.n_test) * w;
  if (round == 0) return train0 + eval0;
  /* Below train.sparse_below a round costs about its density (tests/bench_rounds.c); the
   * expected density follows prune.rate (the output layer's own rate is a small share). */
  const double density = pow(1.0 - cfg->rate, round);
  const double share = density < cfg->sparse_below ? density : 1.0;
  const double later = (double)(cfg->iterations - cfg->rewind) / (double)cfg->iterations;
  double cost = later * share * (train0 + eval0);
  /* A control task also retrains the ticket, without evaluation, to find the next mask. */
  if (cfg->control != TF_CONTROL_TICKET && round < cfg->rounds) cost += later * share * train0;
  return cost;
}

double tf_ticket_cost(const tf_config_t *cfg) {
  double cost = 0.0;
  for (int r = 0; r <= cfg->rounds; r++) cost += tf_ticket_round_cost(cfg, r);
  return cost;
}

int tf_ticket_memory(const tf_config_t *cfg, double *bytes, tf_err_t *err) {
  *bytes = 0.0;
  tf_ticket_shape_t s;
  int rc = tf_ticket_shape(cfg, &s, err);
  if (rc < 0) return rc;
  const double f = sizeof(float), np = (double)s.n_params, nw = (double)s.n_weights;
  /* tf_net_create: the batch rows of every activation and delta are padded to the lanes. */
  const int max_batch = cfg->batch > EVAL_CHUNK ? cfg->batch : EVAL_CHUNK;
  const double ld = (double)((max_batch + TF_SPARSE_LANES - 1) / TF_SPARSE_LANES * TF_SPARSE_LANES);
  double units = 0.0, widest = 0.0;
  for (int l = 0; l < s.n_layers; l++) {
    units += l < cfg->n_hidden ? (double)cfg->hidden[l] : (double)s.classes;
    if ((double)s.layer_size[l] > widest) widest = (double)s.layer_size[l];
  }
  double m = 3.0 * np * f;                   /* net: params, grads, mask */
  m += ld * (double)s.input_dim * f;         /* net: the input batch */
  m += 2.0 * ld * units * f;                 /* net: activations and deltas */
  if (cfg->optimizer == TF_OPT_MOMENTUM || cfg->optimizer == TF_OPT_ADAM) m += np * f;
  if (cfg->optimizer == TF_OPT_ADAM) m += np * f;
  m += 6.0 * np * f;                         /* theta_0, theta_k, the ticket's and the control's
                                              * final parameters and masks */
  m += 2.0 * (double)s.mask_bytes;           /* this round's and the next round's mask bits */
  m += 4.0 * ((double)s.n_test + (double)s.n_train + (double)max_batch); /* indices, labels */
  /* Pruning's sort keys (16 bytes a weight of a layer, or of all for a global prune), or a
   * random mask's indices: freed before training goes on, but held beside all of the above. */
  const double keys = 16.0 * (cfg->scope == TF_SCOPE_GLOBAL ? nw : widest);
  m += keys > 8.0 * widest ? keys : 8.0 * widest;
  /* Sparse layers (below train.sparse_below): 20 bytes an entry besides the dense slab. */
  if (cfg->sparse_below > 0) m += 20.0 * (cfg->sparse_below < 1 ? cfg->sparse_below : 1.0) * nw;
  m += np * f;                               /* the results file's row of parameters */
  *bytes = m;
  return 0;
}
