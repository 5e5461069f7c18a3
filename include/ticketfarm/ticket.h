/* One task: train the dense net, prune, rewind (or apply a control), retrain, for every round.
 * Knows neither MPI nor HDF5: results leave through a sink of callbacks. */
#ifndef TICKETFARM_TICKET_H
#define TICKETFARM_TICKET_H

#include <stddef.h>
#include <stdint.h>

#include "ticketfarm/config.h"
#include "ticketfarm/error.h"
#include "ticketfarm/report.h"

/* The dataset (data.h) and the network (net.h): only their callers need the definitions. */
struct tf_dataset;
struct tf_net;

/* A task's shape: what its configuration and dataset imply for the arrays it produces. */
typedef struct tf_ticket_shape {
  int32_t n_train, n_test;            /* dataset images (n_train before the validation split);
                                       * a transfer's: the target's */
  int32_t input_dim, classes;         /* dataset pixels per image and classes (the target's) */
  int n_rounds;                       /* prune.rounds + 1 */
  long eval_every;                    /* train.eval_every */
  int n_evals;                        /* iterations / eval_every + 1: the whole eval axis */
  int n_layers;                       /* weight layers: convolutions, hidden layers, output */
  int n_conv;                         /* layers 0 .. n_conv-1 are convolutions */
  int64_t layer_size[TF_MAX_LAYERS];  /* prunable weights per layer, rows * cols */
  int layer_rows[TF_MAX_LAYERS];      /* W_l (rows, cols): (fan_out, fan_in) of a dense layer, */
  int layer_cols[TF_MAX_LAYERS];      /* (out_c, in_c * k * k) of a convolution */
  size_t n_weights;                   /* prunable weights, the sum of layer_size */
  double macs;                        /* multiply-adds of one image's forward pass: n_weights
                                       * for dense layers, times the output pixels for a
                                       * convolution */
  size_t n_params;                    /* weights and biases, the parameter slab */
  size_t mask_bytes;                  /* one bit per prunable weight, (n_weights + 7) / 8 */
  size_t trunk_mask_bytes;            /* the same for the source's net, whose masks a resume
                                       * starts from: mask_bytes unless a transfer target has
                                       * another class count */
} tf_ticket_shape_t;

/* Rank-local: the shape of the task cfg describes. TF_EINPUT for an unknown dataset or a
 * configuration without a shape (eval_every <= 0, negative iterations or rounds, too many hidden
 * layers, a model.conv the dataset's images cannot go through). */
int tf_ticket_shape(const tf_config_t *cfg, tf_ticket_shape_t *shape, tf_err_t *err);


/* Where results go. Any callback may be NULL. A callback returning non-zero stops the task with
 * that code (a negative TF_E* code). */
typedef struct tf_ticket_sink {
  void *ctx;
  /* theta_0 before round 0 trains, and theta_k once round 0 has trained (or, resuming, been
   * retrained up to the rewind iteration k); a transfer member gets them on its target's net. */
  int (*snapshot)(void *ctx, tf_snapshot_t which, const float *params, size_t n_params);
  int (*round_done)(void *ctx, const tf_round_t *round);
  /* Called between training steps, every few milliseconds of work: a place to serve MPI
   * requests or notice a signal. Returning non-zero interrupts the task. */
  int (*poll)(void *ctx);
  /* Called when training for this task begins (its own round, or the trunk's or round 0's that it
   * is charged with: the ticket member's, or the first member's): where a crash is charged. */
  void (*training)(void *ctx);
} tf_ticket_sink_t;

/* Where a task starts: from scratch, or at a later round of an interrupted run. */
typedef struct tf_ticket_start {
  int round;                /* first round to train; 0 = from scratch */
  const uint8_t *mask_bits; /* for round > 0: the ticket's mask for that round, as handed out in
                             * tf_round_t.next_mask_bits of the round before */
} tf_ticket_start_t;

/* Runs the rounds of the task described by cfg on data, from start (NULL = from scratch); a
 * transfer (tf_config_transfer) needs its target's dataset: tf_ticket_run_family.
 * Rank-local, deterministic: the same cfg and data give the same bits on any rank, and a run
 * resumed at round r gives the same bits for rounds r.. as an uninterrupted one (theta_0 is
 * redrawn, theta_k retrained for k iterations; both snapshots are handed out again).
 * Returns 0; TF_EDIVERGED when a loss becomes NaN or infinite (the message names the round and
 * iteration); TF_ENOMEM; TF_EINTERRUPTED when poll asked to stop; or a sink's code. */
int tf_ticket_run(const tf_config_t *cfg, const struct tf_dataset *data,
                  const tf_ticket_start_t *start, const tf_ticket_sink_t *sink, tf_err_t *err);

/* One member of a family: a task of the sweep, its sink and its outcome. */
typedef struct tf_family_member {
  tf_config_t cfg;       /* the task; apart from the branch keys every member's is equal */
  const struct tf_dataset *target; /* a transfer member's target (tf_config_target's dataset);
                                    * NULL for the others */
  int start_round;       /* its first round to run: 0, or its finished rounds on a resume;
                          * cfg.rounds + 1: nothing left to run */
  tf_ticket_sink_t sink; /* where its results go */
  int outcome;           /* out: 0 when it ran to its end, TF_EDIVERGED when it failed */
  tf_err_t err;          /* out: why it failed */
} tf_family_member_t;

/* Runs a family: tasks that differ only in the branch keys (control, control_seed, transfer.*,
 * analysis.instability) share one trunk, the ticket's rounds on data. Round 0 (the dense network)
 * trains once; then each round trains the ticket once, with its curve when a ticket member (no
 * transfer) reports the round and without it otherwise (its mask and weights are the same
 * either way), prunes the next round's mask from it, and trains each other member on the
 * ticket's mask as its control says: on data, or for a transfer member on its target (round 0:
 * the dense network from theta_0 on the target). A member with analysis.instability trains a
 * second copy of each round and evaluates the linear path (tf_round_t.path_errors). Every
 * member's rows are bit-identical to tf_ticket_run of its task alone. Each member starts at its
 * own start_round; mask_bits is the ticket's mask for the family's first round (the lowest
 * start) when that is above 0 (tf_round_t.next_mask_bits of the round before, from any member).
 * A member whose training diverges fails alone (outcome, err) and the others go on; a divergence
 * of the trunk before the last round, or of round 0, fails every member still running.
 * Rank-local. Returns 0 when every member ran to its end or failed; TF_EINPUT (members that are
 * not one family, a bad start, a transfer member without its target); TF_ENOMEM;
 * TF_EINTERRUPTED when poll asked to stop; or a sink's code. */
int tf_ticket_run_family(tf_family_member_t *members, int n, const struct tf_dataset *data,
                         const uint8_t *mask_bits, tf_err_t *err);

/* The parameters and mask round `round` (>= 1) trains from, given the rewind point theta_k and the
 * ticket's mask for that round (both in net layout). ticket: theta_k on the mask. reinit: a fresh
 * draw of the initialiser from TF_STREAM_REINIT(seed, round, layer; control_seed) on the mask.
 * sign_reinit: the fresh draw's magnitudes with theta_k's signs, on the mask. sparse_reinit: the
 * fresh draw with each row (unit) multiplied by tf_init_row_gain of its surviving fan-in, on the
 * mask. random_mask: theta_k on a random mask with the ticket's per-layer counts
 * (tf_prune_random on TF_STREAM_MASK(seed, round, layer; control_seed), round 1 for every round
 * under prune.random nested). Biases are theta_k's in every control; pruned weights are exactly
 * 0. Rank-local, deterministic. */
int tf_ticket_control(const tf_config_t *cfg, const struct tf_net *net, const float *theta_k,
                      const float *ticket_mask, int round, float *params, float *mask,
                      tf_err_t *err);

/* The permutation of the training split (train_idx, n_train images) that epoch `epoch` of round
 * `round` trains in, into order: a shuffle from TF_STREAM_ORDER(seed, epoch, round), the round
 * word 0 under data.order fixed. It depends on neither the initialiser nor the control, so every
 * initialiser and control of a seed sees the same batches in a round, and a round rewound to k
 * resumes its own order at k; round 0's is the same under both orders (the round word is 0, as
 * it was before the order took a round). Rank-local. */
void tf_ticket_epoch_order(const tf_config_t *cfg, int round, long epoch, const int32_t *train_idx,
                           int32_t n_train, int32_t *order);

/* The first round (1 .. cfg->rounds) whose mask a layer's one-weight floor holds back — a round
 * never removes a layer's last weight, so from there on that layer keeps fewer pruned than its
 * rate asks — with that layer in *layer; 0 when no round reaches it. Layerwise scope: exact,
 * as the counts depend on no weight. Global scope: an estimate at the mean density (each layer
 * keeping the share of its weights the whole net keeps), as the per-layer split depends on the
 * weights. Excluded layers never reach it. Rank-local. */
int tf_ticket_floor_round(const tf_config_t *cfg, int *layer);

/* Relative cost of a task run alone (multiply-adds of training and evaluation; a control's
 * training of the ticket included), for planning and longest-first scheduling. A family's is
 * tf_family_cost. */
double tf_ticket_cost(const tf_config_t *cfg);

/* The task's own training and evaluation in round `round` (0 .. cfg->rounds); 0 outside. */
double tf_ticket_round_cost(const tf_config_t *cfg, int round);

/* The training (without evaluation) of the ticket in round `round` that a control needs for the
 * next round's mask when no ticket of its family reports the round: rounds 1 .. rounds - 1. */
double tf_ticket_replay_cost(const tf_config_t *cfg, int round);

/* Rank-local: the bytes of memory one rank allocates to run the task cfg describes (every
 * parameter slab copy, the optimiser's state, masks, the activations of the training batch or
 * evaluation chunk, pruning's keys and the sparse layers at their largest), from tf_ticket_shape;
 * without the datasets (shared by the ranks of a node) and the libraries' own memory. */
int tf_ticket_memory(const tf_config_t *cfg, double *bytes, tf_err_t *err);

#endif
