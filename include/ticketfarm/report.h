/* What a task reports: its evaluations, its finished rounds and its parameter snapshots, as the
 * ticket hands them to its sink and the results file stores them. */
#ifndef TICKETFARM_REPORT_H
#define TICKETFARM_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "ticketfarm/config.h"

/* One evaluation point of a round. */
typedef struct tf_eval {
  long iteration;   /* j * eval_every */
  float train_loss; /* mean training-batch loss since the previous evaluation; NaN at the start */
  float val_loss, val_acc;   /* on the held-out validation images */
  float test_loss, test_acc; /* on the 10,000 test images; accuracies are fractions */
} tf_eval_t;

/* What one finished round hands to the sink. Pointers are valid during the callback only. */
typedef struct tf_round {
  int round;                     /* 0 = dense */
  int n_layers;
  long remaining[TF_MAX_LAYERS]; /* unpruned weights per layer while training this round */
  long total[TF_MAX_LAYERS];     /* weights per layer */
  double density;                /* sum(remaining) / sum(total) */
  int n_evals;                   /* iterations / eval_every + 1: the whole eval axis */
  int first_eval;                /* rounds > 0 start at rewind / eval_every; earlier are NaN */
  const tf_eval_t *evals;        /* (n_evals) */
  int early_stop;                /* index into evals of the minimum validation loss (first) */
  const uint8_t *mask_bits;      /* mask trained this round, tf_prune_pack layout (a transfer:
                                  * the source ticket's mask on the target's net) */
  const uint8_t *next_mask_bits; /* the ticket's mask for round + 1, the state a resumed task
                                  * starts from; NULL after the last round */
  size_t mask_bytes;
  size_t next_mask_bytes;        /* the ticket's (the source net's) mask bytes: mask_bytes unless
                                  * a transfer target has another class count; 0 = mask_bytes */
  const float *final;            /* parameters at the round's last iteration (n_params) */
  size_t n_params;
  double wall_s;                 /* training and evaluation time of the round */
  int n_path;                    /* analysis.instability: points on the linear path; 0 = off */
  const float *path_errors;      /* (n_path) test error at alpha = i / (n_path - 1) */
  float instability;             /* largest path error minus the mean of the ends; NaN if off */
} tf_round_t;

typedef enum { TF_SNAPSHOT_INIT, TF_SNAPSHOT_REWIND } tf_snapshot_t;

#endif
