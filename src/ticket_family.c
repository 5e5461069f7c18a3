/* A family's rounds: the trunk (the ticket's rounds on the source dataset), each control on the
 * ticket's masks, each transfer on its target dataset, and the instability analysis of every
 * member that asks for it; tf_ticket_run, a family of one. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ticketfarm/family.h"
#include "ticketfarm/init.h"
#include "ticketfarm/prune.h"
#include "ticketfarm/ticket.h"

#include "clock.h"
#include "ticket_internal.h"

/* A transfer target: its own net, optimiser, split, order and curve, shared by the members that
 * transfer with one dataset, optimiser and rate. */
typedef struct target {
  ticket_t t;
  tf_config_t cfg;  /* tf_config_target_config of its members' task */
  float *out_init;  /* the output layer's weights when its class count differs from the
                     * source's (rows x cols of the target's net), else NULL */
  float *scratch;   /* (n_params) a snapshot mapped onto the target's net */
} target_t;

typedef struct family {
  ticket_t trunk;                   /* the source: the ticket's rounds */
  tf_family_member_t *members;
  int n;
  target_t *target[TF_FAMILY_MAX];  /* each member's target; NULL for no transfer */
  target_t targets[TF_FAMILY_MAX];  /* the distinct ones, n_targets of them */
  int n_targets;
} family_t;

/* What a member's round trained: in the layout of `on`'s net. */
typedef struct trained {
  const ticket_t *on; /* the context that trained it: its net and curve */
  const float *mask;
  const float *final;
  int n_path;         /* instability points, 0 = none */
  float instability;
} trained_t;

/* Whether member m still runs: it has rounds left and has not failed. */
static int member_active(const tf_family_member_t *m) {
  return m->outcome == 0 && m->start_round <= m->cfg.rounds;
}

/* Whether member m reports round `round`. */
static int member_runs(const tf_family_member_t *m, int round) {
  return member_active(m) && m->start_round <= round;
}

/* Whether member m is the trunk's own ticket: control ticket, no transfer. */
static int is_ticket(const tf_family_member_t *m) {
  return m->cfg.control == TF_CONTROL_TICKET && !tf_config_transfer(&m->cfg);
}

/* A training error other than a divergence: the family's, as training set it. */
static int pass_error(tf_err_t *err, const tf_err_t *from, int rc) {
  if (err != NULL && rc < 0) *err = *from;
  return rc;
}

/* Member m fails with the divergence in err; the others go on. */
static void member_fail(tf_family_member_t *m, const tf_err_t *err) {
  m->outcome = TF_EDIVERGED;
  m->err = *err;
}

/* params and mask (the source's layout; mask may be NULL) onto target g's net: every layer but
 * the output as it is, the output layer too when the class counts match, else g's fresh draw
 * with zero biases, unpruned. */
static void map_to_target(const ticket_t *src, const target_t *g, const float *params,
                          const float *mask, float *out_params, float *out_mask) {
  const tf_net_t *sn = &src->net, *tn = &g->t.net;
  if (g->out_init == NULL) {
    memcpy(out_params, params, sn->n_params * sizeof *out_params);
    if (mask != NULL) memcpy(out_mask, mask, sn->n_params * sizeof *out_mask);
    return;
  }
  const int out = tn->n_layers - 1;
  const size_t head = tn->w_off[out]; /* the layers before the output: one layout in both */
  memcpy(out_params, params, head * sizeof *out_params);
  memcpy(out_params + head, g->out_init, tf_net_layer_weights(tn, out) * sizeof *out_params);
  memset(out_params + tn->b_off[out], 0, (size_t)tn->rows[out] * sizeof *out_params);
  if (mask == NULL) return;
  memcpy(out_mask, mask, head * sizeof *out_mask);
  for (size_t i = head; i < tn->n_params; i++) out_mask[i] = 1.0f;
}

/* Hands a snapshot (the source's layout) to every member still running, a transfer member on
 * its target's net. */
static int snapshot(family_t *f, tf_snapshot_t which, const float *params) {
  for (int i = 0; i < f->n; i++) {
    const tf_family_member_t *m = &f->members[i];
    if (!member_active(m) || m->sink.snapshot == NULL) continue;
    const float *p = params;
    size_t np = f->trunk.net.n_params;
    target_t *g = f->target[i];
    if (g != NULL) {
      map_to_target(&f->trunk, g, params, NULL, g->scratch, NULL);
      p = g->scratch;
      np = g->t.net.n_params;
    }
    int rc = m->sink.snapshot(m->sink.ctx, which, p, np);
    if (rc != 0) return rc;
  }
  return 0;
}

/* Hands round `round` of member m to its sink: tr, and next_mask the ticket's mask for the next
 * round in the source's layout (NULL after the last). */
static int report_round(family_t *f, const tf_family_member_t *m, int round, const trained_t *tr,
                        const float *next_mask, double wall_s) {
  const tf_config_t *cfg = &m->cfg;
  const ticket_t *on = tr->on;
  const tf_net_t *net = &on->net;
  tf_round_t r = {0};
  r.round = round;
  r.n_layers = net->n_layers;
  tf_prune_remaining(net, tr->mask, r.remaining);
  long kept = 0, total = 0;
  for (int l = 0; l < net->n_layers; l++) {
    r.total[l] = (long)tf_net_layer_weights(net, l);
    kept += r.remaining[l];
    total += r.total[l];
  }
  r.density = (double)kept / (double)total;
  r.n_evals = on->n_evals;
  r.first_eval = round == 0 ? 0 : (int)(cfg->rewind / cfg->eval_every);
  r.evals = on->evals;
  r.early_stop = tf__ticket_early_stop(on, r.first_eval);
  tf_prune_pack(net, tr->mask, on->bits);
  r.mask_bits = on->bits;
  r.mask_bytes = tf_prune_packed_size(net);
  r.next_mask_bytes = tf_prune_packed_size(&f->trunk.net);
  if (next_mask != NULL) {
    tf_prune_pack(&f->trunk.net, next_mask, f->trunk.next_bits);
    r.next_mask_bits = f->trunk.next_bits;
  }
  r.final = tr->final;
  r.n_params = net->n_params;
  r.wall_s = wall_s;
  r.n_path = tr->n_path;
  r.path_errors = tr->n_path > 0 ? on->path_errors : NULL;
  r.instability = tr->n_path > 0 ? tr->instability : NAN;
  if (m->sink.round_done == NULL) return 0;
  return m->sink.round_done(m->sink.ctx, &r);
}

/* Training for member m begins (NULL: the trunk's, charged to the ticket member when it runs
 * `round`, else to the first member still running). */
static void begin_training(const family_t *f, const tf_family_member_t *m, int round) {
  for (int i = 0; m == NULL && i < f->n; i++)
    if (is_ticket(&f->members[i]) && member_runs(&f->members[i], round)) m = &f->members[i];
  for (int i = 0; m == NULL && i < f->n; i++)
    if (member_active(&f->members[i])) m = &f->members[i];
  if (m != NULL && m->sink.training != NULL) m->sink.training(m->sink.ctx);
}

/* The family's first round: the lowest start of a member still to run; rounds + 1 if none. */
static int family_first_round(const family_t *f) {
  int first = f->trunk.cfg->rounds + 1;
  for (int i = 0; i < f->n; i++)
    if (member_active(&f->members[i]) && f->members[i].start_round < first)
      first = f->members[i].start_round;
  return first;
}

/* Round `round` >= 1 of member m in context c, whose net holds its start (params and mask):
 * trained with its curve (the trunk's own ticket buffers stay the ticket's), then under
 * analysis.instability the second copy and the path (the trained parameters kept in
 * c->branch_final meanwhile); reported with next (the source's next mask). A divergence fails
 * m only. */
static int member_round(family_t *f, ticket_t *c, tf_family_member_t *m, int round,
                        const float *next, tf_err_t *err) {
  tf_net_t *net = &c->net;
  const size_t np = net->n_params;
  double t0 = tf__clock_now();
  const int n_path = m->cfg.instability;
  if (n_path > 0) memcpy(c->start, net->params, np * sizeof *c->start);
  tf__ticket_clear_evals(c);
  begin_training(f, m, round);
  tf_err_t diverged = {0};
  int rc = tf__ticket_train_round(c, round, c->cfg->rewind, c->cfg->iterations, 1, &diverged);
  trained_t tr = {.on = c, .mask = net->mask, .final = net->params, .n_path = n_path};
  /* The path leaves the mask. */
  if (rc == 0 && n_path > 0) {
    memcpy(c->branch_final, net->params, np * sizeof *c->branch_final);
    tr.final = c->branch_final;
    rc = tf__ticket_path(c, round, c->branch_final, c->start, net->mask, n_path, 1,
                         &tr.instability, &diverged);
  }
  if (rc == TF_EDIVERGED) {
    member_fail(m, &diverged);
    return 0;
  }
  if (rc != 0) return pass_error(err, &diverged, rc);
  return report_round(f, m, round, &tr, next, tf__clock_now() - t0);
}

/* Round `round` >= 1 of transfer member i on its target: its control on the ticket's mask,
 * mapped onto the target's net, trained there. */
static int transfer_round(family_t *f, int i, int round, const float *next, tf_err_t *err) {
  ticket_t *src = &f->trunk;
  target_t *g = f->target[i];
  tf_family_member_t *m = &f->members[i];
  int rc = tf_ticket_control(&m->cfg, &src->net, src->theta_k, src->ticket_mask, round,
                             src->net.params, src->net.mask, err);
  if (rc < 0) return rc;
  map_to_target(src, g, src->net.params, src->net.mask, g->t.net.params, g->t.net.mask);
  return member_round(f, &g->t, m, round, next, err);
}

/* Whether member i reports what context c trained in round `round` as its own round: the
 * trunk's round 0 goes to every member without a transfer and its later rounds to the ticket
 * members; a target's round 0 (the dense network on it) to the members transferring there. */
static int shares(const family_t *f, int i, const ticket_t *c, int round) {
  const tf_family_member_t *m = &f->members[i];
  if (!member_runs(m, round)) return 0;
  if (c != &f->trunk) return round == 0 && f->target[i] != NULL && &f->target[i]->t == c;
  return round == 0 ? f->target[i] == NULL : is_ticket(m);
}

/* Reports round `round` of context c (trained: c->ticket_final under c->ticket_mask, its curve
 * in c->evals) to every member that shares it, each with its instability analysis from `start`
 * when it asks for one (one path per point count: the members share the network). */
static int shared_reports(family_t *f, ticket_t *t, int round, const float *start,
                          const float *next, double wall, tf_err_t *err) {
  int path_n = 0, path_rc = 0;
  float path_instability = NAN;
  double path_wall = 0.0;
  tf_err_t path_err = {0};
  for (int i = 0; i < f->n; i++) {
    tf_family_member_t *m = &f->members[i];
    if (!shares(f, i, t, round)) continue;
    trained_t tr = {.on = t, .mask = t->ticket_mask, .final = t->ticket_final,
                    .n_path = m->cfg.instability};
    if (tr.n_path > 0 && tr.n_path != path_n) {
      double p0 = tf__clock_now();
      begin_training(f, m, round);
      path_n = tr.n_path;
      path_rc = tf__ticket_path(t, round, t->ticket_final, start, t->ticket_mask, path_n, 1,
                                &path_instability, &path_err);
      if (path_rc != 0 && path_rc != TF_EDIVERGED) return pass_error(err, &path_err, path_rc);
      path_wall = tf__clock_now() - p0;
    }
    if (tr.n_path > 0 && path_rc == TF_EDIVERGED) {
      member_fail(m, &path_err);
      continue;
    }
    tr.instability = path_instability;
    int rc = report_round(f, m, round, &tr, next, wall + (tr.n_path > 0 ? path_wall : 0.0));
    if (rc != 0) return rc;
  }
  return 0;
}

/* Round 0 of target g, the dense network its members share: theta_0 on the target's net, trained
 * once with its curve and reported to each member transferring there. A divergence fails them. */
static int target_round0(family_t *f, target_t *g, const float *next, tf_err_t *err) {
  ticket_t *src = &f->trunk, *c = &g->t;
  tf_family_member_t *first = NULL;
  for (int i = 0; i < f->n && first == NULL; i++)
    if (shares(f, i, c, 0)) first = &f->members[i];
  if (first == NULL) return 0;
  const size_t np = c->net.n_params;
  double t0 = tf__clock_now();
  for (size_t j = 0; j < src->net.n_params; j++) src->net.mask[j] = 1.0f;
  map_to_target(src, g, src->theta0, src->net.mask, c->net.params, c->net.mask);
  tf__ticket_clear_evals(c);
  begin_training(f, first, 0);
  tf_err_t diverged = {0};
  int rc = tf__ticket_train_round(c, 0, 0, c->cfg->iterations, 1, &diverged);
  if (rc == TF_EDIVERGED) {
    for (int i = 0; i < f->n; i++)
      if (shares(f, i, c, 0)) member_fail(&f->members[i], &diverged);
    return 0;
  }
  if (rc != 0) return pass_error(err, &diverged, rc);
  memcpy(c->ticket_final, c->net.params, np * sizeof *c->ticket_final);
  memcpy(c->ticket_mask, c->net.mask, np * sizeof *c->ticket_mask);
  /* Round 0's second copies start where the two part: theta_k. */
  return shared_reports(f, c, 0, c->theta_k, next, tf__clock_now() - t0, err);
}

/* The trunk's round 0, the dense network every source member shares: trained once with its curve
 * and reported to every member that starts there (transfer members get their target's, trained
 * once per target). A divergence fails them all. */
static int family_round0(family_t *f, tf_err_t *err) {
  ticket_t *t = &f->trunk;
  tf_net_t *net = &t->net;
  const size_t np = net->n_params;
  double t0 = tf__clock_now();
  tf__ticket_clear_evals(t);
  begin_training(f, NULL, 0);
  tf_err_t diverged = {0};
  int rc = tf__ticket_train_round(t, 0, 0, t->cfg->iterations, 1, &diverged);
  if (rc == TF_EDIVERGED) {
    for (int i = 0; i < f->n; i++)
      if (member_active(&f->members[i])) member_fail(&f->members[i], &diverged);
    return 0;
  }
  if (rc != 0) return pass_error(err, &diverged, rc);
  memcpy(t->ticket_final, net->params, np * sizeof *net->params);
  memcpy(t->ticket_mask, net->mask, np * sizeof *net->mask);
  const float *next = tf__ticket_next_mask(t, 0, err, &rc);
  if (rc < 0) return rc;
  rc = snapshot(f, TF_SNAPSHOT_REWIND, t->theta_k);
  if (rc != 0) return rc;
  /* Round 0's second copies start where the two part: theta_k. */
  rc = shared_reports(f, t, 0, t->theta_k, next, tf__clock_now() - t0, err);
  for (int k = 0; rc == 0 && k < f->n_targets; k++) rc = target_round0(f, &f->targets[k], next, err);
  if (rc != 0) return rc;
  if (next != NULL) memcpy(t->ticket_mask, next, np * sizeof *t->ticket_mask);
  return 0;
}

/* Round `round` >= 1 of the trunk: the ticket trains on its mask from theta_k (with its curve
 * when a ticket member reports the round), its next mask is pruned, and the ticket members get
 * the round (each with its instability analysis when it asks for one). Needed before the last
 * round by every branch (for the next mask), in the last round only by a ticket member. A
 * divergence fails the ticket members, and before the last round every member (their next masks
 * are lost). *next: the ticket's mask for the next round, in t->next_mask. */
static int trunk_round(family_t *f, int round, const float **next, tf_err_t *err) {
  ticket_t *t = &f->trunk;
  tf_net_t *net = &t->net;
  const size_t np = net->n_params;
  tf_family_member_t *ticket = NULL;
  int any_path = 0;
  for (int i = 0; i < f->n; i++)
    if (shares(f, i, t, round)) {
      if (ticket == NULL) ticket = &f->members[i];
      any_path |= f->members[i].cfg.instability > 0;
    }
  *next = NULL;
  if (round == t->cfg->rounds && ticket == NULL) return 0;
  double t0 = tf__clock_now();
  int rc = tf_ticket_control(t->cfg, net, t->theta_k, t->ticket_mask, round, net->params,
                             net->mask, err);
  if (rc < 0) return rc;
  if (any_path) memcpy(t->start, net->params, np * sizeof *t->start);
  tf__ticket_clear_evals(t);
  begin_training(f, ticket, round);
  tf_err_t diverged = {0};
  rc = tf__ticket_train_round(t, round, t->cfg->rewind, t->cfg->iterations, ticket != NULL,
                              &diverged);
  if (rc == TF_EDIVERGED) {
    for (int i = 0; i < f->n; i++)
      if (member_active(&f->members[i]) &&
          (round < t->cfg->rounds || shares(f, i, t, round)))
        member_fail(&f->members[i], &diverged);
    return 0;
  }
  if (rc != 0) return pass_error(err, &diverged, rc);
  memcpy(t->ticket_final, net->params, np * sizeof *net->params);
  *next = tf__ticket_next_mask(t, round, err, &rc);
  if (rc < 0) return rc;
  return shared_reports(f, t, round, t->start, *next, tf__clock_now() - t0, err);
}

/* Round `round` >= 1 of source branch m (a control): its start from theta_k and the ticket's
 * mask, trained in the trunk's net (whose ticket has trained the round). */
static int branch_round(family_t *f, tf_family_member_t *m, int round, const float *next,
                        tf_err_t *err) {
  ticket_t *t = &f->trunk;
  int rc = tf_ticket_control(&m->cfg, &t->net, t->theta_k, t->ticket_mask, round, t->net.params,
                             t->net.mask, err);
  if (rc < 0) return rc;
  return member_round(f, t, m, round, next, err);
}

static int family_rounds(family_t *f, const uint8_t *mask_bits, tf_err_t *err) {
  ticket_t *t = &f->trunk;
  const tf_config_t *cfg = t->cfg;
  tf_net_t *net = &t->net;
  const size_t np = net->n_params;
  const int first = family_first_round(f);
  if (first > cfg->rounds) return 0;

  int rc = tf__ticket_draw_init(cfg, net, t->theta0, TF_STREAM_INIT, 0, 0, err);
  if (rc < 0) return rc;
  rc = snapshot(f, TF_SNAPSHOT_INIT, t->theta0);
  if (rc != 0) return rc;
  memcpy(net->params, t->theta0, np * sizeof *net->params);
  for (size_t i = 0; i < np; i++) net->mask[i] = 1.0f;

  if (first == 0) {
    rc = family_round0(f, err);
    if (rc != 0) return rc;
  } else {
    /* Resuming: theta_k is round 0's state at iteration k, recomputed bit for bit. */
    begin_training(f, NULL, 0);
    tf_err_t diverged = {0};
    rc = tf__ticket_train_round(t, 0, 0, cfg->rewind, 0, &diverged);
    if (rc == TF_EDIVERGED) {
      for (int i = 0; i < f->n; i++)
        if (member_active(&f->members[i])) member_fail(&f->members[i], &diverged);
      return 0;
    }
    if (rc != 0) return pass_error(err, &diverged, rc);
    rc = snapshot(f, TF_SNAPSHOT_REWIND, t->theta_k);
    if (rc != 0) return rc;
    tf_prune_unpack(net, mask_bits, t->ticket_mask);
  }

  for (int round = first > 1 ? first : 1; round <= cfg->rounds; round++) {
    if (family_first_round(f) > cfg->rounds) break; /* every member failed */
    const float *next = NULL;
    rc = trunk_round(f, round, &next, err);
    if (rc != 0) return rc;
    for (int i = 0; i < f->n; i++) {
      tf_family_member_t *m = &f->members[i];
      if (is_ticket(m) || !member_runs(m, round)) continue;
      rc = f->target[i] != NULL ? transfer_round(f, i, round, next, err)
                                : branch_round(f, m, round, next, err);
      if (rc != 0) return rc;
    }
    if (next != NULL) memcpy(t->ticket_mask, next, np * sizeof *t->ticket_mask);
  }
  return 0;
}

/* TF_EINPUT unless every member is the same task apart from the branch keys, with a start
 * round in 0 .. rounds + 1, the mask its first round needs and, transferring, its target. */
static int family_check(const tf_family_member_t *members, int n, const uint8_t *mask_bits,
                        tf_config_t *trunk, tf_err_t *err) {
  if (n < 1 || n > TF_FAMILY_MAX)
    return tf_err_set(err, TF_EINPUT, "a family has 1 to %d members, not %d", TF_FAMILY_MAX, n);
  tf_config_trunk(&members[0].cfg, trunk);
  int first = trunk->rounds + 1;
  for (int i = 0; i < n; i++) {
    tf_config_t other;
    tf_config_trunk(&members[i].cfg, &other);
    char why[256] = "";
    if (tf_config_diff(trunk, &other, why, sizeof why))
      return tf_err_set(err, TF_EINPUT, "family member %d differs from member 0 beyond the "
                        "branch keys (%s)", i, why);
    const int start = members[i].start_round;
    if (start < 0 || start > trunk->rounds + 1)
      return tf_err_set(err, TF_EINPUT, "cannot start a task of %d rounds at round %d",
                        trunk->rounds + 1, start);
    if (start < first) first = start;
    if (tf_config_transfer(&members[i].cfg) && members[i].target == NULL)
      return tf_err_set(err, TF_EINPUT, "family member %d transfers to %s without its dataset",
                        i, tf_config_target(&members[i].cfg));
  }
  if (first > 0 && first <= trunk->rounds && mask_bits == NULL)
    return tf_err_set(err, TF_EINPUT, "cannot start a family at round %d without its mask", first);
  return 0;
}

/* Whether members a and b transfer alike: one target dataset, optimiser and rate. */
static int same_transfer(const tf_config_t *a, const tf_config_t *b) {
  return strcmp(a->transfer, b->transfer) == 0 && a->transfer_optimizer == b->transfer_optimizer &&
         a->transfer_lr == b->transfer_lr;
}

/* Target g for member i's transfer (and every later member transferring alike): its net on the
 * target's classes, room for their largest instability analysis, and the output layer's draw
 * when the class count differs from the source's. */
static int target_setup(family_t *f, target_t *g, int i, tf_err_t *err) {
  const tf_family_member_t *m = &f->members[i];
  tf_config_t target;
  tf_config_target_config(&m->cfg, &target);
  tf_config_trunk(&target, &g->cfg);
  g->t.cfg = &g->cfg;
  g->t.data = m->target;
  g->t.poller = f->trunk.poller;
  int points = 0;
  for (int j = i; j < f->n; j++)
    if (tf_config_transfer(&f->members[j].cfg) && same_transfer(&m->cfg, &f->members[j].cfg)) {
      f->target[j] = g;
      if (f->members[j].cfg.instability > points) points = f->members[j].cfg.instability;
    }
  int rc = tf__ticket_setup(&g->t, 1, points, err);
  if (rc < 0) return rc;
  const tf_net_t *sn = &f->trunk.net, *tn = &g->t.net;
  const int out = tn->n_layers - 1;
  g->scratch = malloc(tn->n_params * sizeof *g->scratch);
  if (g->scratch == NULL) return tf_err_set(err, TF_ENOMEM, "out of memory for a transfer");
  if (tn->rows[out] == sn->rows[out]) return 0;
  g->out_init = malloc(tf_net_layer_weights(tn, out) * sizeof *g->out_init);
  if (g->out_init == NULL) return tf_err_set(err, TF_ENOMEM, "out of memory for a transfer");
  tf_rng_t rng;
  tf_rng_seed(&rng, g->cfg.seed, TF_STREAM_TRANSFER, 0, (uint64_t)out);
  return tf_init_fill_kernel(g->out_init, tn->rows[out], tn->cols[out], tn->rows[out],
                             tn->cols[out], &g->cfg.init, &rng, err);
}

static int family_setup(family_t *f, tf_err_t *err) {
  int points = 0;
  for (int i = 0; i < f->n; i++) {
    const tf_family_member_t *m = &f->members[i];
    if (!tf_config_transfer(&m->cfg) && m->cfg.instability > points) points = m->cfg.instability;
    if (f->trunk.poller == NULL && m->sink.poll != NULL) f->trunk.poller = &m->sink;
  }
  int rc = tf__ticket_setup(&f->trunk, 0, points, err);
  for (int i = 0; rc == 0 && i < f->n; i++)
    if (tf_config_transfer(&f->members[i].cfg) && f->target[i] == NULL)
      rc = target_setup(f, &f->targets[f->n_targets++], i, err);
  return rc;
}

static void family_free(family_t *f) {
  tf__ticket_free(&f->trunk);
  for (int k = 0; k < f->n_targets; k++) {
    tf__ticket_free(&f->targets[k].t);
    free(f->targets[k].out_init);
    free(f->targets[k].scratch);
  }
}

int tf_ticket_run_family(tf_family_member_t *members, int n, const tf_dataset_t *data,
                         const uint8_t *mask_bits, tf_err_t *err) {
  tf_config_t trunk;
  int rc = family_check(members, n, mask_bits, &trunk, err);
  if (rc < 0) return rc;
  family_t *f = calloc(1, sizeof *f);
  if (f == NULL) return tf_err_set(err, TF_ENOMEM, "out of memory for a family");
  f->trunk = (ticket_t){.cfg = &trunk, .data = data};
  f->members = members;
  f->n = n;
  for (int i = 0; i < n; i++) {
    members[i].outcome = 0;
    members[i].err = (tf_err_t){0};
  }
  rc = family_setup(f, err);
  if (rc == 0) rc = family_rounds(f, mask_bits, err);
  if (rc > 0) rc = tf_err_set(err, TF_EINTERRUPTED, "task interrupted");
  family_free(f);
  free(f);
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
