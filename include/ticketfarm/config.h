/* The settings of one task: every sweep key, typed, with Frankle & Carbin's LeNet-300-100 defaults. */
#ifndef TICKETFARM_CONFIG_H
#define TICKETFARM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "ticketfarm/conv.h"
#include "ticketfarm/error.h"

#define TF_MAX_HIDDEN 8
#define TF_MAX_CONV 16 /* model.conv entries: convolutions and pool markers */
/* weight layers: convolutions, hidden layers and the output layer */
#define TF_MAX_LAYERS (TF_MAX_CONV + TF_MAX_HIDDEN + 1)
#define TF_CONV_POOL 0 /* a model.conv entry: 2x2 max-pooling of the convolution before it */
#define TF_NAME_MAX 128
#define TF_MAX_MILESTONES 8 /* train.milestones: at most as many as hidden layers, one value list */
/* train.sparse_below's default: the density below which LeNet-300-100 trains and evaluates
 * faster on the sparse kernels than on SGEMM with a mask, one thread, measured with
 * tests/bench_layer.c: crossing at 0.78 for a training step and 0.68 for evaluation on AVX-512
 * against OpenBLAS's Haswell kernels, near 0.6 for both on AVX2 (AMD EPYC, OpenBLAS's Zen
 * kernels); the lower figure, so that no layer trains slower sparse than dense on either. */
#define TF_SPARSE_BELOW_DEFAULT 0.6

typedef enum { TF_OPT_SGD, TF_OPT_MOMENTUM, TF_OPT_ADAM, TF_OPT_COUNT } tf_optimizer_kind_t;
/* data.normalize: how pixels become inputs */
typedef enum {
  TF_NORMALIZE_UNIT,        /* p / 255, in [0, 1] */
  TF_NORMALIZE_STANDARDIZE, /* (p / 255 - mean) / std, the training split's one scalar pair */
  TF_NORMALIZE_L2,          /* p / 255 scaled to unit L2 norm per image */
  TF_NORMALIZE_COUNT
} tf_normalize_t;
typedef enum { TF_SCOPE_LAYERWISE, TF_SCOPE_GLOBAL, TF_SCOPE_COUNT } tf_prune_scope_t;
/* When the test set is evaluated: at every evaluation, or only where the validation loss reaches
 * a new strict minimum of its round and at the round's last evaluation. */
typedef enum { TF_TEST_EVAL_EVERY, TF_TEST_EVAL_AT_BEST, TF_TEST_EVAL_COUNT } tf_test_eval_t;
typedef enum { TF_ORDER_PER_ROUND, TF_ORDER_FIXED, TF_ORDER_COUNT } tf_data_order_t;
typedef enum { TF_RANDOM_INDEPENDENT, TF_RANDOM_NESTED, TF_RANDOM_COUNT } tf_prune_random_t;
/* prune.exclude: bit l excludes weight layer l; TF_EXCLUDE_OUTPUT the last one, whatever its
 * index. */
#define TF_EXCLUDE_OUTPUT (1u << TF_MAX_LAYERS)
typedef enum {
  TF_CONTROL_TICKET,      /* survivors rewound to theta_k */
  TF_CONTROL_REINIT,      /* the ticket's mask, fresh weights from the same initialiser */
  TF_CONTROL_SIGN_REINIT, /* the ticket's mask, fresh magnitudes with theta_k's signs */
  TF_CONTROL_RANDOM_MASK, /* the ticket's per-layer counts at random positions, theta_k weights */
  TF_CONTROL_SPARSE_REINIT, /* reinit with each unit's scale from its surviving fan-in */
  TF_CONTROL_COUNT
} tf_control_t;

typedef enum {
  TF_INIT_GLOROT_NORMAL,
  TF_INIT_GLOROT_UNIFORM,
  TF_INIT_HE_NORMAL,
  TF_INIT_HE_UNIFORM,
  TF_INIT_LECUN_NORMAL,
  TF_INIT_LECUN_UNIFORM,
  TF_INIT_ORTHOGONAL,       /* param: gain */
  TF_INIT_TRUNCATED_NORMAL, /* param: sigma before truncation */
  TF_INIT_NORMAL,           /* param: sigma */
  TF_INIT_UNIFORM,          /* param: a, U(-a, a) */
  TF_INIT_SIGNED_CONSTANT,  /* +-sqrt(2/fan_in), random signs */
  /* Keras's truncated variants: the variance of the untruncated kind kept, cut at 2 sigma */
  TF_INIT_GLOROT_NORMAL_TRUNCATED,
  TF_INIT_HE_NORMAL_TRUNCATED,
  TF_INIT_LECUN_NORMAL_TRUNCATED,
  TF_INIT_COUNT
} tf_init_kind_t;

/* An initialiser and its one optional parameter ("normal(0.05)"); param is NaN when the
 * initialiser takes none. */
typedef struct tf_init_spec {
  tf_init_kind_t kind;
  double param;
} tf_init_spec_t;

/* model.preset: a named network; none = the one model.conv and model.hidden describe. */
typedef enum {
  TF_PRESET_NONE,
  TF_PRESET_LENET300, /* 300, 100 */
  TF_PRESET_LENET5,   /* 6@5x5 same, pool, 16@5x5 valid, pool; 120, 84 */
  TF_PRESET_CONV2,    /* 3x3 same: 64, 64, pool; 256, 256 */
  TF_PRESET_CONV4,    /* 3x3 same: 64, 64, pool, 128, 128, pool; 256, 256 */
  TF_PRESET_CONV6,    /* 3x3 same: 64, 64, pool, 128, 128, pool, 256, 256, pool; 256, 256 */
  TF_PRESET_COUNT
} tf_model_preset_t;

/* The network a configuration describes, its preset expanded: convolutions (stride 1, ReLU, each
 * optionally followed by 2x2 max-pooling), then hidden dense layers, then the output layer. */
typedef struct tf_model {
  int n_conv;                        /* convolution layers */
  int channels[TF_MAX_CONV];         /* output channels of convolution i */
  int kernel[TF_MAX_CONV];           /* its kernel size */
  tf_conv_padding_t padding[TF_MAX_CONV];
  int pool[TF_MAX_CONV];             /* 2x2 max-pooling after it */
  int n_hidden;
  int hidden[TF_MAX_HIDDEN];
} tf_model_t;

enum { TF_RECORD_INIT = 1u << 0, TF_RECORD_REWIND = 1u << 1, TF_RECORD_FINAL = 1u << 2 };

typedef struct tf_config {
  char name[TF_NAME_MAX]; /* name: */
  char dataset[32];       /* data.dataset: "mnist" | "fashion-mnist" */
  int validation;         /* data.validation: images held out of the training set */
  tf_normalize_t normalize; /* data.normalize */
  tf_data_order_t order;  /* data.order: minibatch order from (seed, round, epoch) or (seed, epoch) */
  int n_hidden;           /* model.hidden: layer widths, input and output from the data */
  int hidden[TF_MAX_HIDDEN];
  tf_model_preset_t preset;      /* model.preset */
  int n_conv;                    /* model.conv: channel counts and TF_CONV_POOL markers */
  int conv[TF_MAX_CONV];
  int kernel;                    /* model.kernel */
  tf_conv_padding_t padding;     /* model.padding */
  double conv_rate;              /* prune.conv_rate: prune.rate for convolution layers */
  tf_optimizer_kind_t optimizer; /* train.optimizer */
  double lr;                     /* train.lr */
  double momentum;               /* train.momentum (momentum: heavy-ball coefficient) */
  double beta1, beta2, eps;      /* train.beta1, train.beta2, train.eps (adam) */
  double weight_decay;           /* train.weight_decay: L2 coefficient added to every gradient */
  int nesterov;                  /* train.nesterov: 0 or 1 (momentum) */
  long warmup;                   /* train.warmup: iterations of linear learning-rate warm-up */
  int n_milestones;              /* train.milestones: iterations at which the rate is multiplied */
  long milestones[TF_MAX_MILESTONES]; /* by train.gamma, strictly increasing */
  double gamma;                  /* train.gamma */
  int batch;                     /* train.batch */
  long iterations;               /* train.iterations: per round */
  int eval_every;                /* train.eval_every */
  tf_test_eval_t test_eval;      /* train.test_eval */
  double sparse_below;           /* train.sparse_below: a layer of lower density trains on sparse
                                  * kernels, the others dense; 0 = never sparse */
  tf_init_spec_t init;           /* init */
  int rounds;                    /* prune.rounds: rounds after the dense round 0 */
  double rate;                   /* prune.rate: fraction of remaining weights removed per round */
  double output_rate;            /* prune.output_rate: same for the output layer (layerwise) */
  tf_prune_scope_t scope;        /* prune.scope */
  long rewind;                   /* prune.rewind: iteration k whose weights survivors return to */
  unsigned exclude;              /* prune.exclude: layers left unpruned, bits as TF_EXCLUDE_OUTPUT */
  tf_prune_random_t random;      /* prune.random: random_mask positions per round or nested */
  tf_control_t control;          /* control */
  uint64_t seed;                 /* seed */
  uint64_t control_seed;         /* control_seed: mixed into the control draws only */
  char transfer[32];             /* transfer.dataset: "none" or the target dataset's name */
  int transfer_optimizer;        /* transfer.optimizer: 0 = train.optimizer's, else the
                                  * tf_optimizer_kind_t + 1 the target trains with */
  double transfer_lr;            /* transfer.lr: 0 = train.lr, else the target's rate */
  int instability;               /* analysis.instability: points on the linear path, 0 = off */
  unsigned record_weights;       /* record.weights: TF_RECORD_* bits */
} tf_config_t;

/* Fills cfg with the documented defaults (LeNet-300-100 on MNIST as in Frankle & Carbin 2019). */
void tf_config_default(tf_config_t *cfg);

/* Checks the rules that tie several keys together (rewind < iterations, iterations and rewind
 * multiples of eval_every, batch no larger than the training images left after validation).
 * Returns 0 or TF_EINPUT with a message naming the keys. */
int tf_config_check(const tf_config_t *cfg, tf_err_t *err);

/* Compares two configurations key by key. Returns 0 when every key that shapes results is equal;
 * otherwise 1, with "KEY: A vs B" for the first difference written into buf. Every field of
 * tf_config_t must be compared here. */
int tf_config_diff(const tf_config_t *a, const tf_config_t *b, char *buf, size_t size);

/* The network cfg describes: model.preset's, or else model.conv (model.kernel and model.padding
 * for every convolution) and model.hidden. Rank-local. */
void tf_config_model(const tf_config_t *cfg, tf_model_t *model);

/* Names as written in sweep files; NULL for an out-of-range value. */
const char *tf_config_optimizer_name(tf_optimizer_kind_t kind);
const char *tf_config_preset_name(tf_model_preset_t preset);
const char *tf_config_padding_name(tf_conv_padding_t padding);
const char *tf_config_scope_name(tf_prune_scope_t scope);
const char *tf_config_control_name(tf_control_t control);
const char *tf_config_test_eval_name(tf_test_eval_t when);
const char *tf_config_normalize_name(tf_normalize_t normalize);
const char *tf_config_order_name(tf_data_order_t order);
const char *tf_config_random_name(tf_prune_random_t random);

/* Whether the task is a transfer (a transfer.dataset other than data.dataset, or a
 * transfer.optimizer or rate): its rounds train the source ticket of each round on the target.
 * transfer.dataset equal to data.dataset alone is the task's own rounds, so a grid of both
 * datasets on both axes holds each target's own tickets beside the transferred ones. */
int tf_config_transfer(const tf_config_t *cfg);

/* The dataset the task's rounds train and are evaluated on: transfer.dataset when set, else
 * data.dataset. */
const char *tf_config_target(const tf_config_t *cfg);

/* cfg with every branch key (control, control_seed, transfer.*, analysis.instability) at its
 * default: the trunk a family of such tasks shares. */
void tf_config_trunk(const tf_config_t *cfg, tf_config_t *trunk);

/* The configuration a transfer task's target trains under: data.dataset the target, the
 * optimiser and rate transfer's; cfg itself when it is no transfer. */
void tf_config_target_config(const tf_config_t *cfg, tf_config_t *target);

/* Whether prune.exclude leaves weight layer l of n_layers unpruned. */
int tf_config_excluded(const tf_config_t *cfg, int l, int n_layers);

#endif
