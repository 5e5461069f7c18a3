/* Tests of the prune-and-rewind pipeline on MNIST: accuracy, exact counts, zeros that stay zero,
 * exact rewinding, controls on the ticket's masks, bitwise reproducibility, and sparse rounds
 * against dense ones. */
#include <stdint.h>

#include "test.h"
#include "ticketfarm/data.h"
#include "ticketfarm/init.h"
#include "ticketfarm/prune.h"
#include "ticketfarm/rng.h"
#include "ticketfarm/ticket.h"

#include "../src/ticket_internal.h"

#define MAX_ROUNDS 8

/* Everything a run hands to its sink, copied. */
typedef struct record {
  size_t n_params;
  float *init, *rewind;
  int first_round, n_rounds;
  tf_round_t round[MAX_ROUNDS];
  tf_eval_t *evals[MAX_ROUNDS];
  uint8_t *mask[MAX_ROUNDS];
  uint8_t *next_mask[MAX_ROUNDS];
  float *final[MAX_ROUNDS];
  float *path[MAX_ROUNDS]; /* the instability analysis's path errors, NULL without */
} record_t;

static void *dup_mem(const void *p, size_t n) {
  void *q = malloc(n);
  ASSERT(q != NULL);
  memcpy(q, p, n);
  return q;
}

static int on_snapshot(void *ctx, tf_snapshot_t which, const float *params, size_t n) {
  record_t *r = ctx;
  r->n_params = n;
  float *copy = dup_mem(params, n * sizeof *params);
  if (which == TF_SNAPSHOT_INIT)
    r->init = copy;
  else
    r->rewind = copy;
  return 0;
}

static int on_round(void *ctx, const tf_round_t *round) {
  record_t *r = ctx;
  int k = round->round;
  ASSERT(k < MAX_ROUNDS);
  ASSERT_INT_EQ(k, r->first_round + r->n_rounds);
  r->round[k] = *round;
  r->evals[k] = dup_mem(round->evals, (size_t)round->n_evals * sizeof *round->evals);
  r->mask[k] = dup_mem(round->mask_bits, round->mask_bytes);
  size_t next_bytes = round->next_mask_bytes > 0 ? round->next_mask_bytes : round->mask_bytes;
  r->next_mask[k] = round->next_mask_bits ? dup_mem(round->next_mask_bits, next_bytes) : NULL;
  r->path[k] = round->n_path > 0 ? dup_mem(round->path_errors, (size_t)round->n_path * sizeof(float))
                                 : NULL;
  r->final[k] = dup_mem(round->final, round->n_params * sizeof *round->final);
  r->n_rounds++;
  return 0;
}

static void record_free(record_t *r) {
  free(r->init);
  free(r->rewind);
  for (int k = r->first_round; k < r->first_round + r->n_rounds; k++) {
    free(r->evals[k]);
    free(r->mask[k]);
    free(r->next_mask[k]);
    free(r->final[k]);
    free(r->path[k]);
  }
  memset(r, 0, sizeof *r);
}

static tf_dataset_t mnist;
static tf_dataset_t fashion;
/* The target run_family hands its transfer members. */
static const tf_dataset_t *transfer_target = &fashion;

static void run_from(const tf_config_t *cfg, const tf_ticket_start_t *start, record_t *r) {
  memset(r, 0, sizeof *r);
  r->first_round = start != NULL ? start->round : 0;
  tf_ticket_sink_t sink = {.ctx = r, .snapshot = on_snapshot, .round_done = on_round};
  tf_err_t err = {0};
  int rc = tf_ticket_run(cfg, &mnist, start, &sink, &err);
  if (rc != 0) fprintf(stderr, "tf_ticket_run: %s\n", err.msg);
  ASSERT_INT_EQ(rc, 0);
  ASSERT_INT_EQ(r->first_round + r->n_rounds, cfg->rounds + 1);
}

static void run(const tf_config_t *cfg, record_t *r) { run_from(cfg, NULL, r); }

/* A short LeNet-300-100 schedule: full-size net, few iterations. */
static tf_config_t short_config(void) {
  tf_config_t cfg;
  tf_config_default(&cfg);
  cfg.iterations = 60;
  cfg.eval_every = 30;
  cfg.rounds = 3;
  cfg.validation = 1000;
  return cfg;
}

/* A smaller net for the tests that do not need LeNet's exact counts. */
static tf_config_t small_config(void) {
  tf_config_t cfg = short_config();
  cfg.hidden[0] = 64;
  cfg.hidden[1] = 32;
  return cfg;
}

static void test_ticket_dense_lenet_reaches_96_percent_after_1000_iterations(void) {
  tf_config_t cfg;
  tf_config_default(&cfg);
  cfg.iterations = 1000;
  cfg.eval_every = 500;
  cfg.rounds = 0;
  record_t r;
  run(&cfg, &r);
  const tf_eval_t *last = &r.evals[0][2];
  ASSERT_INT_EQ(last->iteration, 1000);
  fprintf(stderr, "      dense LeNet-300-100, 1000 iterations: test accuracy %.4f, val %.4f\n",
          last->test_acc, last->val_acc);
  ASSERT(last->test_acc >= 0.96f);
  ASSERT(last->val_acc >= 0.95f);
  /* The untrained net guesses: about 10%. */
  ASSERT(r.evals[0][0].test_acc < 0.3f);
  ASSERT(isnan(r.evals[0][0].train_loss));
  ASSERT(r.evals[0][2].train_loss < r.evals[0][1].train_loss);
  record_free(&r);
}

static void test_ticket_layerwise_rounds_keep_exact_counts(void) {
  tf_config_t cfg = short_config();
  cfg.eval_every = 60;
  record_t r;
  run(&cfg, &r);
  const long expect[4][3] = {{235200, 30000, 1000},
                             {188160, 24000, 900},
                             {150528, 19200, 810},
                             {150528 - tf_prune_count(150528, 0.2), 19200 - tf_prune_count(19200, 0.2),
                              810 - tf_prune_count(810, 0.1)}};
  ASSERT_INT_EQ(expect[3][0], 120422);
  for (int k = 0; k <= cfg.rounds; k++) {
    ASSERT_INT_EQ(r.round[k].n_layers, 3);
    long kept = 0;
    for (int l = 0; l < 3; l++) {
      ASSERT_INT_EQ(r.round[k].remaining[l], expect[k][l]);
      kept += expect[k][l];
    }
    ASSERT_NEAR(r.round[k].density, kept / 266200.0, 1e-12);
  }
  record_free(&r);
}

/* Counts set bits of packed masks and checks that every pruned weight of `final` is 0. */
static void check_pruned_zero(const tf_config_t *cfg, const record_t *r) {
  tf_net_t net;
  ASSERT_INT_EQ(tf_net_create(&net, 784, cfg->hidden, cfg->n_hidden, 10, 1, NULL), 0);
  const long n_weights = (long)net.n_weights;
  float *mask = malloc(net.n_params * sizeof *mask);
  for (int k = 0; k <= cfg->rounds; k++) {
    tf_prune_unpack(&net, r->mask[k], mask);
    long zeros = 0, kept = 0;
    for (size_t i = 0; i < net.n_params; i++) {
      if (mask[i] == 0.0f) {
        ASSERT(r->final[k][i] == 0.0f);
        zeros++;
      } else {
        kept += r->final[k][i] != 0.0f;
      }
    }
    ASSERT_INT_EQ(zeros, n_weights - (long)(r->round[k].density * n_weights + 0.5));
    ASSERT(kept > (long)net.n_params - zeros - 100); /* survivors really train */
  }
  free(mask);
  tf_net_free(&net);
}

static void test_ticket_pruned_weights_stay_zero_under_every_optimiser(void) {
  const tf_optimizer_kind_t kinds[] = {TF_OPT_SGD, TF_OPT_MOMENTUM, TF_OPT_ADAM};
  for (int i = 0; i < 3; i++) {
    tf_config_t cfg = small_config();
    cfg.optimizer = kinds[i];
    cfg.lr = kinds[i] == TF_OPT_ADAM ? 1.2e-3 : 0.05;
    cfg.rounds = 2;
    for (int c = 0; c < TF_CONTROL_COUNT; c++) {
      cfg.control = (tf_control_t)c;
      record_t r;
      run(&cfg, &r);
      check_pruned_zero(&cfg, &r);
      record_free(&r);
    }
  }
}

/* Weight decay (with Nesterov momentum and a schedule) keeps pruned weights exactly zero in
 * every round of a task under every optimiser. */
static void test_ticket_weight_decay_keeps_pruned_weights_zero_under_every_optimiser(void) {
  const tf_optimizer_kind_t kinds[] = {TF_OPT_SGD, TF_OPT_MOMENTUM, TF_OPT_ADAM};
  for (int i = 0; i < 3; i++) {
    tf_config_t cfg = small_config();
    cfg.optimizer = kinds[i];
    cfg.lr = kinds[i] == TF_OPT_ADAM ? 1.2e-3 : 0.05;
    cfg.rounds = 2;
    cfg.weight_decay = 1e-2;
    cfg.nesterov = 1;
    cfg.warmup = 10;
    cfg.n_milestones = 1;
    cfg.milestones[0] = 40;
    record_t r;
    run(&cfg, &r);
    check_pruned_zero(&cfg, &r);
    record_free(&r);
  }
}

/* The learning rate follows the iteration, and a round rewound to k resumes the schedule at k:
 * with a milestone at k = 30 and gamma = 1e-30 every step from iteration 30 on is far below a
 * weight's rounding, so round 0's weights stop moving at 30 (equal validation losses at 30 and
 * 60) and round 1, which trains from iteration 30, ends on theta_k under its mask (within
 * 1e-20: a zero bias may move by 1e-34); had it restarted the schedule at 0, its first 30 steps
 * would run at the full rate. */
static void test_ticket_rewound_round_resumes_the_schedule_at_k(void) {
  tf_config_t cfg = small_config();
  cfg.optimizer = TF_OPT_SGD;
  cfg.lr = 0.05;
  cfg.rewind = 30;
  cfg.rounds = 1;
  cfg.n_milestones = 1;
  cfg.milestones[0] = 30;
  cfg.gamma = 1e-30;
  record_t r;
  run(&cfg, &r);
  ASSERT(memcmp(r.init, r.rewind, r.n_params * sizeof(float)) != 0);
  ASSERT(r.evals[0][1].val_loss == r.evals[0][2].val_loss);
  ASSERT(r.evals[0][0].val_loss != r.evals[0][1].val_loss);
  tf_net_t net;
  ASSERT_INT_EQ(tf_net_create(&net, 784, cfg.hidden, cfg.n_hidden, 10, 1, NULL), 0);
  float *mask = malloc(net.n_params * sizeof *mask);
  tf_prune_unpack(&net, r.mask[1], mask);
  for (size_t i = 0; i < net.n_params; i++)
    ASSERT_NEAR(r.final[1][i], r.rewind[i] * mask[i], 1e-20);
  ASSERT(r.evals[1][1].val_loss == r.evals[1][2].val_loss);
  free(mask);
  tf_net_free(&net);
  record_free(&r);
}

/* data.normalize reaches the task: standardize and l2 train on other inputs than unit (other
 * curves from the same weights and batches) and still learn (test accuracy well above chance
 * after 60 iterations). */
static void test_ticket_normalized_inputs_change_the_curves_and_train(void) {
  tf_config_t cfg = small_config();
  cfg.rounds = 0;
  record_t unit;
  run(&cfg, &unit);
  const tf_normalize_t kinds[2] = {TF_NORMALIZE_STANDARDIZE, TF_NORMALIZE_L2};
  for (int k = 0; k < 2; k++) {
    cfg.normalize = kinds[k];
    record_t r;
    run(&cfg, &r);
    ASSERT(memcmp(r.init, unit.init, r.n_params * sizeof(float)) == 0);
    ASSERT(r.evals[0][0].val_loss != unit.evals[0][0].val_loss);
    ASSERT(r.evals[0][2].test_acc > 0.5f);
    fprintf(stderr, "      %s: test accuracy %.4f after 60 iterations (unit %.4f)\n",
            tf_config_normalize_name(kinds[k]), r.evals[0][2].test_acc, unit.evals[0][2].test_acc);
    record_free(&r);
  }
  record_free(&unit);
}

static void test_ticket_control_params_follow_their_definitions(void) {
  tf_config_t cfg;
  tf_config_default(&cfg);
  tf_net_t net;
  ASSERT_INT_EQ(tf_net_create(&net, 784, cfg.hidden, cfg.n_hidden, 10, 1, NULL), 0);
  const size_t n = net.n_params;
  float *theta = malloc(n * sizeof *theta), *tmask = malloc(n * sizeof *tmask);
  float *p[TF_CONTROL_COUNT], *m[TF_CONTROL_COUNT];
  /* theta: an initialisation with non-zero biases, so bias handling is visible */
  for (int l = 0; l < net.n_layers; l++) {
    tf_rng_t rng;
    tf_rng_seed(&rng, 99, TF_STREAM_INIT, 0, (uint64_t)l);
    ASSERT_INT_EQ(tf_init_fill(theta + net.w_off[l], net.sizes[l + 1], net.sizes[l], &cfg.init,
                               &rng, NULL), 0);
    for (int j = 0; j < net.sizes[l + 1]; j++) theta[net.b_off[l] + j] = 0.01f * (float)(j + 1);
  }
  for (size_t i = 0; i < n; i++) tmask[i] = 1.0f;
  ASSERT_INT_EQ(tf_prune_magnitude(&net, theta, tmask, 0.5, 0.5, TF_SCOPE_LAYERWISE, 0, NULL), 0);
  for (int c = 0; c < TF_CONTROL_COUNT; c++) {
    cfg.control = (tf_control_t)c;
    p[c] = malloc(n * sizeof *p[c]);
    m[c] = malloc(n * sizeof *m[c]);
    ASSERT_INT_EQ(tf_ticket_control(&cfg, &net, theta, tmask, 2, p[c], m[c], NULL), 0);
  }
  long kept_ticket[TF_MAX_LAYERS], kept_random[TF_MAX_LAYERS];
  tf_prune_remaining(&net, tmask, kept_ticket);
  tf_prune_remaining(&net, m[TF_CONTROL_RANDOM_MASK], kept_random);
  long moved = 0;
  for (size_t i = 0; i < n; i++) {
    /* ticket: the exact bits of theta where kept, exactly zero where pruned */
    ASSERT(m[TF_CONTROL_TICKET][i] == tmask[i]);
    if (tmask[i] != 0.0f)
      ASSERT(memcmp(&p[TF_CONTROL_TICKET][i], &theta[i], sizeof(float)) == 0);
    else
      ASSERT(p[TF_CONTROL_TICKET][i] == 0.0f);
    /* reinit and sign_reinit: the same mask; same magnitudes, sign_reinit with theta's signs */
    ASSERT(m[TF_CONTROL_REINIT][i] == tmask[i] && m[TF_CONTROL_SIGN_REINIT][i] == tmask[i]);
    ASSERT(fabsf(p[TF_CONTROL_REINIT][i]) == fabsf(p[TF_CONTROL_SIGN_REINIT][i]));
    if (tmask[i] != 0.0f && p[TF_CONTROL_SIGN_REINIT][i] != 0.0f)
      ASSERT((p[TF_CONTROL_SIGN_REINIT][i] > 0) == (theta[i] > 0));
    if (tmask[i] == 0.0f) ASSERT(p[TF_CONTROL_REINIT][i] == 0.0f);
    /* random_mask: theta's bits on its own mask */
    if (m[TF_CONTROL_RANDOM_MASK][i] != 0.0f)
      ASSERT(memcmp(&p[TF_CONTROL_RANDOM_MASK][i], &theta[i], sizeof(float)) == 0);
    else
      ASSERT(p[TF_CONTROL_RANDOM_MASK][i] == 0.0f);
    moved += m[TF_CONTROL_RANDOM_MASK][i] != tmask[i];
  }
  for (int l = 0; l < net.n_layers; l++) {
    ASSERT_INT_EQ(kept_random[l], kept_ticket[l]);
    /* biases are theta's in every control */
    for (int c = 0; c < TF_CONTROL_COUNT; c++)
      ASSERT(memcmp(p[c] + net.b_off[l], theta + net.b_off[l],
                    (size_t)net.sizes[l + 1] * sizeof(float)) == 0);
  }
  /* half the weights kept at random: about half of the positions differ from the ticket's */
  ASSERT(moved > 100000 && moved < 166000);
  /* reinit draws fresh weights: they are not theta's */
  long same = 0;
  for (size_t i = 0; i < net.b_off[0]; i++)
    same += tmask[i] != 0.0f && p[TF_CONTROL_REINIT][i] == theta[i];
  ASSERT(same < 10);
  for (int c = 0; c < TF_CONTROL_COUNT; c++) {
    free(p[c]);
    free(m[c]);
  }
  free(theta);
  free(tmask);
  tf_net_free(&net);
}

static void test_ticket_controls_share_round0_and_the_tickets_masks(void) {
  tf_config_t cfg = small_config();
  record_t r[TF_CONTROL_COUNT];
  for (int c = 0; c < TF_CONTROL_COUNT; c++) {
    cfg.control = (tf_control_t)c;
    run(&cfg, &r[c]);
  }
  const size_t np = r[0].n_params, nb = r[0].round[0].mask_bytes;
  for (int c = 1; c < TF_CONTROL_COUNT; c++) {
    /* the dense round is the same computation for every control */
    ASSERT(memcmp(r[c].final[0], r[0].final[0], np * sizeof(float)) == 0);
    ASSERT(memcmp(r[c].init, r[0].init, np * sizeof(float)) == 0);
    for (int k = 1; k <= cfg.rounds; k++) {
      int same_mask = memcmp(r[c].mask[k], r[0].mask[k], nb) == 0;
      /* reinit and sign_reinit train on exactly the ticket's mask; random_mask does not */
      ASSERT(same_mask == (c != TF_CONTROL_RANDOM_MASK));
      ASSERT(memcmp(r[c].final[k], r[0].final[k], np * sizeof(float)) != 0);
      for (int l = 0; l < 3; l++)
        ASSERT_INT_EQ(r[c].round[k].remaining[l], r[0].round[k].remaining[l]);
    }
  }
  for (int c = 0; c < TF_CONTROL_COUNT; c++) record_free(&r[c]);
}

static void test_ticket_same_config_gives_identical_bits(void) {
  tf_config_t cfg = small_config();
  cfg.control = TF_CONTROL_SIGN_REINIT;
  record_t a, b;
  run(&cfg, &a);
  run(&cfg, &b);
  for (int k = 0; k <= cfg.rounds; k++) {
    ASSERT(memcmp(a.final[k], b.final[k], a.n_params * sizeof(float)) == 0);
    for (int j = 0; j < a.round[k].n_evals; j++) {
      const tf_eval_t *x = &a.evals[k][j], *y = &b.evals[k][j];
      float fx[5] = {x->train_loss, x->val_loss, x->val_acc, x->test_loss, x->test_acc};
      float fy[5] = {y->train_loss, y->val_loss, y->val_acc, y->test_loss, y->test_acc};
      ASSERT(x->iteration == y->iteration && memcmp(fx, fy, sizeof fx) == 0);
    }
  }
  /* another seed changes everything */
  cfg.seed = 2;
  record_t c;
  run(&cfg, &c);
  ASSERT(memcmp(a.init, c.init, a.n_params * sizeof(float)) != 0);
  record_free(&a);
  record_free(&b);
  record_free(&c);
}

static void test_ticket_late_rewinding_resumes_at_iteration_k(void) {
  tf_config_t cfg = small_config();
  cfg.rewind = 30;
  cfg.rounds = 1;
  record_t r;
  run(&cfg, &r);
  ASSERT(r.init != NULL && r.rewind != NULL);
  ASSERT(memcmp(r.init, r.rewind, r.n_params * sizeof(float)) != 0);
  ASSERT_INT_EQ(r.round[1].first_eval, 1);
  ASSERT(isnan(r.evals[1][0].val_loss));
  ASSERT(!isnan(r.evals[1][1].val_loss));
  ASSERT(r.round[1].early_stop >= 1);
  /* rewinding to k = 0 hands out theta_0 itself as the rewind point */
  cfg.rewind = 0;
  record_t z;
  run(&cfg, &z);
  ASSERT(memcmp(z.init, z.rewind, z.n_params * sizeof(float)) == 0);
  ASSERT(memcmp(z.init, r.init, z.n_params * sizeof(float)) == 0);
  record_free(&r);
  record_free(&z);
}

static void test_ticket_early_stop_is_argmin_validation_loss(void) {
  tf_config_t cfg = small_config();
  cfg.iterations = 300;
  cfg.eval_every = 30;
  cfg.rounds = 1;
  record_t r;
  run(&cfg, &r);
  for (int k = 0; k <= cfg.rounds; k++) {
    const tf_round_t *rd = &r.round[k];
    ASSERT_INT_EQ(rd->n_evals, 11);
    for (int j = rd->first_eval; j < rd->n_evals; j++) {
      ASSERT(r.evals[k][rd->early_stop].val_loss <= r.evals[k][j].val_loss);
      if (j < rd->early_stop) ASSERT(r.evals[k][j].val_loss > r.evals[k][rd->early_stop].val_loss);
    }
  }
  record_free(&r);
}

/* train.test_eval at_best: the test set only where the validation loss reaches a new strict
 * minimum of the round and at its last point; every number the study reports (validation curve,
 * early-stopping point, test accuracy there and at the end, the trained weights) keeps its bits,
 * and the other test points are NaN. Late rewinding, so a round's curve starts after point 0. */
static void test_ticket_test_eval_at_best_keeps_reported_numbers_bit_identical(void) {
  tf_config_t cfg = small_config();
  cfg.iterations = 600;
  cfg.eval_every = 30;
  cfg.rewind = 60;
  cfg.rounds = 2;
  record_t every, best;
  run(&cfg, &every);
  cfg.test_eval = TF_TEST_EVAL_AT_BEST;
  run(&cfg, &best);
  int skipped = 0;
  for (int k = 0; k <= cfg.rounds; k++) {
    const tf_round_t *re = &every.round[k], *rb = &best.round[k];
    ASSERT_INT_EQ(rb->early_stop, re->early_stop);
    ASSERT(memcmp(every.final[k], best.final[k], every.n_params * sizeof(float)) == 0);
    const tf_eval_t *e = every.evals[k], *b = best.evals[k];
    float low = INFINITY;
    for (int j = rb->first_eval; j < rb->n_evals; j++) {
      ASSERT(memcmp(&e[j].val_loss, &b[j].val_loss, sizeof(float)) == 0);
      ASSERT(memcmp(&e[j].train_loss, &b[j].train_loss, sizeof(float)) == 0);
      const int tested = j == rb->first_eval || e[j].val_loss < low || j == rb->n_evals - 1;
      if (e[j].val_loss < low) low = e[j].val_loss;
      if (tested) {
        ASSERT(memcmp(&e[j].test_acc, &b[j].test_acc, sizeof(float)) == 0);
        ASSERT(memcmp(&e[j].test_loss, &b[j].test_loss, sizeof(float)) == 0);
      } else {
        ASSERT(isnan(b[j].test_acc) && isnan(b[j].test_loss) && !isnan(e[j].test_acc));
        skipped++;
      }
    }
    ASSERT(!isnan(b[rb->early_stop].test_acc));
  }
  /* The schedule overfits a small net, so some points after a minimum are not new minima. */
  ASSERT(skipped > 0);
  record_free(&every);
  record_free(&best);
}

static void check_same_round(const record_t *a, const record_t *b, int k) {
  ASSERT(memcmp(a->final[k], b->final[k], a->n_params * sizeof(float)) == 0);
  ASSERT(memcmp(a->mask[k], b->mask[k], a->round[k].mask_bytes) == 0);
  ASSERT((a->next_mask[k] == NULL) == (b->next_mask[k] == NULL));
  if (a->next_mask[k] != NULL)
    ASSERT(memcmp(a->next_mask[k], b->next_mask[k], a->round[k].mask_bytes) == 0);
  ASSERT_INT_EQ(a->round[k].early_stop, b->round[k].early_stop);
  for (int j = 0; j < a->round[k].n_evals; j++) {
    const tf_eval_t *x = &a->evals[k][j], *y = &b->evals[k][j];
    float fx[5] = {x->train_loss, x->val_loss, x->val_acc, x->test_loss, x->test_acc};
    float fy[5] = {y->train_loss, y->val_loss, y->val_acc, y->test_loss, y->test_acc};
    ASSERT(memcmp(fx, fy, sizeof fx) == 0);
  }
}

/* Resuming at every round gives the rounds of an uninterrupted run bit for bit, on dense
 * kernels and (the third case: every pruned layer sparse) on sparse ones. */
static void test_ticket_resumed_rounds_equal_uninterrupted_ones(void) {
  const tf_control_t controls[] = {TF_CONTROL_TICKET, TF_CONTROL_RANDOM_MASK,
                                   TF_CONTROL_SIGN_REINIT, TF_CONTROL_RANDOM_MASK,
                                   TF_CONTROL_SPARSE_REINIT};
  const long rewinds[] = {0, 30, 30, 30, 0};
  const double sparse_below[] = {0.0, TF_SPARSE_BELOW_DEFAULT, 1.0, TF_SPARSE_BELOW_DEFAULT,
                                 TF_SPARSE_BELOW_DEFAULT};
  const tf_prune_random_t random[] = {TF_RANDOM_INDEPENDENT, TF_RANDOM_INDEPENDENT,
                                      TF_RANDOM_INDEPENDENT, TF_RANDOM_NESTED,
                                      TF_RANDOM_INDEPENDENT};
  const uint64_t control_seed[] = {0, 0, 0, 2, 3};
  for (int c = 0; c < 5; c++) {
    tf_config_t cfg = small_config();
    cfg.control = controls[c];
    cfg.rewind = rewinds[c];
    cfg.sparse_below = sparse_below[c];
    cfg.random = random[c];
    cfg.control_seed = control_seed[c];
    record_t full;
    run(&cfg, &full);
    ASSERT(full.next_mask[cfg.rounds] == NULL);
    for (int s = 1; s <= cfg.rounds; s++) {
      tf_ticket_start_t start = {.round = s, .mask_bits = full.next_mask[s - 1]};
      record_t part;
      run_from(&cfg, &start, &part);
      ASSERT_INT_EQ(part.n_rounds, cfg.rounds + 1 - s);
      for (int k = s; k <= cfg.rounds; k++) check_same_round(&full, &part, k);
      /* the snapshots handed out again are the same bits */
      ASSERT(memcmp(part.init, full.init, full.n_params * sizeof(float)) == 0);
      ASSERT(memcmp(part.rewind, full.rewind, full.n_params * sizeof(float)) == 0);
      record_free(&part);
    }
    /* the ticket's next mask is what the next round trains (ticket) or copies counts of */
    for (int k = 0; k < cfg.rounds; k++) {
      if (cfg.control == TF_CONTROL_TICKET)
        ASSERT(memcmp(full.next_mask[k], full.mask[k + 1], full.round[k].mask_bytes) == 0);
    }
    record_free(&full);
  }
  /* a start outside the task is refused */
  tf_config_t cfg = small_config();
  tf_ticket_start_t bad = {.round = cfg.rounds + 1, .mask_bits = NULL};
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_ticket_run(&cfg, &mnist, &bad, NULL, &err), TF_EINPUT);
}

/* A family's members, each recorded into recs[i], from starts[i] (NULL: 0); mask_bits the
 * ticket's mask for the family's first round. */
static void run_family(const tf_config_t *cfgs, const int *starts, int n, const uint8_t *mask_bits,
                       record_t *recs) {
  tf_family_member_t mem[8];
  ASSERT(n <= 8);
  for (int i = 0; i < n; i++) {
    memset(&recs[i], 0, sizeof recs[i]);
    recs[i].first_round = starts != NULL ? starts[i] : 0;
    mem[i] = (tf_family_member_t){.cfg = cfgs[i], .start_round = recs[i].first_round,
                                  .sink = {.ctx = &recs[i], .snapshot = on_snapshot,
                                           .round_done = on_round}};
    if (tf_config_transfer(&cfgs[i])) mem[i].target = transfer_target;
  }
  tf_err_t err = {0};
  int rc = tf_ticket_run_family(mem, n, &mnist, mask_bits, &err);
  if (rc != 0) fprintf(stderr, "tf_ticket_run_family: %s\n", err.msg);
  ASSERT_INT_EQ(rc, 0);
  for (int i = 0; i < n; i++) {
    ASSERT_INT_EQ(mem[i].outcome, 0);
    ASSERT_INT_EQ(recs[i].first_round + recs[i].n_rounds,
                  recs[i].first_round > cfgs[i].rounds ? recs[i].first_round : cfgs[i].rounds + 1);
  }
}

/* A family (one trunk: the ticket trains once per round, each control on its mask) gives every
 * member the rows it gets alone, bit for bit: with the ticket among the members or without it,
 * with two control seeds of one control, with late rewinding and sparse rounds, as a family of
 * one; and members resuming at different rounds get the rows of the uninterrupted run. */
static void test_ticket_family_members_equal_their_tasks_run_alone(void) {
  const tf_control_t controls[] = {TF_CONTROL_TICKET, TF_CONTROL_REINIT, TF_CONTROL_SIGN_REINIT,
                                   TF_CONTROL_RANDOM_MASK, TF_CONTROL_REINIT};
  const uint64_t seeds[] = {0, 0, 0, 0, 2};
  enum { N = 5 };
  tf_config_t cfgs[N];
  record_t alone[N], fam[N];
  for (int i = 0; i < N; i++) {
    cfgs[i] = small_config();
    cfgs[i].rewind = 30;
    cfgs[i].control = controls[i];
    cfgs[i].control_seed = seeds[i];
    run(&cfgs[i], &alone[i]);
  }
  /* the five together, then the four without the ticket, then one control alone as a family */
  const int from[3] = {0, 1, 3}, count[3] = {N, N - 1, 1};
  for (int v = 0; v < 3; v++) {
    run_family(cfgs + from[v], NULL, count[v], NULL, fam);
    for (int i = 0; i < count[v]; i++) {
      const record_t *a = &alone[from[v] + i];
      for (int k = 0; k <= cfgs[0].rounds; k++) check_same_round(a, &fam[i], k);
      ASSERT(memcmp(fam[i].init, a->init, a->n_params * sizeof(float)) == 0);
      ASSERT(memcmp(fam[i].rewind, a->rewind, a->n_params * sizeof(float)) == 0);
      record_free(&fam[i]);
    }
  }
  /* resumed members: the family starts at round 1 (the lowest), the mask from round 0 */
  const int starts[N] = {2, 1, 3, cfgs[0].rounds + 1, 1};
  run_family(cfgs, starts, N, alone[1].next_mask[0], fam);
  for (int i = 0; i < N; i++) {
    ASSERT_INT_EQ(fam[i].n_rounds, starts[i] > cfgs[i].rounds ? 0 : cfgs[i].rounds + 1 - starts[i]);
    for (int k = starts[i]; k <= cfgs[i].rounds; k++) check_same_round(&alone[i], &fam[i], k);
    record_free(&fam[i]);
  }
  /* members that are not one family, and a resume without its mask, are refused */
  tf_family_member_t bad[2] = {{.cfg = cfgs[0]}, {.cfg = cfgs[1]}};
  bad[1].cfg.seed = cfgs[0].seed + 1;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_ticket_run_family(bad, 2, &mnist, NULL, &err), TF_EINPUT);
  ASSERT(strstr(err.msg, "seed") != NULL);
  bad[1].cfg = cfgs[1];
  bad[0].start_round = bad[1].start_round = 2;
  ASSERT_INT_EQ(tf_ticket_run_family(bad, 2, &mnist, NULL, &err), TF_EINPUT);
  for (int i = 0; i < N; i++) record_free(&alone[i]);
}

/* A family whose dense round diverges (a learning rate of 1e37): every member fails with the
 * round and iteration, and the call itself succeeds, so the farm records each member's failure
 * and goes on with other families. */
static void test_ticket_family_divergence_fails_its_members_not_the_call(void) {
  tf_family_member_t mem[2];
  for (int i = 0; i < 2; i++) {
    mem[i] = (tf_family_member_t){.cfg = small_config()};
    mem[i].cfg.lr = 1e37;
    mem[i].cfg.control = i == 0 ? TF_CONTROL_TICKET : TF_CONTROL_REINIT;
  }
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_ticket_run_family(mem, 2, &mnist, NULL, &err), 0);
  for (int i = 0; i < 2; i++) {
    ASSERT_INT_EQ(mem[i].outcome, TF_EDIVERGED);
    ASSERT(strstr(mem[i].err.msg, "round 0, iteration") != NULL);
  }
  /* alone, the same task returns the divergence */
  ASSERT_INT_EQ(tf_ticket_run(&mem[1].cfg, &mnist, NULL, NULL, &err), TF_EDIVERGED);
  ASSERT(strstr(err.msg, "round 0, iteration") != NULL);
}

/* Nonzero entries of a parameter slab: at most the kept weights plus the biases. */
static long nonzero(const float *p, size_t n) {
  long count = 0;
  for (size_t i = 0; i < n; i++) count += p[i] != 0.0f;
  return count;
}

/* A transfer member's round r >= 1 trains the source ticket's round-r mask (with its control's
 * weights) on the target: the same mask bits as the source's ticket, pruned weights zero, the
 * target's data (its curves differ from the source's); round 0 is the dense network trained on
 * the target from theta_0, the same bits as a task of the target dataset; transfer.optimizer and
 * transfer.lr change the target's training only; a transfer member alone, or resumed, gets the
 * rows it gets in its family. */
static void test_ticket_transfer_trains_the_source_tickets_masks_on_the_target(void) {
  enum { N = 6 };
  tf_config_t cfgs[N];
  for (int i = 0; i < N; i++) {
    cfgs[i] = small_config();
    cfgs[i].rewind = 30;
  }
  /* the source itself as the target: the ticket's own rounds */
  snprintf(cfgs[5].transfer, sizeof cfgs[5].transfer, "mnist");
  cfgs[1].control = TF_CONTROL_REINIT;
  snprintf(cfgs[2].transfer, sizeof cfgs[2].transfer, "fashion-mnist");
  cfgs[3] = cfgs[2];
  cfgs[3].control = TF_CONTROL_REINIT;
  cfgs[4] = cfgs[2];
  cfgs[4].transfer_optimizer = 1 + TF_OPT_SGD;
  cfgs[4].transfer_lr = 0.05;
  record_t fam[N];
  run_family(cfgs, NULL, N, NULL, fam);
  const long biases = 64 + 32 + 10;
  for (int k = 0; k <= cfgs[0].rounds; k++) check_same_round(&fam[0], &fam[5], k);
  for (int k = 1; k <= cfgs[0].rounds; k++) {
    for (int i = 2; i < 5; i++) {
      ASSERT(memcmp(fam[i].mask[k], fam[0].mask[k], fam[0].round[k].mask_bytes) == 0);
      ASSERT_INT_EQ(fam[i].round[k].density == fam[0].round[k].density, 1);
      if (k < cfgs[0].rounds)
        ASSERT(memcmp(fam[i].next_mask[k], fam[0].next_mask[k], fam[0].round[k].mask_bytes) == 0);
      long kept = 0;
      for (int l = 0; l < fam[i].round[k].n_layers; l++) kept += fam[i].round[k].remaining[l];
      ASSERT(nonzero(fam[i].final[k], fam[i].n_params) <= kept + biases);
      /* trained and evaluated on Fashion-MNIST, not MNIST */
      ASSERT(fam[i].evals[k][2].test_acc != fam[0].evals[k][2].test_acc);
    }
    /* the ticket and the reinit transferred start differently on one mask */
    ASSERT(memcmp(fam[2].final[k], fam[3].final[k], fam[2].n_params * sizeof(float)) != 0);
  }
  /* round 0: the dense network on the target, as a Fashion-MNIST task's round 0 */
  tf_config_t target = small_config();
  target.rewind = 30;
  snprintf(target.dataset, sizeof target.dataset, "fashion-mnist");
  tf_config_t target_sgd = target;
  target_sgd.optimizer = TF_OPT_SGD;
  target_sgd.lr = 0.05;
  const tf_config_t *plain[2] = {&target, &target_sgd};
  const int member[2] = {2, 4};
  for (int v = 0; v < 2; v++) {
    record_t alone;
    memset(&alone, 0, sizeof alone);
    tf_ticket_sink_t sink = {.ctx = &alone, .snapshot = on_snapshot, .round_done = on_round};
    tf_err_t err = {0};
    ASSERT_INT_EQ(tf_ticket_run(plain[v], &fashion, NULL, &sink, &err), 0);
    const record_t *t = &fam[member[v]];
    ASSERT_INT_EQ(t->round[0].density == 1.0, 1);
    ASSERT(memcmp(t->final[0], alone.final[0], alone.n_params * sizeof(float)) == 0);
    for (int j = 0; j < 3; j++) {
      const tf_eval_t *x = &t->evals[0][j], *y = &alone.evals[0][j];
      float fx[5] = {x->train_loss, x->val_loss, x->val_acc, x->test_loss, x->test_acc};
      float fy[5] = {y->train_loss, y->val_loss, y->val_acc, y->test_loss, y->test_acc};
      ASSERT(memcmp(fx, fy, sizeof fx) == 0);
    }
    ASSERT(memcmp(t->init, alone.init, alone.n_params * sizeof(float)) == 0);
    record_free(&alone);
  }
  /* the optimiser and rate of the transfer change its rounds, not its masks */
  ASSERT(memcmp(fam[4].final[2], fam[2].final[2], fam[2].n_params * sizeof(float)) != 0);
  /* alone (a family of one: the trunk replays the ticket) and resumed at round 2 */
  record_t one;
  run_family(&cfgs[3], NULL, 1, NULL, &one);
  for (int k = 0; k <= cfgs[3].rounds; k++) check_same_round(&fam[3], &one, k);
  record_free(&one);
  const int start = 2;
  run_family(&cfgs[3], &start, 1, fam[0].next_mask[1], &one);
  for (int k = start; k <= cfgs[3].rounds; k++) check_same_round(&fam[3], &one, k);
  record_free(&one);
  /* a transfer without its dataset is refused */
  tf_family_member_t bad = {.cfg = cfgs[2]};
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_ticket_run_family(&bad, 1, &mnist, NULL, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "fashion-mnist");
  for (int i = 0; i < N; i++) record_free(&fam[i]);
}

/* A target of another class count (a five-class fixture: Fashion-MNIST's labels mod 5) gets an
 * output layer of its own: drawn from the initialiser on TF_STREAM_TRANSFER (seed, 0, layer),
 * biases zero, unpruned in every round; every other layer starts from the source's weights on
 * the source ticket's mask, and the next masks handed out stay the source's. */
static void test_ticket_transfer_redraws_an_output_layer_of_another_class_count(void) {
  tf_dataset_t five = fashion;
  five.owned = NULL;
  five.classes = 5;
  uint8_t *train_labels = malloc((size_t)fashion.train.n), *test_labels = malloc((size_t)fashion.test.n);
  ASSERT(train_labels != NULL && test_labels != NULL);
  for (int32_t i = 0; i < fashion.train.n; i++) train_labels[i] = fashion.train.labels[i] % 5;
  for (int32_t i = 0; i < fashion.test.n; i++) test_labels[i] = fashion.test.labels[i] % 5;
  five.train.labels = train_labels;
  five.test.labels = test_labels;
  transfer_target = &five;
  tf_config_t cfgs[2] = {small_config(), small_config()};
  snprintf(cfgs[1].transfer, sizeof cfgs[1].transfer, "fashion-mnist");
  record_t fam[2];
  run_family(cfgs, NULL, 2, NULL, fam);
  transfer_target = &fashion;
  const size_t head = 784 * 64 + 64 + 64 * 32 + 32; /* the layers before the output */
  ASSERT_INT_EQ(fam[0].n_params, head + 10 * 32 + 10);
  ASSERT_INT_EQ(fam[1].n_params, head + 5 * 32 + 5);
  ASSERT(memcmp(fam[1].init, fam[0].init, head * sizeof(float)) == 0);
  ASSERT(memcmp(fam[1].rewind, fam[0].rewind, head * sizeof(float)) == 0);
  float drawn[5 * 32];
  tf_rng_t rng;
  tf_rng_seed(&rng, cfgs[1].seed, TF_STREAM_TRANSFER, 0, 2);
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_init_fill_kernel(drawn, 5, 32, 5, 32, &cfgs[1].init, &rng, &err), 0);
  ASSERT(memcmp(fam[1].init + head, drawn, sizeof drawn) == 0);
  for (int j = 0; j < 5; j++) ASSERT(fam[1].init[head + 5 * 32 + (size_t)j] == 0.0f);
  for (int k = 0; k <= cfgs[0].rounds; k++) {
    const tf_round_t *s = &fam[0].round[k], *t = &fam[1].round[k];
    ASSERT_INT_EQ(t->n_layers, 3);
    ASSERT_INT_EQ(t->remaining[0], s->remaining[0]);
    ASSERT_INT_EQ(t->remaining[1], s->remaining[1]);
    ASSERT_INT_EQ(t->total[2], 5 * 32);
    ASSERT_INT_EQ(t->remaining[2], 5 * 32);
    if (k < cfgs[0].rounds) {
      ASSERT_INT_EQ(t->next_mask_bytes, s->mask_bytes);
      ASSERT(memcmp(fam[1].next_mask[k], fam[0].next_mask[k], s->mask_bytes) == 0);
    }
  }
  /* five classes are learnt: better than the 20% of a guess */
  ASSERT(fam[1].evals[0][2].test_acc > 0.4f);
  for (int i = 0; i < 2; i++) record_free(&fam[i]);
  free(train_labels);
  free(test_labels);
}

/* The linear path of the instability analysis (Frankle et al. 2020): alpha = 0 is the first
 * copy's own test error and alpha = 1 the second copy's (trained on its own order), two copies
 * of one order are one network (instability exactly 0), and pruned weights stay zero on the
 * whole path, evaluated on sparse kernels. */
static void test_ticket_instability_path_ends_are_the_copies_own_errors(void) {
  tf_config_t cfg = small_config();
  enum { POINTS = 5 };
  for (int masked = 0; masked < 2; masked++) {
    ticket_t t = {.cfg = &cfg, .data = &mnist};
    tf_err_t err = {0};
    ASSERT_INT_EQ(tf__ticket_setup(&t, 0, POINTS, &err), 0);
    const size_t np = t.net.n_params;
    ASSERT_INT_EQ(tf__ticket_draw_init(&cfg, &t.net, t.theta0, TF_STREAM_INIT, 0, 0, &err), 0);
    float *mask = malloc(np * sizeof *mask), *w1 = malloc(np * sizeof *w1);
    ASSERT(mask != NULL && w1 != NULL);
    /* unmasked, or every other weight of the first layer pruned (sparse under 0.6) */
    for (size_t i = 0; i < np; i++) mask[i] = masked && i < 784 * 64 && i % 2 ? 0.0f : 1.0f;
    const int round = masked ? 1 : 0;
    for (size_t i = 0; i < np; i++) t.net.params[i] = t.theta0[i] * mask[i];
    memcpy(t.net.mask, mask, np * sizeof *mask);
    tf__ticket_clear_evals(&t);
    ASSERT_INT_EQ(tf__ticket_train_round(&t, round, 0, cfg.iterations, 1, &err), 0);
    memcpy(w1, t.net.params, np * sizeof *w1);
    const float e1 = 1.0f - t.evals[2].test_acc;
    float inst = -1.0f;
    ASSERT_INT_EQ(tf__ticket_path(&t, round, w1, t.theta0, mask, POINTS, 0, &inst, &err), 0);
    ASSERT(inst == 0.0f);
    for (int i = 0; i < POINTS; i++) ASSERT(t.path_errors[i] == e1);
    ASSERT_INT_EQ(tf__ticket_path(&t, round, w1, t.theta0, mask, POINTS, 1, &inst, &err), 0);
    for (size_t i = 0; i < np; i++)
      if (mask[i] == 0.0f) ASSERT(t.net.params[i] == 0.0f);
    ASSERT(memcmp(t.copy2, w1, np * sizeof *w1) != 0);
    float path[POINTS], worst = 0.0f;
    memcpy(path, t.path_errors, sizeof path);
    for (int i = 0; i < POINTS; i++) worst = path[i] > worst ? path[i] : worst;
    ASSERT(path[0] == e1);
    ASSERT(inst == worst - 0.5f * (path[0] + path[POINTS - 1]));
    ASSERT(inst >= 0.0f);
    /* the second copy on its own, with its curve: its test error is the path's last point */
    for (size_t i = 0; i < np; i++) t.net.params[i] = t.theta0[i] * mask[i];
    memcpy(t.net.mask, mask, np * sizeof *mask);
    t.copy = 1;
    t.second = 1;
    tf__ticket_clear_evals(&t);
    ASSERT_INT_EQ(tf__ticket_train_round(&t, round, 0, cfg.iterations, 1, &err), 0);
    ASSERT(1.0f - t.evals[2].test_acc == path[POINTS - 1]);
    ASSERT(memcmp(t.net.params, t.copy2, np * sizeof *w1) == 0);
    fprintf(stderr, "      %s: path errors %.4f %.4f %.4f %.4f %.4f, instability %.4f\n",
            masked ? "half the first layer pruned" : "dense", path[0], path[1], path[2], path[3],
            path[4], inst);
    free(mask);
    free(w1);
    tf__ticket_free(&t);
  }
}

/* In a run, every round of a member with analysis.instability has its path: alpha = 0 is the
 * round's own final test error, the instability is the path's largest error minus the mean of
 * its ends; the analysis changes none of the member's other rows, a member alone gets the same
 * path as in its family, and members without it report none (NaN). */
static void test_ticket_instability_in_a_family_leaves_the_rounds_and_matches_alone(void) {
  enum { N = 4, POINTS = 4 };
  tf_config_t cfgs[N];
  for (int i = 0; i < N; i++) cfgs[i] = small_config();
  cfgs[0].instability = POINTS;
  cfgs[1].instability = POINTS;
  cfgs[1].control = TF_CONTROL_REINIT;
  cfgs[3].control = TF_CONTROL_REINIT;
  record_t fam[N];
  run_family(cfgs, NULL, N, NULL, fam);
  for (int k = 0; k <= cfgs[0].rounds; k++) {
    for (int i = 0; i < 2; i++) {
      const tf_round_t *r = &fam[i].round[k];
      ASSERT_INT_EQ(r->n_path, POINTS);
      ASSERT(fam[i].path[k][0] == 1.0f - fam[i].evals[k][r->n_evals - 1].test_acc);
      float worst = 0.0f;
      for (int j = 0; j < POINTS; j++) worst = fam[i].path[k][j] > worst ? fam[i].path[k][j] : worst;
      ASSERT(r->instability == worst - 0.5f * (fam[i].path[k][0] + fam[i].path[k][POINTS - 1]));
      check_same_round(&fam[i], &fam[i + 2], k);
      ASSERT_INT_EQ(fam[i + 2].round[k].n_path, 0);
      ASSERT(isnan(fam[i + 2].round[k].instability));
    }
  }
  /* round 0 is one network for both: one path */
  ASSERT(memcmp(fam[0].path[0], fam[1].path[0], POINTS * sizeof(float)) == 0);
  for (int i = 0; i < 2; i++) {
    record_t one;
    run_family(&cfgs[i], NULL, 1, NULL, &one);
    for (int k = 0; k <= cfgs[i].rounds; k++) {
      check_same_round(&fam[i], &one, k);
      ASSERT(memcmp(fam[i].path[k], one.path[k], POINTS * sizeof(float)) == 0);
      ASSERT(memcmp(&fam[i].round[k].instability, &one.round[k].instability, sizeof(float)) == 0);
    }
    record_free(&one);
  }
  fprintf(stderr, "      ticket instability by round: %.4f %.4f %.4f %.4f\n",
          fam[0].round[0].instability, fam[0].round[1].instability, fam[0].round[2].instability,
          fam[0].round[3].instability);
  for (int i = 0; i < N; i++) record_free(&fam[i]);
}

/* The sparse path against the dense masked reference over a whole task: LeNet-300-100 pruned
 * by half per round, once with every pruned layer sparse and once all dense. Round 0 (dense in
 * both) is the same bits; later rounds differ by float rounding only: evaluation losses within
 * 1e-4 (relative), final weights within 1e-3 of the largest, the same accuracies within one
 * image in a thousand, and the same masks after every pruning. */
static void test_ticket_sparse_rounds_track_dense_ones(void) {
  tf_config_t cfg = short_config();
  cfg.rate = 0.5;
  cfg.output_rate = 0.2;
  cfg.sparse_below = 0.0;
  record_t dense, sparse;
  run(&cfg, &dense);
  cfg.sparse_below = 1.0;
  run(&cfg, &sparse);
  check_same_round(&dense, &sparse, 0);
  for (int k = 1; k <= cfg.rounds; k++) {
    ASSERT(memcmp(dense.mask[k], sparse.mask[k], dense.round[k].mask_bytes) == 0);
    if (k < cfg.rounds)
      ASSERT(memcmp(dense.next_mask[k], sparse.next_mask[k], dense.round[k].mask_bytes) == 0);
    double scale = 0.0, diff = 0.0;
    for (size_t i = 0; i < dense.n_params; i++) {
      scale = fmax(scale, fabs(dense.final[k][i]));
      diff = fmax(diff, fabs((double)sparse.final[k][i] - dense.final[k][i]));
      if (dense.final[k][i] == 0.0f) ASSERT(sparse.final[k][i] == 0.0f);
    }
    ASSERT(diff > 0.0); /* the sparse kernels did run */
    ASSERT(diff <= 1e-3 * scale);
    for (int j = 0; j < dense.round[k].n_evals; j++) {
      const tf_eval_t *a = &dense.evals[k][j], *b = &sparse.evals[k][j];
      ASSERT_NEAR(b->val_loss, a->val_loss, 1e-4 * a->val_loss);
      ASSERT_NEAR(b->test_loss, a->test_loss, 1e-4 * a->test_loss);
      ASSERT_NEAR(b->test_acc, a->test_acc, 1e-3);
    }
    fprintf(stderr, "      round %d (density %.3f): largest weight difference %.2g of the largest "
            "weight, test loss %.6f vs %.6f\n", k, dense.round[k].density, diff / scale,
            sparse.evals[k][dense.round[k].n_evals - 1].test_loss,
            dense.evals[k][dense.round[k].n_evals - 1].test_loss);
  }
  record_free(&dense);
  record_free(&sparse);
}

/* data.order per_round: each round trains on its own permutations, round 0's the same as under
 * fixed; fixed: every round replays round 0's. A run under per_round keeps round 0 and the
 * first pruned mask of fixed, then trains round 1 on other batches. */
static void test_ticket_rounds_see_fresh_batches_per_round_and_the_same_under_fixed(void) {
  tf_config_t per_round = small_config(), fixed = small_config();
  per_round.order = TF_ORDER_PER_ROUND;
  fixed.order = TF_ORDER_FIXED;
  enum { N = 1000 };
  int32_t idx[N], a[N], b[N], c[N];
  for (int i = 0; i < N; i++) idx[i] = 3 * i;
  for (long epoch = 0; epoch < 3; epoch++) {
    tf_ticket_epoch_order(&per_round, 1, epoch, idx, N, a);
    tf_ticket_epoch_order(&per_round, 2, epoch, idx, N, b);
    ASSERT(memcmp(a, b, sizeof a) != 0);
    tf_ticket_epoch_order(&per_round, 0, epoch, idx, N, a);
    tf_ticket_epoch_order(&fixed, 0, epoch, idx, N, b);
    ASSERT(memcmp(a, b, sizeof a) == 0);
    tf_ticket_epoch_order(&fixed, 1, epoch, idx, N, b);
    tf_ticket_epoch_order(&fixed, 2, epoch, idx, N, c);
    ASSERT(memcmp(a, b, sizeof a) == 0 && memcmp(a, c, sizeof a) == 0);
    /* a permutation: every index once */
    long sum = 0;
    for (int i = 0; i < N; i++) sum += a[i];
    ASSERT_INT_EQ(sum, 3L * N * (N - 1) / 2);
  }
  per_round.rounds = fixed.rounds = 1;
  record_t p, f;
  run(&per_round, &p);
  run(&fixed, &f);
  const size_t np = p.n_params, nb = p.round[0].mask_bytes;
  ASSERT(memcmp(p.final[0], f.final[0], np * sizeof(float)) == 0);
  ASSERT(memcmp(p.mask[1], f.mask[1], nb) == 0);
  ASSERT(memcmp(p.final[1], f.final[1], np * sizeof(float)) != 0);
  record_free(&p);
  record_free(&f);
}

/* control_seed changes the reinit, sign_reinit, sparse_reinit and random_mask draws and nothing
 * else (round 0, the ticket's masks); control_seed 0 is the stream without it. */
static void test_ticket_control_seed_redraws_the_control_and_keeps_the_ticket(void) {
  tf_config_t cfg = small_config();
  cfg.rounds = 2;
  tf_net_t net;
  ASSERT_INT_EQ(tf_net_create(&net, 784, cfg.hidden, cfg.n_hidden, 10, 1, NULL), 0);
  const size_t n = net.n_params;
  float *theta = calloc(n, sizeof *theta), *tmask = malloc(n * sizeof *tmask);
  float *p0 = malloc(n * sizeof *p0), *p1 = malloc(n * sizeof *p1), *want = calloc(n, sizeof *want);
  float *m0 = malloc(n * sizeof *m0), *m1 = malloc(n * sizeof *m1);
  for (size_t i = 0; i < n; i++) {
    theta[i] = (float)(0.01 * ((double)(i % 97) - 48));
    tmask[i] = i % 3 != 0 ? 1.0f : 0.0f;
  }
  for (int l = 0; l < net.n_layers; l++)
    for (int j = 0; j < net.sizes[l + 1]; j++) tmask[net.b_off[l] + (size_t)j] = 1.0f;
  const tf_control_t drawn[] = {TF_CONTROL_REINIT, TF_CONTROL_SIGN_REINIT,
                                TF_CONTROL_SPARSE_REINIT, TF_CONTROL_RANDOM_MASK};
  for (int c = 0; c < 4; c++) {
    cfg.control = drawn[c];
    cfg.control_seed = 0;
    ASSERT_INT_EQ(tf_ticket_control(&cfg, &net, theta, tmask, 1, p0, m0, NULL), 0);
    cfg.control_seed = 5;
    ASSERT_INT_EQ(tf_ticket_control(&cfg, &net, theta, tmask, 1, p1, m1, NULL), 0);
    if (drawn[c] == TF_CONTROL_RANDOM_MASK)
      ASSERT(memcmp(m0, m1, n * sizeof *m0) != 0);
    else
      ASSERT(memcmp(p0, p1, n * sizeof *p0) != 0);
  }
  /* control_seed 0: the reinit draw is the initialiser on TF_STREAM_REINIT(seed, round, layer) */
  cfg.control = TF_CONTROL_REINIT;
  cfg.control_seed = 0;
  ASSERT_INT_EQ(tf_ticket_control(&cfg, &net, theta, tmask, 1, p0, m0, NULL), 0);
  for (int l = 0; l < net.n_layers; l++) {
    tf_rng_t rng;
    tf_rng_seed(&rng, cfg.seed, TF_STREAM_REINIT, 1, (uint64_t)l);
    ASSERT_INT_EQ(tf_init_fill(want + net.w_off[l], net.sizes[l + 1], net.sizes[l], &cfg.init,
                               &rng, NULL), 0);
    memcpy(want + net.b_off[l], theta + net.b_off[l], (size_t)net.sizes[l + 1] * sizeof *want);
  }
  for (size_t i = 0; i < n; i++) want[i] *= tmask[i];
  ASSERT(memcmp(p0, want, n * sizeof *p0) == 0);

  record_t a, b;
  cfg.control_seed = 0;
  run(&cfg, &a);
  cfg.control_seed = 5;
  run(&cfg, &b);
  const size_t nb = a.round[0].mask_bytes;
  ASSERT(memcmp(a.final[0], b.final[0], n * sizeof(float)) == 0);
  for (int k = 1; k <= cfg.rounds; k++) {
    ASSERT(memcmp(a.mask[k], b.mask[k], nb) == 0); /* the same ticket */
    ASSERT(memcmp(a.final[k], b.final[k], n * sizeof(float)) != 0);
  }
  record_free(&a);
  record_free(&b);
  free(theta);
  free(tmask);
  free(p0);
  free(p1);
  free(want);
  free(m0);
  free(m1);
  tf_net_free(&net);
}

/* sparse_reinit: reinit's draw with each unit (row) scaled by sqrt(fan_in / surviving fan-in):
 * a unit keeping a quarter of its inputs gets twice reinit's standard deviation under he_normal
 * and glorot_normal, a whole unit reinit's exact bits; fixed-scale initialisers are unscaled. */
static void test_ticket_sparse_reinit_scales_each_unit_by_its_surviving_fan_in(void) {
  tf_config_t cfg;
  tf_config_default(&cfg);
  tf_net_t net;
  ASSERT_INT_EQ(tf_net_create(&net, 784, cfg.hidden, cfg.n_hidden, 10, 1, NULL), 0);
  const size_t n = net.n_params;
  float *theta = calloc(n, sizeof *theta), *tmask = malloc(n * sizeof *tmask);
  float *pr = malloc(n * sizeof *pr), *ps = malloc(n * sizeof *ps), *m = malloc(n * sizeof *m);
  for (size_t i = 0; i < n; i++) tmask[i] = 1.0f;
  /* layer 0: even rows keep the inputs c % 4 == 0 (196 of 784), odd rows all */
  for (int row = 0; row < 300; row++)
    for (int c = 0; c < 784; c++)
      if (row % 2 == 0 && c % 4 != 0) tmask[net.w_off[0] + (size_t)row * 784 + (size_t)c] = 0.0f;
  const tf_init_kind_t kinds[] = {TF_INIT_HE_NORMAL, TF_INIT_GLOROT_NORMAL, TF_INIT_NORMAL};
  for (int k = 0; k < 3; k++) {
    cfg.init.kind = kinds[k];
    cfg.init.param = NAN;
    cfg.control = TF_CONTROL_REINIT;
    ASSERT_INT_EQ(tf_ticket_control(&cfg, &net, theta, tmask, 1, pr, m, NULL), 0);
    cfg.control = TF_CONTROL_SPARSE_REINIT;
    ASSERT_INT_EQ(tf_ticket_control(&cfg, &net, theta, tmask, 1, ps, m, NULL), 0);
    ASSERT(memcmp(m, tmask, n * sizeof *m) == 0);
    const double dense_sd = kinds[k] == TF_INIT_HE_NORMAL ? sqrt(2.0 / 784)
                            : kinds[k] == TF_INIT_GLOROT_NORMAL ? sqrt(2.0 / (784 + 300))
                                                                : 0.1;
    const double factor = kinds[k] == TF_INIT_NORMAL ? 1.0 : 2.0;
    double ss_quarter = 0, ss_whole = 0;
    long n_quarter = 0, n_whole = 0;
    for (int row = 0; row < 300; row++)
      for (int c = 0; c < 784; c++) {
        size_t i = net.w_off[0] + (size_t)row * 784 + (size_t)c;
        if (tmask[i] == 0.0f) {
          ASSERT(ps[i] == 0.0f);
          continue;
        }
        if (row % 2 == 0) {
          ASSERT(ps[i] == (float)(factor * pr[i])); /* sqrt(784 / 196) = 2 exactly */
          ss_quarter += (double)ps[i] * ps[i];
          n_quarter++;
        } else {
          ASSERT(memcmp(&ps[i], &pr[i], sizeof(float)) == 0);
          ss_whole += (double)ps[i] * ps[i];
          n_whole++;
        }
      }
    ASSERT_INT_EQ(n_quarter, 150 * 196);
    const double sd_quarter = sqrt(ss_quarter / n_quarter), sd_whole = sqrt(ss_whole / n_whole);
    fprintf(stderr, "      %s: sd %.5f (quarter fan-in) vs %.5f (whole), dense %.5f\n",
            tf_init_name(kinds[k]), sd_quarter, sd_whole, dense_sd);
    ASSERT(fabs(sd_whole / dense_sd - 1.0) < 0.01);
    ASSERT(fabs(sd_quarter / (factor * dense_sd) - 1.0) < 0.02);
    /* layers 1 and 2 are whole: reinit's bits */
    ASSERT(memcmp(ps + net.w_off[1], pr + net.w_off[1], (n - net.w_off[1]) * sizeof *ps) == 0);
  }
  ASSERT(fabs(tf_init_row_gain(&(tf_init_spec_t){TF_INIT_LECUN_UNIFORM, NAN}, 100, 25) - 2.0) <
         1e-15);
  ASSERT(tf_init_row_gain(&(tf_init_spec_t){TF_INIT_HE_NORMAL, NAN}, 100, 0) == 1.0);
  ASSERT(tf_init_row_gain(&(tf_init_spec_t){TF_INIT_ORTHOGONAL, 1.0}, 100, 25) == 1.0);
  free(theta);
  free(tmask);
  free(pr);
  free(ps);
  free(m);
  tf_net_free(&net);
}

/* prune.random nested: each round's random mask lies inside the previous round's, with the
 * ticket's counts; independent draws fresh positions, so its masks are not nested. */
static void test_ticket_nested_random_masks_are_subsets_of_the_previous_round(void) {
  tf_config_t cfg = small_config();
  cfg.control = TF_CONTROL_RANDOM_MASK;
  cfg.rounds = 3;
  record_t nested, independent;
  cfg.random = TF_RANDOM_NESTED;
  run(&cfg, &nested);
  cfg.random = TF_RANDOM_INDEPENDENT;
  run(&cfg, &independent);
  const size_t nb = nested.round[0].mask_bytes;
  /* round 1 draws from the same stream in both */
  ASSERT(memcmp(nested.mask[1], independent.mask[1], nb) == 0);
  for (int k = 2; k <= cfg.rounds; k++) {
    int nested_subset = 1, independent_subset = 1;
    for (size_t i = 0; i < nb; i++) {
      nested_subset &= (nested.mask[k][i] & ~nested.mask[k - 1][i]) == 0;
      independent_subset &= (independent.mask[k][i] & ~independent.mask[k - 1][i]) == 0;
    }
    ASSERT(nested_subset);
    ASSERT(!independent_subset);
    for (int l = 0; l < 3; l++)
      ASSERT_INT_EQ(nested.round[k].remaining[l], independent.round[k].remaining[l]);
  }
  record_free(&nested);
  record_free(&independent);
}

/* The round a layer reaches its one-weight floor: exact under layerwise scope (the 64-10 output
 * layer at 0.5: 640, 320, 160, 80, 40, 20, 10, 5, 2, 1, held from round 10), never for an
 * excluded layer or within the rounds, and at the mean density under global scope. */
static void test_ticket_floor_round_finds_the_round_a_layer_keeps_its_last_weight(void) {
  tf_config_t cfg;
  tf_config_default(&cfg);
  cfg.n_hidden = 1;
  cfg.hidden[0] = 64;
  cfg.rounds = 30;
  cfg.output_rate = 0.5;
  int layer = -1;
  ASSERT_INT_EQ(tf_ticket_floor_round(&cfg, &layer), 10);
  ASSERT_INT_EQ(layer, 1);
  cfg.rounds = 9;
  ASSERT_INT_EQ(tf_ticket_floor_round(&cfg, &layer), 0);
  cfg.rounds = 30;
  cfg.exclude = TF_EXCLUDE_OUTPUT;
  ASSERT_INT_EQ(tf_ticket_floor_round(&cfg, &layer), 0);
  /* global at 0.2: 50816 * 0.8^r; the 640-weight layer's share drops below one weight when
   * 640 * 0.8^r < 1, at r = 29 */
  cfg.exclude = 0;
  cfg.scope = TF_SCOPE_GLOBAL;
  ASSERT_INT_EQ(tf_ticket_floor_round(&cfg, &layer), 29);
  ASSERT_INT_EQ(layer, 1);
}

static void test_ticket_shape_counts_lenet_layers_parameters_mask_bytes_and_evals(void) {
  tf_config_t cfg;
  tf_config_default(&cfg);
  snprintf(cfg.dataset, sizeof cfg.dataset, "mnist");
  cfg.n_hidden = 2;
  cfg.hidden[0] = 300;
  cfg.hidden[1] = 100;
  cfg.iterations = 1000;
  cfg.eval_every = 100;
  cfg.rounds = 3;
  tf_ticket_shape_t s;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_ticket_shape(&cfg, &s, &err), 0);
  ASSERT_INT_EQ(s.input_dim, 784);
  ASSERT_INT_EQ(s.classes, 10);
  ASSERT_INT_EQ(s.n_test, 10000);
  ASSERT_INT_EQ(s.n_rounds, 4);
  ASSERT_INT_EQ(s.eval_every, 100);
  ASSERT_INT_EQ(s.n_evals, 11);
  ASSERT_INT_EQ(s.n_layers, 3);
  ASSERT_INT_EQ(s.layer_size[0], 784 * 300);
  ASSERT_INT_EQ(s.layer_size[1], 300 * 100);
  ASSERT_INT_EQ(s.layer_size[2], 100 * 10);
  ASSERT_INT_EQ(s.n_weights, 266200);
  ASSERT_INT_EQ(s.n_params, 266200 + 300 + 100 + 10);
  ASSERT_INT_EQ(s.mask_bytes, 33275);

  tf_config_t bad = cfg;
  bad.eval_every = 0;
  ASSERT_INT_EQ(tf_ticket_shape(&bad, &s, &err), TF_EINPUT);
  bad = cfg;
  bad.n_hidden = TF_MAX_HIDDEN + 1;
  ASSERT_INT_EQ(tf_ticket_shape(&bad, &s, &err), TF_EINPUT);
  bad = cfg;
  snprintf(bad.dataset, sizeof bad.dataset, "cifar-10");
  ASSERT(tf_ticket_shape(&bad, &s, &err) < 0);
}

int main(void) {
  tf_err_t err = {0};
  tf_test_need_dataset("mnist");
  if (tf_data_load(&mnist, tf_data_root(), "mnist", &err) < 0) {
    fprintf(stderr, "MNIST: %s\n", err.msg);
    return 1;
  }
  tf_test_need_dataset("fashion-mnist");
  if (tf_data_load(&fashion, tf_data_root(), "fashion-mnist", &err) < 0) {
    fprintf(stderr, "Fashion-MNIST: %s\n", err.msg);
    return 1;
  }
  RUN(test_ticket_control_params_follow_their_definitions);
  RUN(test_ticket_shape_counts_lenet_layers_parameters_mask_bytes_and_evals);
  RUN(test_ticket_layerwise_rounds_keep_exact_counts);
  RUN(test_ticket_rounds_see_fresh_batches_per_round_and_the_same_under_fixed);
  RUN(test_ticket_control_seed_redraws_the_control_and_keeps_the_ticket);
  RUN(test_ticket_sparse_reinit_scales_each_unit_by_its_surviving_fan_in);
  RUN(test_ticket_nested_random_masks_are_subsets_of_the_previous_round);
  RUN(test_ticket_floor_round_finds_the_round_a_layer_keeps_its_last_weight);
  RUN(test_ticket_pruned_weights_stay_zero_under_every_optimiser);
  RUN(test_ticket_controls_share_round0_and_the_tickets_masks);
  RUN(test_ticket_same_config_gives_identical_bits);
  RUN(test_ticket_late_rewinding_resumes_at_iteration_k);
  RUN(test_ticket_rewound_round_resumes_the_schedule_at_k);
  RUN(test_ticket_normalized_inputs_change_the_curves_and_train);
  RUN(test_ticket_weight_decay_keeps_pruned_weights_zero_under_every_optimiser);
  RUN(test_ticket_early_stop_is_argmin_validation_loss);
  RUN(test_ticket_test_eval_at_best_keeps_reported_numbers_bit_identical);
  RUN(test_ticket_resumed_rounds_equal_uninterrupted_ones);
  RUN(test_ticket_family_members_equal_their_tasks_run_alone);
  RUN(test_ticket_family_divergence_fails_its_members_not_the_call);
  RUN(test_ticket_transfer_trains_the_source_tickets_masks_on_the_target);
  RUN(test_ticket_transfer_redraws_an_output_layer_of_another_class_count);
  RUN(test_ticket_instability_path_ends_are_the_copies_own_errors);
  RUN(test_ticket_instability_in_a_family_leaves_the_rounds_and_matches_alone);
  RUN(test_ticket_sparse_rounds_track_dense_ones);
  RUN(test_ticket_dense_lenet_reaches_96_percent_after_1000_iterations);
  tf_data_free(&mnist);
  tf_data_free(&fashion);
  return 0;
}
