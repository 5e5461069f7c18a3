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
#include "ticket_internal.h"

/* Training steps between calls of the sink's poll hook. */
#define POLL_EVERY 8

typedef struct ticket {
  const tf_config_t *cfg;
  const tf_dataset_t *data;
  tf_family_member_t *members; /* the family whose trunk this is (tf_ticket_run_family) */
  int n_members;
  const tf_ticket_sink_t *poller; /* the sink whose poll hook runs between steps */
  tf_net_t net;
  tf_optim_t opt;
  tf_split_t split;
  tf_data_norm_t norm; /* data.normalize's map, applied to every gathered batch */
  int32_t *test_idx;   /* (n_test): 0..n_test-1, so test images gather like validation ones */
  int32_t *order;      /* (n_train split): the current epoch's permutation */
  long order_epoch;    /* epoch whose permutation `order` holds; -1 = none */
  int order_round;     /* round whose order `order` holds (0 under data.order fixed) */
  int32_t *y;          /* (max_batch) gathered labels */
  int eval_chunk;      /* images evaluated at once: EVAL_CHUNK, or CONV_EVAL_CHUNK */
  float *theta0;       /* (n_params) initial parameters */
  float *theta_k;      /* (n_params) parameters at the rewind iteration of round 0 */
  float *ticket_final; /* (n_params) the ticket's trained parameters of the last round */
  float *ticket_mask;  /* (n_params) the ticket's mask of the round being trained, net layout */
  float *next_mask;    /* (n_params) the ticket's mask for the next round, net layout */
  uint8_t *bits;       /* (packed mask bytes) the mask trained in the round being reported */
  uint8_t *next_bits;  /* (packed mask bytes) the ticket's mask for the next round */
  tf_eval_t *evals;    /* (n_evals) */
  int n_evals;
  float best_val;      /* the round's lowest validation loss so far (train.test_eval at_best) */
} ticket_t;

static int sink_poll(const tf_ticket_sink_t *sink) {
  return sink != NULL && sink->poll != NULL ? sink->poll(sink->ctx) : 0;
}

/* Whether member m still runs: it has rounds left and has not failed. */
static int member_active(const tf_family_member_t *m) {
  return m->outcome == 0 && m->start_round <= m->cfg.rounds;
}

/* Hands a snapshot to every member still running. */
static int snapshot(ticket_t *t, tf_snapshot_t which, const float *params) {
  for (int i = 0; i < t->n_members; i++) {
    const tf_family_member_t *m = &t->members[i];
    if (!member_active(m) || m->sink.snapshot == NULL) continue;
    int rc = m->sink.snapshot(m->sink.ctx, which, params, t->net.n_params);
    if (rc != 0) return rc;
  }
  return 0;
}

/* Weights of every layer from the initialiser, each layer from its own stream (purpose, round,
  * layer; variant), biases zero; a convolution's fans are in_c * k * k and out_c * k * k. */
static int draw_init(const tf_config_t *cfg, const tf_net_t *net, float *params,
                     tf_stream_t purpose, int round, uint64_t variant, tf_err_t *err) {
  memset(params, 0, net->n_params * sizeof *params);
  for (int l = 0; l < net->n_layers; l++) {
    tf_rng_t rng;
    tf_rng_seed_variant(&rng, cfg->seed, purpose, (uint64_t)round, (uint64_t)l, variant);
    int fan_out = l < net->n_conv ? net->conv[l].fan_out : net->rows[l];
    int rc = tf_init_fill_kernel(params + net->w_off[l], net->rows[l], net->cols[l], fan_out,
                                 net->cols[l], &cfg->init, &rng, err);
    if (rc < 0) return rc;
  }
  return 0;
}

/* Images idx[0..count) of `images` (the dataset's training or test set) into the net's input,
 * normalized as data.normalize says, and their labels into t->y. */
static void gather(ticket_t *t, const tf_images_t *images, const int32_t *idx, int count) {
  tf_net_gather(&t->net, images, idx, count, t->y);
  if (!t->norm.active) return;
  const float *image_scale = images == &t->data->train ? t->norm.train_scale : t->norm.test_scale;
  tf_net_normalize(&t->net, idx, count, t->norm.scale, t->norm.shift, t->norm.channels,
                   image_scale);
}

void tf_ticket_epoch_order(const tf_config_t *cfg, int round, long epoch, const int32_t *train_idx,
                           int32_t n_train, int32_t *order) {
  const int order_round = cfg->order == TF_ORDER_FIXED ? 0 : round;
  memcpy(order, train_idx, (size_t)n_train * sizeof *order);
  tf_rng_t rng;
  tf_rng_seed(&rng, cfg->seed, TF_STREAM_ORDER, (uint64_t)epoch, (uint64_t)order_round);
  tf_rng_shuffle(&rng, order, (size_t)n_train);
}

/* The batch of training iteration `it` of round `round`: epochs are tf_ticket_epoch_order's
 * permutations cut into floor(n_train / batch) batches; the n_train mod batch images at the end
 * of an epoch's permutation are not used in that epoch (the next epoch's permutation puts
 * others there). */
static void gather_batch(ticket_t *t, int round, long it) {
  const int batch = t->cfg->batch;
  const long per_epoch = t->split.n_train / batch;
  const long epoch = it / per_epoch;
  const int order_round = t->cfg->order == TF_ORDER_FIXED ? 0 : round;
  if (epoch != t->order_epoch || order_round != t->order_round) {
    tf_ticket_epoch_order(t->cfg, round, epoch, t->split.train_idx, t->split.n_train, t->order);
    t->order_epoch = epoch;
    t->order_round = order_round;
  }
  const long pos = (it % per_epoch) * batch;
  gather(t, &t->data->train, t->order + pos, batch);
}

/* Mean loss and accuracy of the net over images idx[0..n) of `images`. */
static int evaluate(ticket_t *t, const tf_images_t *images, const int32_t *idx, int32_t n,
                    float *loss, float *acc) {
  double loss_sum = 0.0;
  long correct = 0;
  const int chunk = t->eval_chunk;
  for (int32_t i = 0; i < n; i += chunk) {
    int count = n - i < chunk ? (int)(n - i) : chunk;
    gather(t, images, idx + i, count);
    tf_net_eval_batch(&t->net, t->y, count, &loss_sum, &correct);
    int rc = sink_poll(t->poller);
    if (rc != 0) return rc;
  }
  *loss = n > 0 ? (float)(loss_sum / n) : NAN;
  *acc = n > 0 ? (float)((double)correct / n) : NAN;
  return 0;
}

/* Evaluates point j of the round's curve; `first` and `last` say whether it is the round's first
 * or last point. Under train.test_eval at_best the test set is evaluated only at the first point,
 * where the validation loss falls strictly below every earlier point of the round (so at every
 * candidate for the early-stopping point, which is the first lowest), and at the last point. */
static int eval_point(ticket_t *t, int j, float train_loss, int round, int first, int last,
                      tf_err_t *err) {
  tf_eval_t *e = &t->evals[j];
  e->iteration = (long)j * t->cfg->eval_every;
  e->train_loss = train_loss;
  int rc = evaluate(t, &t->data->train, t->split.val_idx, t->split.n_val, &e->val_loss, &e->val_acc);
  if (rc != 0) return rc;
  const int new_best = first || e->val_loss < t->best_val;
  if (new_best) t->best_val = e->val_loss;
  const int tested = t->cfg->test_eval == TF_TEST_EVAL_EVERY || new_best || last;
  e->test_loss = e->test_acc = NAN;
  if (tested)
    rc = evaluate(t, &t->data->test, t->test_idx, t->data->test.n, &e->test_loss, &e->test_acc);
  if (rc != 0) return rc;
  if ((t->split.n_val > 0 && !isfinite(e->val_loss)) || (tested && !isfinite(e->test_loss)))
    return tf_err_set(err, TF_EDIVERGED, "round %d, iteration %ld: evaluation loss is %g", round,
                      e->iteration, (double)(isfinite(e->val_loss) ? e->test_loss : e->val_loss));
  return 0;
}

/* Trains the net as it stands (params and mask already set) from iteration `start` up to `end`,
 * the learning rate following its schedule at each iteration (so a round rewound to k resumes
 * it at k), each layer on dense or sparse kernels as train.sparse_below and the mask decide, and leaves
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
    rc = eval_point(t, (int)(start / cfg->eval_every), NAN, round, 1, start == end, err);
    if (rc != 0) return rc;
  }
  double loss_sum = 0.0;
  long loss_count = 0;
  for (long it = start; it < end; it++) {
    gather_batch(t, round, it);
    tf_optim_schedule(&t->opt, it);
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
      rc = eval_point(t, (int)(done / cfg->eval_every), (float)(loss_sum / loss_count), round, 0,
                      done == end, err);
      if (rc != 0) return rc;
      loss_sum = 0.0;
      loss_count = 0;
    }
    if (done % POLL_EVERY == 0) {
      rc = sink_poll(t->poller);
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
    case TF_CONTROL_SIGN_REINIT:
    case TF_CONTROL_SPARSE_REINIT: {
      int rc = draw_init(cfg, net, params, TF_STREAM_REINIT, round, cfg->control_seed, err);
      if (rc < 0) return rc;
      memcpy(mask, ticket_mask, n * sizeof *mask);
      for (int l = 0; l < net->n_layers; l++) {
        float *w = params + net->w_off[l];
        const float *wk = theta_k + net->w_off[l];
        size_t count = tf_net_layer_weights(net, l);
        if (cfg->control == TF_CONTROL_SIGN_REINIT)
          for (size_t i = 0; i < count; i++) w[i] = copysignf(fabsf(w[i]), wk[i]);
        if (cfg->control == TF_CONTROL_SPARSE_REINIT) {
          const int fan_in = net->cols[l]; /* a convolution: in_c * k * k per output channel */
          const float *m = mask + net->w_off[l];
          for (int row = 0; row < net->rows[l]; row++) {
            const size_t o = (size_t)row * (size_t)fan_in;
            long surviving = 0;
            for (int c = 0; c < fan_in; c++) surviving += m[o + (size_t)c] != 0.0f;
            const double gain = tf_init_row_gain(&cfg->init, fan_in, surviving);
            for (int c = 0; c < fan_in; c++) w[o + (size_t)c] = (float)(gain * w[o + (size_t)c]);
          }
        }
        memcpy(params + net->b_off[l], theta_k + net->b_off[l],
               (size_t)net->rows[l] * sizeof *w);
      }
      break;
    }
    case TF_CONTROL_RANDOM_MASK: {
      long keep[TF_MAX_LAYERS];
      tf_prune_remaining(net, ticket_mask, keep);
      /* Nested: every round draws from round 1's stream, whose kept positions for a smaller
       * count are a subset of those for a larger one (tf_prune_random). */
      const int stream_round = cfg->random == TF_RANDOM_NESTED ? 1 : round;
      int rc = tf_prune_random(net, mask, keep, cfg->seed, stream_round, cfg->control_seed, err);
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

/* Hands round `round` of member m to its sink: trained under `mask` to `final`, next_mask the
 * ticket's mask for the next round (NULL after the last). */
static int report_round(ticket_t *t, const tf_family_member_t *m, int round, const float *mask,
                        const float *final, const float *next_mask, double wall_s) {
  const tf_config_t *cfg = t->cfg;
  const tf_net_t *net = &t->net;
  tf_round_t r = {0};
  r.round = round;
  r.n_layers = net->n_layers;
  tf_prune_remaining(net, mask, r.remaining);
  long kept = 0, total = 0;
  for (int l = 0; l < net->n_layers; l++) {
    r.total[l] = (long)tf_net_layer_weights(net, l);
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
  if (m->sink.round_done == NULL) return 0;
  return m->sink.round_done(m->sink.ctx, &r);
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
  tf_data_norm_free(&t->norm);
  free(t->test_idx);
  free(t->order);
  free(t->y);
  free(t->theta0);
  free(t->theta_k);
  free(t->ticket_final);
  free(t->ticket_mask);
  free(t->next_mask);
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
      cfg->n_hidden > TF_MAX_HIDDEN || cfg->n_conv < 0 || cfg->n_conv > TF_MAX_CONV)
    return tf_err_set(err, TF_EINPUT, "invalid task configuration: eval_every %d, iterations "
                      "%ld, rounds %d, %d hidden layers, %d model.conv entries", cfg->eval_every,
                      cfg->iterations, cfg->rounds, cfg->n_hidden, cfg->n_conv);
  shape->n_rounds = cfg->rounds + 1;
  shape->eval_every = cfg->eval_every;
  shape->n_evals = (int)(cfg->iterations / cfg->eval_every) + 1;
  int32_t c = 0, h = 0, w = 0;
  rc = tf_data_image(cfg->dataset, &c, &h, &w, err);
  if (rc < 0) return rc;
  tf_model_t model;
  tf_config_model(cfg, &model);
  tf_net_arch_t arch;
  rc = tf_net_arch(&arch, c, h, w, &model, shape->classes, err);
  if (rc < 0) return rc;
  shape->n_layers = arch.n_layers;
  shape->n_conv = arch.n_conv;
  for (int l = 0; l < shape->n_layers; l++) {
    shape->layer_size[l] = (int64_t)arch.rows[l] * arch.cols[l];
    shape->layer_rows[l] = arch.rows[l];
    shape->layer_cols[l] = arch.cols[l];
    /* A convolution applies every weight at each of its output pixels. */
    double uses = l < arch.n_conv ? (double)arch.conv[l].pixels : 1.0;
    shape->macs += (double)arch.rows[l] * (double)arch.cols[l] * uses;
  }
  shape->n_params = arch.n_params;
  shape->n_weights = arch.n_weights;
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
  int32_t c = 0, h = 0, w = 0;
  rc = tf_data_image(cfg->dataset, &c, &h, &w, err);
  if (rc < 0) return rc;
  tf_model_t model;
  tf_config_model(cfg, &model);
  t->eval_chunk = model.n_conv > 0 ? CONV_EVAL_CHUNK : EVAL_CHUNK;
  int max_batch = cfg->batch > t->eval_chunk ? cfg->batch : t->eval_chunk;
  rc = tf_net_create_model(&t->net, c, h, w, &model, classes, max_batch, err);
  if (rc < 0) return rc;
  rc = tf_optim_create(&t->opt, cfg, t->net.n_params, err);
  if (rc < 0) return rc;
  rc = tf_data_split(&t->split, data->train.n, cfg->validation, cfg->seed, err);
  if (rc < 0) return rc;
  rc = tf_data_norm_create(&t->norm, (int)cfg->normalize, c, &data->train, &data->test,
                           &t->split, err);
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
  t->next_mask = malloc(np * sizeof *t->next_mask);
  t->bits = malloc(tf_prune_packed_size(&t->net));
  t->next_bits = malloc(tf_prune_packed_size(&t->net));
  t->evals = malloc((size_t)t->n_evals * sizeof *t->evals);
  if (!t->test_idx || !t->order || !t->y || !t->theta0 || !t->theta_k ||
      !t->ticket_final || !t->ticket_mask || !t->next_mask || !t->bits ||
      !t->next_bits || !t->evals)
    return tf_err_set(err, TF_ENOMEM, "out of memory for a task of %zu parameters", np);
  for (int32_t i = 0; i < data->test.n; i++) t->test_idx[i] = i;
  return 0;
}

/* The ticket's mask for the round after `round`, pruned from its trained parameters into
 * t->next_mask; NULL after the last round. */
static const float *next_ticket_mask(ticket_t *t, int round, tf_err_t *err, int *rc) {
  const tf_config_t *cfg = t->cfg;
  *rc = 0;
  if (round == cfg->rounds) return NULL;
  memcpy(t->next_mask, t->ticket_mask, t->net.n_params * sizeof *t->next_mask);
  unsigned exclude = 0;
  for (int l = 0; l < t->net.n_layers; l++)
    if (tf_config_excluded(cfg, l, t->net.n_layers)) exclude |= 1u << l;
  if (cfg->scope == TF_SCOPE_GLOBAL) {
    *rc = tf_prune_magnitude(&t->net, t->ticket_final, t->next_mask, cfg->rate,
                             cfg->output_rate, cfg->scope, exclude, err);
  } else {
    double rates[TF_MAX_LAYERS];
    tf_prune_rates(&t->net, cfg->conv_rate, cfg->rate, cfg->output_rate, rates);
    *rc = tf_prune_magnitude_layers(&t->net, t->ticket_final, t->next_mask, rates, exclude,
                                    err);
  }
  return t->next_mask;
}

/* Whether member m reports round `round`. */
static int member_runs(const tf_family_member_t *m, int round) {
  return member_active(m) && m->start_round <= round;
}

/* A training error other than a divergence: the family's, as train_round set it. */
static int pass_error(tf_err_t *err, const tf_err_t *from, int rc) {
  if (err != NULL && rc < 0) *err = *from;
  return rc;
}

/* Member m fails with the divergence in err; the others go on. */
static void member_fail(tf_family_member_t *m, const tf_err_t *err) {
  m->outcome = TF_EDIVERGED;
  m->err = *err;
}

/* Training for member m begins (NULL: the trunk's, charged to the ticket member when it runs
 * `round`, else to the first member still running). */
static void begin_training(const ticket_t *t, const tf_family_member_t *m, int round) {
  for (int i = 0; m == NULL && i < t->n_members; i++)
    if (t->members[i].cfg.control == TF_CONTROL_TICKET && member_runs(&t->members[i], round))
      m = &t->members[i];
  for (int i = 0; m == NULL && i < t->n_members; i++)
    if (member_active(&t->members[i])) m = &t->members[i];
  if (m != NULL && m->sink.training != NULL) m->sink.training(m->sink.ctx);
}

/* The family's first round: the lowest start of a member still to run; rounds + 1 if none. */
static int family_first_round(const ticket_t *t) {
  int first = t->cfg->rounds + 1;
  for (int i = 0; i < t->n_members; i++)
    if (member_active(&t->members[i]) && t->members[i].start_round < first)
      first = t->members[i].start_round;
  return first;
}

/* Round 0, the dense network every member shares: trained once with its curve, reported to
 * every member that starts there. A divergence fails them all. */
static int family_round0(ticket_t *t, tf_err_t *err) {
  tf_net_t *net = &t->net;
  const size_t np = net->n_params;
  double t0 = tf__clock_now();
  clear_evals(t);
  begin_training(t, NULL, 0);
  tf_err_t diverged = {0};
  int rc = train_round(t, 0, 0, t->cfg->iterations, 1, &diverged);
  if (rc == TF_EDIVERGED) {
    for (int i = 0; i < t->n_members; i++)
      if (member_active(&t->members[i])) member_fail(&t->members[i], &diverged);
    return 0;
  }
  if (rc != 0) return pass_error(err, &diverged, rc);
  memcpy(t->ticket_final, net->params, np * sizeof *net->params);
  memcpy(t->ticket_mask, net->mask, np * sizeof *net->mask);
  const float *next = next_ticket_mask(t, 0, err, &rc);
  if (rc < 0) return rc;
  const double wall = tf__clock_now() - t0;
  for (int i = 0; i < t->n_members; i++) {
    if (!member_runs(&t->members[i], 0)) continue;
    rc = report_round(t, &t->members[i], 0, net->mask, net->params, next, wall);
    if (rc != 0) return rc;
  }
  if (next != NULL) memcpy(t->ticket_mask, next, np * sizeof *t->ticket_mask);
  return 0;
}

/* Round `round` >= 1 of the trunk: the ticket trains on its mask from theta_k (with its curve when
 * a ticket member reports the round), its next mask is pruned, and the ticket member gets the
 * round. Needed before the last round by every branch (for the next mask), in the last round
 * only by a ticket member. A divergence fails the ticket member, and before the last round every
 * member (their next masks are lost). Sets *ticket_wall. */
static int trunk_round(ticket_t *t, int round, const float **next, double *ticket_wall,
                       tf_err_t *err) {
  tf_net_t *net = &t->net;
  const size_t np = net->n_params;
  tf_family_member_t *ticket = NULL;
  for (int i = 0; i < t->n_members; i++)
    if (t->members[i].cfg.control == TF_CONTROL_TICKET && member_runs(&t->members[i], round))
      ticket = &t->members[i];
  *next = NULL;
  *ticket_wall = 0.0;
  if (round == t->cfg->rounds && ticket == NULL) return 0;
  double t0 = tf__clock_now();
  int rc = tf_ticket_control(t->cfg, net, t->theta_k, t->ticket_mask, round, net->params,
                             net->mask, err);
  if (rc < 0) return rc;
  clear_evals(t);
  begin_training(t, ticket, round);
  tf_err_t diverged = {0};
  rc = train_round(t, round, t->cfg->rewind, t->cfg->iterations, ticket != NULL, &diverged);
  if (rc == TF_EDIVERGED) {
    for (int i = 0; i < t->n_members; i++)
      if (member_active(&t->members[i]) &&
          (round < t->cfg->rounds || &t->members[i] == ticket))
        member_fail(&t->members[i], &diverged);
    return 0;
  }
  if (rc != 0) return pass_error(err, &diverged, rc);
  memcpy(t->ticket_final, net->params, np * sizeof *net->params);
  *next = next_ticket_mask(t, round, err, &rc);
  if (rc < 0) return rc;
  *ticket_wall = tf__clock_now() - t0;
  if (ticket == NULL) return 0;
  return report_round(t, ticket, round, t->ticket_mask, t->ticket_final, *next, *ticket_wall);
}

/* Round `round` >= 1 of branch m (a control): its start from theta_k and the ticket's mask,
 * trained with its curve and reported with the ticket's next mask. A divergence fails m only. */
static int branch_round(ticket_t *t, tf_family_member_t *m, int round, const float *next,
                        tf_err_t *err) {
  tf_net_t *net = &t->net;
  double t0 = tf__clock_now();
  int rc = tf_ticket_control(&m->cfg, net, t->theta_k, t->ticket_mask, round, net->params,
                             net->mask, err);
  if (rc < 0) return rc;
  clear_evals(t);
  begin_training(t, m, round);
  tf_err_t diverged = {0};
  rc = train_round(t, round, t->cfg->rewind, t->cfg->iterations, 1, &diverged);
  if (rc == TF_EDIVERGED) {
    member_fail(m, &diverged);
    return 0;
  }
  if (rc != 0) return pass_error(err, &diverged, rc);
  return report_round(t, m, round, net->mask, net->params, next, tf__clock_now() - t0);
}

static int family_rounds(ticket_t *t, const uint8_t *mask_bits, tf_err_t *err) {
  const tf_config_t *cfg = t->cfg;
  tf_net_t *net = &t->net;
  const size_t np = net->n_params;
  const int first = family_first_round(t);
  if (first > cfg->rounds) return 0;

  int rc = draw_init(cfg, net, t->theta0, TF_STREAM_INIT, 0, 0, err);
  if (rc < 0) return rc;
  rc = snapshot(t, TF_SNAPSHOT_INIT, t->theta0);
  if (rc != 0) return rc;
  memcpy(net->params, t->theta0, np * sizeof *net->params);
  for (size_t i = 0; i < np; i++) net->mask[i] = 1.0f;

  if (first == 0) {
    rc = family_round0(t, err);
    if (rc != 0) return rc;
  } else {
    /* Resuming: theta_k is round 0's state at iteration k, recomputed bit for bit. */
    begin_training(t, NULL, 0);
    tf_err_t diverged = {0};
    rc = train_round(t, 0, 0, cfg->rewind, 0, &diverged);
    if (rc == TF_EDIVERGED) {
      for (int i = 0; i < t->n_members; i++)
        if (member_active(&t->members[i])) member_fail(&t->members[i], &diverged);
      return 0;
    }
    if (rc != 0) return pass_error(err, &diverged, rc);
    tf_prune_unpack(net, mask_bits, t->ticket_mask);
  }

  for (int round = first > 1 ? first : 1; round <= cfg->rounds; round++) {
    if (family_first_round(t) > cfg->rounds) break; /* every member failed */
    const float *next = NULL;
    double ticket_wall = 0.0;
    rc = trunk_round(t, round, &next, &ticket_wall, err);
    if (rc != 0) return rc;
    for (int i = 0; i < t->n_members; i++) {
      tf_family_member_t *m = &t->members[i];
      if (m->cfg.control == TF_CONTROL_TICKET || !member_runs(m, round)) continue;
      rc = branch_round(t, m, round, next, err);
      if (rc != 0) return rc;
    }
    if (next != NULL) memcpy(t->ticket_mask, next, np * sizeof *t->ticket_mask);
  }
  return 0;
}

/* TF_EINPUT unless every member is the same task apart from the branch keys, with a start
 * round in 0 .. rounds + 1 and the mask its first round needs. */
static int family_check(const tf_family_member_t *members, int n, const uint8_t *mask_bits,
                        tf_config_t *trunk, tf_err_t *err) {
  if (n < 1) return tf_err_set(err, TF_EINPUT, "a family needs a member");
  *trunk = members[0].cfg;
  trunk->control = TF_CONTROL_TICKET;
  trunk->control_seed = 0;
  int first = trunk->rounds + 1;
  for (int i = 0; i < n; i++) {
    tf_config_t as_trunk = members[i].cfg;
    as_trunk.control = TF_CONTROL_TICKET;
    as_trunk.control_seed = 0;
    char why[256] = "";
    if (tf_config_diff(trunk, &as_trunk, why, sizeof why))
      return tf_err_set(err, TF_EINPUT, "family member %d differs from member 0 beyond the "
                        "branch keys (%s)", i, why);
    const int start = members[i].start_round;
    if (start < 0 || start > trunk->rounds + 1)
      return tf_err_set(err, TF_EINPUT, "cannot start a task of %d rounds at round %d",
                        trunk->rounds + 1, start);
    if (start < first) first = start;
  }
  if (first > 0 && first <= trunk->rounds && mask_bits == NULL)
    return tf_err_set(err, TF_EINPUT, "cannot start a family at round %d without its mask", first);
  return 0;
}

int tf_ticket_run_family(tf_family_member_t *members, int n, const tf_dataset_t *data,
                         const uint8_t *mask_bits, tf_err_t *err) {
  tf_config_t trunk;
  int rc = family_check(members, n, mask_bits, &trunk, err);
  if (rc < 0) return rc;
  ticket_t t = {.cfg = &trunk, .data = data, .members = members, .n_members = n};
  for (int i = 0; i < n; i++) {
    members[i].outcome = 0;
    members[i].err = (tf_err_t){0};
    if (t.poller == NULL && members[i].sink.poll != NULL) t.poller = &members[i].sink;
  }
  rc = ticket_setup(&t, err);
  if (rc == 0) rc = family_rounds(&t, mask_bits, err);
  if (rc > 0) rc = tf_err_set(err, TF_EINTERRUPTED, "task interrupted");
  ticket_free(&t);
  return rc;
}

int tf_ticket_run(const tf_config_t *cfg, const tf_dataset_t *data, const tf_ticket_start_t *start,
                  const tf_ticket_sink_t *sink, tf_err_t *err) {
  tf_family_member_t one = {.cfg = *cfg, .start_round = start != NULL ? start->round : 0};
  if (sink != NULL) one.sink = *sink;
  if (one.start_round > cfg->rounds)
    return tf_err_set(err, TF_EINPUT, "cannot start a task of %d rounds at round %d",
                      cfg->rounds + 1, one.start_round);
  int rc = tf_ticket_run_family(&one, 1, data, start != NULL ? start->mask_bits : NULL, err);
  if (rc == 0 && one.outcome != 0) {
    if (err != NULL) *err = one.err;
    rc = one.outcome;
  }
  return rc;
}
