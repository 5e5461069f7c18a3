/* Internal to the task's sources: ticket.c trains one net on one dataset (the primitives below),
 * ticket_family.c runs a family's trunk and branches with them, ticket_plan.c prices tasks. */
#ifndef TICKETFARM_TICKET_INTERNAL_H
#define TICKETFARM_TICKET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ticketfarm/config.h"
#include "ticketfarm/data.h"
#include "ticketfarm/net.h"
#include "ticketfarm/optim.h"
#include "ticketfarm/rng.h"
#include "ticketfarm/ticket.h"

/* Evaluation runs through the net in chunks of this many images; part of the results'
 * definition (float sums depend on it), so it is a constant, not a tuning knob. */
#define EVAL_CHUNK 1000
/* The same for a net with convolutions, whose activations for a chunk take memory in proportion:
 * Conv-6's first layers hold 64 x 32 x 32 floats per image, 26 MB per buffer for 100 images. */
#define CONV_EVAL_CHUNK 100

/* One net training on one dataset: the family's trunk (the source), or a transfer target. */
typedef struct ticket {
  const tf_config_t *cfg;
  const tf_dataset_t *data;
  const tf_ticket_sink_t *poller; /* the sink whose poll hook runs between steps */
  tf_net_t net;
  tf_optim_t opt;
  tf_split_t split;
  tf_data_norm_t norm; /* data.normalize's map, applied to every gathered batch */
  int32_t *test_idx;   /* (n_test): 0..n_test-1, so test images gather like validation ones */
  int32_t *order;      /* (n_train split): the current epoch's permutation */
  long order_epoch;    /* epoch whose permutation `order` holds; -1 = none */
  int order_round;     /* round whose order `order` holds (0 under data.order fixed) */
  int order_copy;      /* copy whose order `order` holds */
  int copy;            /* the data order's copy word: 0 the round's own order, 1 an instability
                        * analysis's second copy's */
  int second;          /* training a second copy: round 0 leaves theta_k alone */
  int32_t *y;          /* (max_batch) gathered labels */
  int eval_chunk;      /* images evaluated at once: EVAL_CHUNK, or CONV_EVAL_CHUNK */
  float *theta0;       /* (n_params) initial parameters */
  float *theta_k;      /* (n_params) parameters at the rewind iteration of round 0 */
  float *ticket_final; /* (n_params) the ticket's (a target: the member's) trained parameters */
  float *ticket_mask;  /* (n_params) the ticket's mask of the round being trained, net layout */
  float *next_mask;    /* (n_params) the ticket's mask for the next round, net layout */
  uint8_t *bits;       /* (packed mask bytes) the mask trained in the round being reported */
  uint8_t *next_bits;  /* (packed mask bytes) the ticket's mask for the next round */
  tf_eval_t *evals;    /* (n_evals) */
  int n_evals;
  float best_val;      /* the round's lowest validation loss so far (train.test_eval at_best) */
  /* The instability analysis (analysis.instability > 0 in some member), else NULL: */
  float *start;        /* (n_params) where the round's training began */
  float *branch_final; /* (n_params) a branch's (control's, transfer's) trained parameters */
  float *copy2;        /* (n_params) the second copy's trained parameters */
  float *path_errors;  /* (instability points) test errors on the linear path */
  int path_max;        /* room in path_errors */
} ticket_t;

/* Builds t's net for data (t->cfg, t->data set; the classes of data, which must match the
 * configuration's dataset unless any_classes), its optimiser, split, normalisation and buffers;
 * with path_points > 0 the instability analysis's too. */
int tf__ticket_setup(ticket_t *t, int any_classes, int path_points, tf_err_t *err);
void tf__ticket_free(ticket_t *t);

/* Weights of every layer from the initialiser, each layer from its own stream (purpose, round,
 * layer; variant), biases zero. */
int tf__ticket_draw_init(const tf_config_t *cfg, const tf_net_t *net, float *params,
                         tf_stream_t purpose, int round, uint64_t variant, tf_err_t *err);

/* Trains t->net from its params and mask, iterations [start, end) of round `round`, with the
 * curve into t->evals when evaluate_curve; see ticket.c. */
int tf__ticket_train_round(ticket_t *t, int round, long start, long end, int evaluate_curve,
                           tf_err_t *err);

/* Resets t->evals to NaN at every point. */
void tf__ticket_clear_evals(ticket_t *t);

/* Index of the first lowest validation loss in t->evals from `first` on. */
int tf__ticket_early_stop(const ticket_t *t, int first);

/* The ticket's mask for the round after `round`, pruned from t->ticket_final into t->next_mask;
 * NULL after the last round (and *rc 0) or on an error (*rc < 0). */
const float *tf__ticket_next_mask(ticket_t *t, int round, tf_err_t *err, int *rc);

/* The instability analysis of round `round`, whose training gave w1 (not t->net.params): a
 * second copy trains from `start` on `mask` (iterations rewind .. end) in the data order of
 * copy word `copy` (1 in a run: its own order; 0 replays the first copy's order, so the copies
 * are identical), then the test error (1 - accuracy) of (1 - alpha) w1 + alpha w2 at n evenly
 * spaced alpha in [0, 1], on the same kernels as training, goes into t->path_errors and the
 * largest minus the mean of the two ends into *instability. The net is left holding the path's
 * last point. Returns 0, TF_EDIVERGED when the second copy diverges, or poll's code. */
int tf__ticket_path(ticket_t *t, int round, const float *w1, const float *start,
                    const float *mask, int n, int copy, float *instability, tf_err_t *err);

#endif
