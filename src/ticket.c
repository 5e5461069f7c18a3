/* The training primitives of a task: one net on one dataset, its batches, evaluation, a round's
 * training with its curve, the controls' starting points, the next mask, a task's shape and the
 * instability analysis's linear path. ticket_family.c runs the rounds of a family with them. */
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

static int sink_poll(const tf_ticket_sink_t *sink) {
  return sink != NULL && sink->poll != NULL ? sink->poll(sink->ctx) : 0;
}

/* Weights of every layer from the initialiser, each layer from its own stream (purpose, round,
  * layer; variant), biases zero; a convolution's fans are in_c * k * k and out_c * k * k. */
int tf__ticket_draw_init(const tf_config_t *cfg, const tf_net_t *net, float *params,
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

/* The round word of copy `copy`'s order in round `round`: 0 for a round's own training under
 * data.order fixed, else the round (a second copy's noise is its own in every round). */
static int order_word(const tf_config_t *cfg, int round, int copy) {
  return cfg->order == TF_ORDER_FIXED && copy == 0 ? 0 : round;
}

/* Epoch `epoch`'s permutation in copy `copy` of round `round`: stream (seed, epoch, round word;
 * copy), copy 0 being tf_ticket_epoch_order's. */
static void epoch_order(const tf_config_t *cfg, int round, long epoch, int copy,
                        const int32_t *train_idx, int32_t n_train, int32_t *order) {
  memcpy(order, train_idx, (size_t)n_train * sizeof *order);
  tf_rng_t rng;
  tf_rng_seed_variant(&rng, cfg->seed, TF_STREAM_ORDER, (uint64_t)epoch,
                      (uint64_t)order_word(cfg, round, copy), (uint64_t)copy);
  tf_rng_shuffle(&rng, order, (size_t)n_train);
}

void tf_ticket_epoch_order(const tf_config_t *cfg, int round, long epoch, const int32_t *train_idx,
                           int32_t n_train, int32_t *order) {
  epoch_order(cfg, round, epoch, 0, train_idx, n_train, order);
}

/* The batch of training iteration `it` of round `round`: epochs are tf_ticket_epoch_order's
 * permutations cut into floor(n_train / batch) batches; the n_train mod batch images at the end
 * of an epoch's permutation are not used in that epoch (the next epoch's permutation puts
 * others there). */
static void gather_batch(ticket_t *t, int round, long it) {
  const int batch = t->cfg->batch;
  const long per_epoch = t->split.n_train / batch;
  const long epoch = it / per_epoch;
  const int order_round = order_word(t->cfg, round, t->copy);
  if (epoch != t->order_epoch || order_round != t->order_round || t->copy != t->order_copy) {
    epoch_order(t->cfg, round, epoch, t->copy, t->split.train_idx, t->split.n_train, t->order);
    t->order_epoch = epoch;
    t->order_round = order_round;
    t->order_copy = t->copy;
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
 * ..]. In round 0 (not in a second copy), copies the parameters at the rewind iteration into
 * theta_k. */
int tf__ticket_train_round(ticket_t *t, int round, long start, long end, int evaluate_curve,
                           tf_err_t *err) {
  const tf_config_t *cfg = t->cfg;
  tf_net_t *net = &t->net;
  tf_optim_reset(&t->opt);
  int rc = tf_net_plan(net, cfg->sparse_below, err);
  if (rc < 0) return rc;
  const int keep_rewind = round == 0 && !t->second;
  if (keep_rewind && cfg->rewind == 0)
    memcpy(t->theta_k, net->params, net->n_params * sizeof *net->params);
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
    if (keep_rewind && done == cfg->rewind) {
      tf_net_sync(net);
      memcpy(t->theta_k, net->params, net->n_params * sizeof *net->params);
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

int tf__ticket_early_stop(const ticket_t *t, int first) {
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
      int rc = tf__ticket_draw_init(cfg, net, params, TF_STREAM_REINIT, round, cfg->control_seed, err);
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

void tf__ticket_clear_evals(ticket_t *t) {
  for (int j = 0; j < t->n_evals; j++) {
    t->evals[j] = (tf_eval_t){.iteration = (long)j * t->cfg->eval_every,
                              .train_loss = NAN, .val_loss = NAN, .val_acc = NAN,
                              .test_loss = NAN, .test_acc = NAN};
  }
}

void tf__ticket_free(ticket_t *t) {
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
  free(t->branch_final);
  free(t->start);
  free(t->copy2);
  free(t->path_errors);
}

int tf_ticket_shape(const tf_config_t *cfg, tf_ticket_shape_t *shape, tf_err_t *err) {
  memset(shape, 0, sizeof *shape);
  int rc = tf_data_shape(cfg->dataset, &shape->n_train, &shape->n_test, &shape->input_dim,
                         &shape->classes, err);
  if (rc < 0) return rc;
  int32_t src_classes = shape->classes, src_dim = shape->input_dim;
  if (tf_config_transfer(cfg)) {
    /* A transfer's rounds train and evaluate on the target, with its output layer. */
    rc = tf_data_shape(tf_config_target(cfg), &shape->n_train, &shape->n_test, &shape->input_dim,
                       &shape->classes, err);
    if (rc < 0) return rc;
    if (shape->input_dim != src_dim)
      return tf_err_set(err, TF_EINPUT, "transfer.dataset %s has %d-pixel images, data.dataset "
                        "%s %d", tf_config_target(cfg), (int)shape->input_dim, cfg->dataset,
                        (int)src_dim);
  }
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
  rc = tf_net_arch(&arch, c, h, w, &model, src_classes, err);
  if (rc < 0) return rc;
  shape->trunk_mask_bytes = (arch.n_weights + 7) / 8;
  if (shape->classes != src_classes) rc = tf_net_arch(&arch, c, h, w, &model, shape->classes, err);
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

int tf__ticket_setup(ticket_t *t, int any_classes, int path_points, tf_err_t *err) {
  const tf_config_t *cfg = t->cfg;
  const tf_dataset_t *data = t->data;
  tf_ticket_shape_t shape;
  int rc = tf_ticket_shape(cfg, &shape, err);
  if (rc < 0) return rc;
  const int32_t dim = shape.input_dim, classes = any_classes ? data->classes : shape.classes;
  if (data->train.dim != dim || data->test.dim != dim || data->classes != classes || classes < 1)
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
  if (path_points > 0) {
    t->start = malloc(np * sizeof *t->start);
    t->copy2 = malloc(np * sizeof *t->copy2);
    t->branch_final = malloc(np * sizeof *t->branch_final);
    t->path_errors = malloc((size_t)path_points * sizeof *t->path_errors);
    t->path_max = path_points;
    if (!t->start || !t->copy2 || !t->branch_final || !t->path_errors)
      return tf_err_set(err, TF_ENOMEM, "out of memory for an instability analysis of %zu "
                        "parameters", np);
  }
  return 0;
}

int tf__ticket_path(ticket_t *t, int round, const float *w1, const float *start,
                    const float *mask, int n, int copy, float *instability, tf_err_t *err) {
  tf_net_t *net = &t->net;
  const size_t np = net->n_params;
  if (n < 2 || n > t->path_max)
    return tf_err_set(err, TF_EINPUT, "an instability analysis of %d points (room for %d)", n,
                      t->path_max);
  if (mask != net->mask) memcpy(net->mask, mask, np * sizeof *net->mask);
  for (size_t j = 0; j < np; j++) net->params[j] = start[j] * mask[j];
  t->copy = copy;
  t->second = 1;
  int rc = tf__ticket_train_round(t, round, t->cfg->rewind, t->cfg->iterations, 0, err);
  t->copy = 0;
  t->second = 0;
  if (rc != 0) return rc;
  memcpy(t->copy2, net->params, np * sizeof *t->copy2);
  float worst = -INFINITY;
  for (int i = 0; i < n; i++) {
    /* In double, rounded once: alpha 0 and 1 give w1 and w2 exactly. */
    const double alpha = (double)i / (double)(n - 1);
    for (size_t j = 0; j < np; j++)
      net->params[j] =
          (float)((1.0 - alpha) * (double)w1[j] + alpha * (double)t->copy2[j]) * mask[j];
    rc = tf_net_plan(net, t->cfg->sparse_below, err);
    if (rc < 0) return rc;
    float loss = NAN, acc = NAN;
    rc = evaluate(t, &t->data->test, t->test_idx, t->data->test.n, &loss, &acc);
    if (rc != 0) return rc;
    t->path_errors[i] = 1.0f - acc;
    if (t->path_errors[i] > worst) worst = t->path_errors[i];
  }
  *instability = worst - 0.5f * (t->path_errors[0] + t->path_errors[n - 1]);
  return 0;
}

const float *tf__ticket_next_mask(ticket_t *t, int round, tf_err_t *err, int *rc) {
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

