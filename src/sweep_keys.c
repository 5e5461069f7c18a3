/* The sweep keys: their table (documentation, type, bounds) and their values read from YAML
 * nodes, applied to a config, written as text and ordered. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep_internal.h"
#include "ticketfarm/data.h"
#include "ticketfarm/init.h"
#include "ticketfarm/text.h"

#define HIDDEN_WIDTH_MAX 100000
#define LONG_COUNT_MAX 1000000000LL /* iterations and rewind: far beyond any sweep's budget */

const tf_sweep_key_t tf__sweep_key_docs[KEY_COUNT] = {
    {"name", "string", "\"\"", "Free text naming the sweep, stored in the results file."},
    {"data.dataset", "string", "mnist", "The dataset: mnist, fashion-mnist or cifar10."},
    {"data.validation", "integer", "5000",
     "Images held out of the training set to find the early-stopping iteration: at least 1 "
     "and fewer than the dataset's training images."},
    {"data.normalize", "string", "unit",
     "How pixels p become inputs: unit (p / 255, in [0, 1]), standardize ((p / 255 - mean) / "
     "std with the training split's mean and standard deviation over every pixel of each "
     "channel, for the validation and test images too; near open_lth's 0.1307/0.3081, the pair "
     "of all 60,000 MNIST training images; one pair per colour channel for CIFAR-10) or l2 "
     "(p / 255 scaled to unit L2 norm per image, as Frankle's TF code)."},
    {"data.order", "string", "per_round",
     "Minibatch order: per_round (each epoch's permutation from seed, round and epoch, so each "
     "round draws fresh SGD noise while every initialiser and control of a seed sees the same "
     "batches in a round, and a round rewound to k resumes its own order at k; round 0's order "
     "is the fixed one) or fixed (from seed and epoch only: every round replays round 0's "
     "batches)."},
    {"model.hidden", "list of integers", "[300, 100]",
     "Hidden layer widths, 0 to 8 layers of 1 to 100000 units; the input and output sizes "
     "come from the dataset."},
    {"model.preset", "string", "none",
     "A named network instead of model.conv and model.hidden: lenet300 (300, 100), lenet5 "
     "(6@5x5 same, pool, 16@5x5 valid, pool; 120, 84), conv2 (3x3 same: 64, 64, pool; 256, "
     "256), conv4 (conv2's convolutions then 128, 128, pool) or conv6 (conv4's then 256, 256, "
     "pool); none to describe it with the other model keys."},
    {"model.conv", "list", "[]",
     "Convolution layers before the hidden ones: output channel counts (1 to 4096) and pool "
     "markers, each a 2x2 max-pooling of the convolution before it, as in [64, 64, pool]; "
     "stride 1, ReLU, at most 16 entries."},
    {"model.kernel", "integer", "3", "Kernel size of every model.conv convolution, 1 to 31."},
    {"model.padding", "string", "same",
     "Zero padding of every model.conv convolution: same (the output keeps the input's size) "
     "or valid (none: kernel - 1 rows and columns fewer)."},
    {"train.optimizer", "string", "adam", "The optimiser: sgd, momentum (heavy ball) or adam."},
    {"train.lr", "real", "1.2e-3", "The learning rate, greater than 0."},
    {"train.momentum", "real", "0.9",
     "The heavy-ball coefficient of the momentum optimiser, in [0, 1)."},
    {"train.beta1", "real", "0.9", "Adam's decay rate of the gradient mean, in [0, 1)."},
    {"train.beta2", "real", "0.999", "Adam's decay rate of the squared gradient mean, in [0, 1)."},
    {"train.eps", "real", "1.0e-8", "Adam's term added to the denominator, greater than 0."},
    {"train.weight_decay", "real", "0",
     "L2 coefficient, at least 0: weight_decay * p is added to the gradient of every weight "
     "and bias before the optimiser's step, as PyTorch's SGD and Adam weight_decay (not "
     "AdamW); pruned weights stay exactly 0."},
    {"train.nesterov", "boolean", "false",
     "Nesterov momentum, as PyTorch's SGD(nesterov=True): p -= lr * (g + momentum * m); used "
     "by the momentum optimiser only."},
    {"train.warmup", "integer", "0",
     "Iterations of linear learning-rate warm-up, at most train.iterations: iteration i < "
     "warmup (from 0) uses lr * i / warmup, as open_lth."},
    {"train.milestones", "list of integers", "[]",
     "Iterations, strictly increasing, below train.iterations and at most 8, at each of which "
     "the learning rate is multiplied by train.gamma (iteration i uses gamma^(milestones <= "
     "i)), as PyTorch's MultiStepLR; a round rewound to k resumes the schedule at k."},
    {"train.gamma", "real", "0.1",
     "Factor applied to the learning rate at each of train.milestones, in (0, 1]."},
    {"train.batch", "integer", "60",
     "Images per minibatch, at least 1 and at most the training images left after "
     "data.validation."},
    {"train.iterations", "integer", "50000",
     "Training iterations per round, 1 to 1000000000 and a multiple of train.eval_every."},
    {"train.eval_every", "integer", "100",
     "Iterations between two evaluations of validation loss and test accuracy, at least 1."},
    {"train.test_eval", "string", "every",
     "every (the test set at every evaluation: full test curves) or at_best (the test set only "
     "where the validation loss reaches a new strict minimum of its round, and at the round's "
     "last evaluation: test_acc_es, early_stop_iter, val_loss and test_acc_final are the same "
     "bits, the test curves NaN elsewhere)."},
    {"train.sparse_below", "real", "0.6",
     "Density in [0, 1] below which a layer trains on sparse kernels over its surviving "
     "weights instead of dense ones under a mask (0: never); part of what defines the results, "
     "as the two differ by float rounding."},
    {"init", "string", "glorot_normal",
     "The weight initialiser: glorot_normal, glorot_uniform, he_normal, he_uniform, "
     "lecun_normal, lecun_uniform, orthogonal(gain), truncated_normal(sigma), normal(sigma), "
     "uniform(a), signed_constant, or Keras's truncated glorot_normal_truncated, "
     "he_normal_truncated and lecun_normal_truncated (variance kept, cut at 2 sigma; TF1's "
     "xavier_initializer(uniform=False) is glorot_normal_truncated), the parameter optional."},
    {"prune.rounds", "integer", "20",
     "Pruning rounds after the dense round 0, 0 to 1000; round r trains the net left after r "
     "prunings."},
    {"prune.rate", "real", "0.2",
     "Fraction of the remaining weights removed per round (of each hidden dense layer under "
     "layerwise scope), in (0, 1)."},
    {"prune.output_rate", "real", "0.1",
     "Fraction of the output layer's remaining weights removed per round under layerwise "
     "scope, in (0, 1)."},
    {"prune.conv_rate", "real", "0.1",
     "Fraction of a convolution layer's remaining weights removed per round under layerwise "
     "scope, in (0, 1)."},
    {"prune.scope", "string", "layerwise",
     "layerwise (each hidden layer loses prune.rate of its remaining weights, each "
     "convolution prune.conv_rate, the output layer prune.output_rate) or global (prune.rate "
     "of all remaining weights by one magnitude threshold, the other rates unused)."},
    {"prune.rewind", "integer", "0",
     "Iteration whose weights the survivors return to: 0 is the initialisation, k > 0 late "
     "rewinding; less than train.iterations and a multiple of train.eval_every."},
    {"prune.exclude", "list of layers", "[]",
     "Weight layers left unpruned under either scope: indices from 0 (the first hidden layer) "
     "and output for the last; global scope then ranks and counts the other layers' weights "
     "only. Whatever the rates, a round never removes a layer's last weight."},
    {"prune.random", "string", "independent",
     "How control random_mask places the ticket's per-layer counts: independent (fresh "
     "positions every round) or nested (each round's random mask inside the previous "
     "round's, as open_lth)."},
    {"control", "string", "ticket",
     "ticket (rewind the survivors), reinit (same mask, fresh weights), sign_reinit (fresh "
     "magnitudes, original signs), random_mask (same layer densities, random positions) or "
     "sparse_reinit (reinit with each unit's scale from its surviving fan-in)."},
    {"seed", "integer", "1",
     "Seed of every random stream, 0 to 2^63-1; tasks with one seed share the data order and "
     "the validation split."},
    {"control_seed", "integer", "0",
     "Mixed into the draws of the reinit, sign_reinit, sparse_reinit and random_mask controls "
     "only, 0 to 2^63-1: several draws of one ticket's control (same split, order, theta_0 and "
     "ticket); 0 gives the draws of a sweep without the key."},
    {"transfer.dataset", "string", "none",
     "Ticket transfer (Morcos et al. 2019): none, or mnist, fashion-mnist or cifar10, a dataset "
     "of the source's image shape. Each round r >= 1 then trains the source's round-r ticket "
     "(its mask, with the control's weights from theta_k) on the target from iteration "
     "prune.rewind, with the target's own validation split, data order and test set; round 0 "
     "is the dense network trained on the target from theta_0, the reference a transferred "
     "ticket must match. An output layer whose class count differs from the source's is "
     "drawn afresh from the initialiser and trains dense. data.dataset itself (with the "
     "trunk's optimizer and rate) is no transfer: the task's own rounds, so a grid of both "
     "datasets on both keys holds each target's own tickets beside the transferred ones. A "
     "branch key: a ticket's transfers share its trunk."},
    {"transfer.optimizer", "string", "same",
     "The optimiser a transfer trains with on the target: same (train.optimizer's), sgd, "
     "momentum or adam (train.momentum, beta1, beta2 and eps apply); not none alone: with "
     "transfer.dataset none and another optimizer or rate, the ticket transfers across "
     "optimisers on its own dataset."},
    {"transfer.lr", "real", "0",
     "The learning rate a transfer trains with on the target, at least 0; 0 is train.lr."},
    {"analysis.instability", "integer", "0",
     "Instability analysis (Frankle et al. 2020): 0 (off), or the number N >= 2 of evenly "
     "spaced points alpha in [0, 1] on the linear path (1 - alpha) w1 + alpha w2 between the "
     "round's trained weights w1 and a second copy w2 trained from the same start (theta_k in "
     "round 0) on the same mask with its own data order (from seed, round and copy); stores the "
     "path's test errors and the instability, the largest error on the path minus the mean of "
     "its two ends. Costs a second training and N test evaluations per round."},
    {"record.weights", "list of strings", "[init, rewind, final]",
     "Weight snapshots stored per task and round, a subset of init, rewind and final ([] for "
     "none); not a grid axis, as every task stores the same snapshots."},
    {"grid", "mapping of keys to lists", "{}",
     "Dotted key paths (init, prune.rate, seed, ...) mapped to lists of values whose Cartesian "
     "product gives the tasks, the last axis varying fastest; a key in the grid overrides the "
     "same key set outside it."},
};

static const char *optimizer_name(int i) {
  return tf_config_optimizer_name((tf_optimizer_kind_t)i);
}
static const char *transfer_optimizer_name(int i) {
  return i == 0 ? "same" : tf_config_optimizer_name((tf_optimizer_kind_t)(i - 1));
}
static const char *scope_name(int i) { return tf_config_scope_name((tf_prune_scope_t)i); }
static const char *test_eval_name(int i) {
  return tf_config_test_eval_name((tf_test_eval_t)i);
}
static const char *control_name(int i) { return tf_config_control_name((tf_control_t)i); }
static const char *normalize_name(int i) { return tf_config_normalize_name((tf_normalize_t)i); }
static const char *boolean_name(int i) { return i ? "true" : "false"; }
static const char *order_name(int i) { return tf_config_order_name((tf_data_order_t)i); }
static const char *random_name(int i) { return tf_config_random_name((tf_prune_random_t)i); }
static const char *preset_name(int i) { return tf_config_preset_name((tf_model_preset_t)i); }
static const char *padding_name(int i) { return tf_config_padding_name((tf_conv_padding_t)i); }

#define RULE_INT(lo, hi) {VT_INT, 1, lo, hi, 0, 0, 0, 0, NULL, NULL, 0}
#define RULE_REAL(lo, hi, lo_open, hi_open) {VT_REAL, 1, 0, 0, lo, hi, lo_open, hi_open, NULL, NULL, 0}
#define RULE_CHOICE(noun, fn, n) {VT_CHOICE, 1, 0, 0, 0, 0, 0, 0, noun, fn, n}
#define RULE_OTHER(type, gridable) {type, gridable, 0, 0, 0, 0, 0, 0, NULL, NULL, 0}

const key_rule_t tf__sweep_key_rules[KEY_COUNT] = {
    [KEY_NAME] = RULE_OTHER(VT_TEXT, 0),
    [KEY_DATASET] = RULE_OTHER(VT_DATASET, 1),
    [KEY_VALIDATION] = RULE_INT(1, INT_MAX),
    [KEY_NORMALIZE] = RULE_CHOICE("normalization", normalize_name, TF_NORMALIZE_COUNT),
    [KEY_ORDER] = RULE_CHOICE("order", order_name, TF_ORDER_COUNT),
    [KEY_HIDDEN] = RULE_OTHER(VT_HIDDEN, 1),
    [KEY_PRESET] = RULE_CHOICE("preset", preset_name, TF_PRESET_COUNT),
    [KEY_CONV] = RULE_OTHER(VT_CONV, 1),
    [KEY_KERNEL] = RULE_INT(1, 31),
    [KEY_PADDING] = RULE_CHOICE("padding", padding_name, 2),
    [KEY_OPTIMIZER] = RULE_CHOICE("optimizer", optimizer_name, TF_OPT_COUNT),
    [KEY_LR] = RULE_REAL(0, INFINITY, 1, 1),
    [KEY_MOMENTUM] = RULE_REAL(0, 1, 0, 1),
    [KEY_BETA1] = RULE_REAL(0, 1, 0, 1),
    [KEY_BETA2] = RULE_REAL(0, 1, 0, 1),
    [KEY_EPS] = RULE_REAL(0, INFINITY, 1, 1),
    [KEY_WEIGHT_DECAY] = RULE_REAL(0, INFINITY, 0, 1),
    [KEY_NESTEROV] = RULE_CHOICE("boolean", boolean_name, 2),
    [KEY_WARMUP] = RULE_INT(0, LONG_COUNT_MAX),
    [KEY_MILESTONES] = RULE_OTHER(VT_MILESTONES, 1),
    [KEY_GAMMA] = RULE_REAL(0, 1, 1, 0),
    [KEY_BATCH] = RULE_INT(1, INT_MAX),
    [KEY_ITERATIONS] = RULE_INT(1, LONG_COUNT_MAX),
    [KEY_EVAL_EVERY] = RULE_INT(1, INT_MAX),
    [KEY_TEST_EVAL] = RULE_CHOICE("test evaluation", test_eval_name, TF_TEST_EVAL_COUNT),
    [KEY_SPARSE_BELOW] = RULE_REAL(0, 1, 0, 0),
    [KEY_INIT] = RULE_OTHER(VT_INIT, 1),
    [KEY_ROUNDS] = RULE_INT(0, 1000),
    [KEY_RATE] = RULE_REAL(0, 1, 1, 1),
    [KEY_OUTPUT_RATE] = RULE_REAL(0, 1, 1, 1),
    [KEY_CONV_RATE] = RULE_REAL(0, 1, 1, 1),
    [KEY_SCOPE] = RULE_CHOICE("scope", scope_name, TF_SCOPE_COUNT),
    [KEY_REWIND] = RULE_INT(0, LONG_COUNT_MAX),
    [KEY_EXCLUDE] = RULE_OTHER(VT_LAYERS, 1),
    [KEY_RANDOM] = RULE_CHOICE("random placement", random_name, TF_RANDOM_COUNT),
    [KEY_CONTROL] = RULE_CHOICE("control", control_name, TF_CONTROL_COUNT),
    [KEY_SEED] = RULE_INT(0, INT64_MAX),
    [KEY_CONTROL_SEED] = RULE_INT(0, INT64_MAX),
    [KEY_TRANSFER_DATASET] = RULE_OTHER(VT_TARGET, 1),
    [KEY_TRANSFER_OPTIMIZER] = RULE_CHOICE("optimizer", transfer_optimizer_name, TF_OPT_COUNT + 1),
    [KEY_TRANSFER_LR] = RULE_REAL(0, INFINITY, 0, 1),
    [KEY_INSTABILITY] = RULE_INT(0, 1000),
    [KEY_WEIGHTS] = RULE_OTHER(VT_WEIGHTS, 0),
    [KEY_GRID] = RULE_OTHER(VT_GRID, 0),
};

static const char *const snapshot_names[] = {"init", "rewind", "final"};
static const unsigned snapshot_bits[] = {TF_RECORD_INIT, TF_RECORD_REWIND, TF_RECORD_FINAL};

/* ---- values ------------------------------------------------------------------------------ */

static int read_int(const parse_t *p, const node_t *n, const char *path, const char *what,
                    long long lo, long long hi, long long *out) {
  char got[80];
  if (n->kind != NODE_SCALAR || tf__yaml_is_null(n) || !n->plain)
    return tf__sweep_fail(
        p, n, "%s: expected %s, got %s%s", path, what, tf__yaml_describe(n, got, sizeof got),
        n->kind == NODE_SCALAR && !n->plain ? " (numbers are written without quotes)" : "");
  const char *s = n->text;
  size_t i = s[0] == '+' || s[0] == '-';
  int digits = s[i] != '\0';
  for (; s[i] != '\0'; i++)
    if (!isdigit((unsigned char)s[i])) digits = 0;
  if (!digits)
    return tf__sweep_fail(p, n, "%s: expected %s, got %s", path, what,
                          tf__yaml_describe(n, got, sizeof got));
  errno = 0;
  long long x = strtoll(s, NULL, 10);
  if (errno == ERANGE || x < lo || x > hi) {
    if (hi == INT_MAX)
      return tf__sweep_fail(p, n, "%s: must be at least %lld, got %s", path, lo, s);
    return tf__sweep_fail(p, n, "%s: must be between %lld and %lld, got %s", path, lo, hi, s);
  }
  *out = x;
  return 0;
}

static int read_real(const parse_t *p, const node_t *n, const char *path,
                     const key_rule_t *rule, double *out) {
  char got[80];
  if (n->kind != NODE_SCALAR || tf__yaml_is_null(n) || !n->plain)
    return tf__sweep_fail(
        p, n, "%s: expected a real number, got %s%s", path, tf__yaml_describe(n, got, sizeof got),
        n->kind == NODE_SCALAR && !n->plain ? " (numbers are written without quotes)" : "");
  const char *s = n->text;
  int digits = 0, other = 0;
  for (size_t i = 0; s[i] != '\0'; i++) {
    if (isdigit((unsigned char)s[i]))
      digits = 1;
    else if (strchr("+-.eE", s[i]) == NULL)
      other = 1;
  }
  char *end = NULL;
  double x = digits && !other ? strtod(s, &end) : 0;
  if (!digits || other || end == s || *end != '\0') {
    int special = strstr(s, "inf") || strstr(s, "Inf") || strstr(s, "INF") || strstr(s, "nan") ||
                  strstr(s, "NaN") || strstr(s, "NAN");
    return tf__sweep_fail(p, n, "%s: expected a %sreal number, got %s", path,
                          special ? "finite " : "", tf__yaml_describe(n, got, sizeof got));
  }
  if (!isfinite(x)) return tf__sweep_fail(p, n, "%s: %s is too large", path, s);
  int lo_ok = rule->rmin_open ? x > rule->rmin : x >= rule->rmin;
  int hi_ok = rule->rmax_open ? x < rule->rmax : x <= rule->rmax;
  if (!lo_ok || !hi_ok) {
    if (isinf(rule->rmax))
      return tf__sweep_fail(p, n, "%s: must be %s %g, got %s", path,
                            rule->rmin_open ? "greater than" : "at least", rule->rmin, s);
    return tf__sweep_fail(p, n, "%s: must be in %c%g, %g%c, got %s", path,
                          rule->rmin_open ? '(' : '[', rule->rmin, rule->rmax,
                          rule->rmax_open ? ')' : ']', s);
  }
  *out = x;
  return 0;
}

/* A string scalar of at most size - 1 bytes with no NUL in it. */
static int read_string(const parse_t *p, const node_t *n, const char *path, const char *what,
                       size_t size) {
  char got[80];
  if (n->kind != NODE_SCALAR || tf__yaml_is_null(n))
    return tf__sweep_fail(p, n, "%s: expected %s, got %s", path, what,
                          tf__yaml_describe(n, got, sizeof got));
  if (strlen(n->text) != n->len)
    return tf__sweep_fail(p, n, "%s: the text contains a NUL character", path);
  if (n->len >= size)
    return tf__sweep_fail(p, n, "%s: at most %zu bytes, got %zu", path, size - 1, n->len);
  return 0;
}

/* One of names[0..count): its index, or a message with the expected names and a suggestion. */
static int read_name(const parse_t *p, const node_t *n, const char *path, const char *noun,
                     const char *const *names, size_t count, int *out) {
  char what[64];
  snprintf(what, sizeof what, "a%s %s name", strchr("aeiou", noun[0]) ? "n" : "", noun);
  int rc = read_string(p, n, path, what, 256);
  if (rc != 0) return rc;
  for (size_t i = 0; i < count; i++) {
    if (strcmp(n->text, names[i]) == 0) {
      *out = (int)i;
      return 0;
    }
  }
  char expected[256];
  tf__sweep_join_names(names, count, expected, sizeof expected);
  const char *hint = tf_text_closest(n->text, names, count);
  if (hint != NULL)
    return tf__sweep_fail(p, n, "%s: unknown %s '%s' — did you mean '%s'? (expected %s)", path,
                          noun, n->text, hint, expected);
  return tf__sweep_fail(p, n, "%s: unknown %s '%s' (expected %s)", path, noun, n->text, expected);
}

/* Text, or nothing for null. */
static int read_text_value(const parse_t *p, const node_t *n, const char *path, value_t *v) {
  if (tf__yaml_is_null(n)) return 0;
  int rc = read_string(p, n, path, "text", sizeof v->s);
  if (rc == 0) memcpy(v->s, n->text, n->len + 1);
  return rc;
}

/* One of the rule's choices: its index. */
static int read_choice_value(const parse_t *p, const key_rule_t *rule, const node_t *n,
                             const char *path, value_t *v) {
  const char *names[8];
  for (int i = 0; i < rule->n_choices; i++) names[i] = rule->choice(i);
  int idx = 0;
  int rc = read_name(p, n, path, rule->noun, names, (size_t)rule->n_choices, &idx);
  v->i = idx;
  return rc;
}

/* One of tf_data_names (and none when none_too): its name. */
static int read_dataset_value(const parse_t *p, const node_t *n, const char *path, int none_too,
                              value_t *v) {
  const char *names[16];
  size_t count = 0;
  if (none_too) names[count++] = "none";
  for (size_t i = 0; tf_data_names[i] != NULL && count < 16; i++) names[count++] = tf_data_names[i];
  int idx = 0;
  int rc = read_name(p, n, path, "dataset", names, count, &idx);
  if (rc == 0) snprintf(v->s, sizeof v->s, "%s", names[idx]);
  return rc;
}

/* A YAML sequence of at most `max` items (max < 0: any number), else a message naming `what` is
 * expected and, past max, how many `items` are allowed. */
static int read_list(const parse_t *p, const node_t *n, const char *path, const char *what,
                     int max, const char *items) {
  char got[80];
  if (n->kind != NODE_SEQ)
    return tf__sweep_fail(p, n, "%s: expected %s, got %s", path, what,
                          tf__yaml_describe(n, got, sizeof got));
  if (max >= 0 && n->n > (size_t)max)
    return tf__sweep_fail(p, n, "%s: at most %d %s, got %zu", path, max, items, n->n);
  return 0;
}

/* A list of hidden layer widths. */
static int read_hidden_value(const parse_t *p, const node_t *n, const char *path, value_t *v) {
  int rc = read_list(p, n, path, "a list of layer widths such as [300, 100]", TF_MAX_HIDDEN,
                     "hidden layers");
  if (rc != 0) return rc;
  for (size_t i = 0; i < n->n; i++) {
    long long w = 0;
    rc = read_int(p, n->items[i], path, "an integer layer width", 1, HIDDEN_WIDTH_MAX, &w);
    if (rc != 0) return rc;
    v->list[i] = (int)w;
  }
  v->n = (int)n->n;
  return 0;
}

/* A strictly increasing list of iterations. */
static int read_milestones_value(const parse_t *p, const node_t *n, const char *path,
                                 value_t *v) {
  int rc = read_list(p, n, path, "a list of iterations such as [20000, 30000]",
                     TF_MAX_MILESTONES, "milestones");
  if (rc != 0) return rc;
  for (size_t i = 0; i < n->n; i++) {
    long long it = 0;
    rc = read_int(p, n->items[i], path, "an integer iteration", 1, LONG_COUNT_MAX, &it);
    if (rc != 0) return rc;
    if (i > 0 && it <= v->list[i - 1])
      return tf__sweep_fail(p, n->items[i], "%s: milestones must increase strictly, got %lld "
                            "after %d", path, it, v->list[i - 1]);
    v->list[i] = (int)it;
  }
  v->n = (int)n->n;
  return 0;
}

/* A list of channel counts with pool markers, each pool after a convolution. */
static int read_conv_value(const parse_t *p, const node_t *n, const char *path, value_t *v) {
  int rc = read_list(p, n, path,
                     "a list of channel counts and pool markers such as [64, 64, pool]",
                     TF_MAX_CONV, "entries");
  if (rc != 0) return rc;
  for (size_t i = 0; i < n->n; i++) {
    const node_t *item = n->items[i];
    if (item->kind == NODE_SCALAR && strcmp(item->text, "pool") == 0) {
      if (i == 0 || v->conv[i - 1] == TF_CONV_POOL)
        return tf__sweep_fail(p, item, "%s: a pool marker follows a convolution", path);
      v->conv[i] = TF_CONV_POOL;
      continue;
    }
    long long c = 0;
    rc = read_int(p, item, path, "a channel count or pool", 1, 4096, &c);
    if (rc != 0) return rc;
    v->conv[i] = (int)c;
  }
  v->n = (int)n->n;
  return 0;
}

/* An initialiser as tf_init_parse reads it. */
static int read_init_value(const parse_t *p, const node_t *n, const char *path, value_t *v) {
  int rc = read_string(p, n, path, "an initialiser such as glorot_normal or normal(0.1)", 256);
  if (rc != 0) return rc;
  tf_err_t e;
  if (tf_init_parse(n->text, &v->init, &e) != 0)
    return tf__sweep_fail(p, n, "%s: %s", path, e.msg);
  return 0;
}

/* A list of snapshot names, each at most once: their bits. */
static int read_weights_value(const parse_t *p, const node_t *n, const char *path, value_t *v) {
  int rc = read_list(p, n, path, "a list such as [init, final] ([] for none)", -1, NULL);
  if (rc != 0) return rc;
  const node_t *first[3] = {NULL, NULL, NULL};
  for (size_t i = 0; i < n->n; i++) {
    int idx = 0;
    rc = read_name(p, n->items[i], path, "snapshot", snapshot_names, 3, &idx);
    if (rc != 0) return rc;
    if (first[idx] != NULL)
      return tf__sweep_fail(p, n->items[i], "%s: '%s' is listed twice (first at %d:%d)", path,
                            snapshot_names[idx], first[idx]->line, first[idx]->col);
    first[idx] = n->items[i];
    v->i |= snapshot_bits[idx];
  }
  return 0;
}

/* A list of layer indices and output, each at most once: their bits. */
static int read_layers_value(const parse_t *p, const node_t *n, const char *path, value_t *v) {
  int rc = read_list(p, n, path, "a list of layers such as [0, output] ([] for none)", -1, NULL);
  if (rc != 0) return rc;
  const node_t *first[TF_MAX_LAYERS + 1] = {NULL};
  for (size_t i = 0; i < n->n; i++) {
    const node_t *item = n->items[i];
    int bit = 0;
    if (item->kind == NODE_SCALAR && strcmp(item->text, "output") == 0) {
      bit = TF_MAX_LAYERS;
    } else {
      if (item->kind == NODE_SCALAR && item->plain && !isdigit((unsigned char)item->text[0]) &&
          item->text[0] != '-' && item->text[0] != '+')
        return tf__sweep_fail(p, item, "%s: expected a layer index or output, got '%s'", path,
                              item->text);
      long long l = 0;
      rc = read_int(p, item, path, "a layer index or output", 0, TF_MAX_LAYERS - 1, &l);
      if (rc != 0) return rc;
      bit = (int)l;
    }
    if (first[bit] != NULL)
      return tf__sweep_fail(p, item, "%s: '%s' is listed twice (first at %d:%d)", path,
                            item->text, first[bit]->line, first[bit]->col);
    first[bit] = item;
    v->i |= 1LL << bit;
  }
  return 0;
}

/* Reads the value of key from node into v; messages point at the node. */
int tf__sweep_value_read(const parse_t *p, key_id_t key, const node_t *n, value_t *v) {
  const key_rule_t *rule = &tf__sweep_key_rules[key];
  const char *path = tf__sweep_key_docs[key].key;
  memset(v, 0, sizeof *v);
  switch (rule->type) {
    case VT_TEXT: return read_text_value(p, n, path, v);
    case VT_CHOICE: return read_choice_value(p, rule, n, path, v);
    case VT_DATASET: return read_dataset_value(p, n, path, 0, v);
    case VT_TARGET: return read_dataset_value(p, n, path, 1, v);
    case VT_INT: return read_int(p, n, path, "an integer", rule->imin, rule->imax, &v->i);
    case VT_REAL: return read_real(p, n, path, rule, &v->r);
    case VT_HIDDEN: return read_hidden_value(p, n, path, v);
    case VT_MILESTONES: return read_milestones_value(p, n, path, v);
    case VT_CONV: return read_conv_value(p, n, path, v);
    case VT_INIT: return read_init_value(p, n, path, v);
    case VT_WEIGHTS: return read_weights_value(p, n, path, v);
    case VT_LAYERS: return read_layers_value(p, n, path, v);
    case VT_GRID: break;
  }
  return 0;
}

/* The one setter every value goes through, for the base config and for every grid task. */
void tf__sweep_value_apply(key_id_t key, const value_t *v, tf_config_t *cfg) {
  switch (key) {
    case KEY_NAME: memcpy(cfg->name, v->s, sizeof cfg->name); break;
    case KEY_DATASET: /* one of tf_data_names, all far shorter than the field */
      memcpy(cfg->dataset, v->s, sizeof cfg->dataset);
      cfg->dataset[sizeof cfg->dataset - 1] = '\0';
      break;
    case KEY_VALIDATION: cfg->validation = (int)v->i; break;
    case KEY_NORMALIZE: cfg->normalize = (tf_normalize_t)v->i; break;
    case KEY_ORDER: cfg->order = (tf_data_order_t)v->i; break;
    case KEY_HIDDEN:
      cfg->n_hidden = v->n;
      memcpy(cfg->hidden, v->list, sizeof cfg->hidden);
      break;
    case KEY_PRESET: cfg->preset = (tf_model_preset_t)v->i; break;
    case KEY_CONV:
      cfg->n_conv = v->n;
      memcpy(cfg->conv, v->conv, sizeof cfg->conv);
      break;
    case KEY_KERNEL: cfg->kernel = (int)v->i; break;
    case KEY_PADDING: cfg->padding = (tf_conv_padding_t)v->i; break;
    case KEY_CONV_RATE: cfg->conv_rate = v->r; break;
    case KEY_OPTIMIZER: cfg->optimizer = (tf_optimizer_kind_t)v->i; break;
    case KEY_LR: cfg->lr = v->r; break;
    case KEY_MOMENTUM: cfg->momentum = v->r; break;
    case KEY_BETA1: cfg->beta1 = v->r; break;
    case KEY_BETA2: cfg->beta2 = v->r; break;
    case KEY_EPS: cfg->eps = v->r; break;
    case KEY_WEIGHT_DECAY: cfg->weight_decay = v->r; break;
    case KEY_NESTEROV: cfg->nesterov = (int)v->i; break;
    case KEY_WARMUP: cfg->warmup = (long)v->i; break;
    case KEY_MILESTONES:
      cfg->n_milestones = v->n;
      for (int i = 0; i < TF_MAX_MILESTONES; i++) cfg->milestones[i] = i < v->n ? v->list[i] : 0;
      break;
    case KEY_GAMMA: cfg->gamma = v->r; break;
    case KEY_BATCH: cfg->batch = (int)v->i; break;
    case KEY_ITERATIONS: cfg->iterations = (long)v->i; break;
    case KEY_EVAL_EVERY: cfg->eval_every = (int)v->i; break;
    case KEY_TEST_EVAL: cfg->test_eval = (tf_test_eval_t)v->i; break;
    case KEY_SPARSE_BELOW: cfg->sparse_below = v->r; break;
    case KEY_INIT: cfg->init = v->init; break;
    case KEY_ROUNDS: cfg->rounds = (int)v->i; break;
    case KEY_RATE: cfg->rate = v->r; break;
    case KEY_OUTPUT_RATE: cfg->output_rate = v->r; break;
    case KEY_SCOPE: cfg->scope = (tf_prune_scope_t)v->i; break;
    case KEY_REWIND: cfg->rewind = (long)v->i; break;
    case KEY_EXCLUDE: cfg->exclude = (unsigned)v->i; break;
    case KEY_RANDOM: cfg->random = (tf_prune_random_t)v->i; break;
    case KEY_CONTROL: cfg->control = (tf_control_t)v->i; break;
    case KEY_SEED: cfg->seed = (uint64_t)v->i; break;
    case KEY_CONTROL_SEED: cfg->control_seed = (uint64_t)v->i; break;
    case KEY_TRANSFER_DATASET: /* none or one of tf_data_names, all far shorter than the field */
      memcpy(cfg->transfer, v->s, sizeof cfg->transfer);
      cfg->transfer[sizeof cfg->transfer - 1] = '\0';
      break;
    case KEY_TRANSFER_OPTIMIZER: cfg->transfer_optimizer = (int)v->i; break;
    case KEY_TRANSFER_LR: cfg->transfer_lr = v->r; break;
    case KEY_INSTABILITY: cfg->instability = (int)v->i; break;
    case KEY_WEIGHTS: cfg->record_weights = (unsigned)v->i; break;
    case KEY_GRID:
    case KEY_COUNT: break;
  }
}

void tf__sweep_value_text(key_id_t key, const value_t *v, char *buf, size_t size) {
  const key_rule_t *rule = &tf__sweep_key_rules[key];
  if (size == 0) return;
  buf[0] = '\0';
  switch (rule->type) {
    case VT_TEXT:
    case VT_DATASET:
    case VT_TARGET: snprintf(buf, size, "%s", v->s); break;
    case VT_CHOICE: snprintf(buf, size, "%s", rule->choice((int)v->i)); break;
    case VT_INT: snprintf(buf, size, "%lld", v->i); break;
    case VT_REAL: tf_text_real(v->r, buf, size); break;
    case VT_INIT: tf_init_format(&v->init, buf, size); break;
    case VT_CONV: {
      size_t used = (size_t)snprintf(buf, size, "[");
      for (int i = 0; i < v->n && used < size; i++) {
        const char *sep = i > 0 ? ", " : "";
        if (v->conv[i] == TF_CONV_POOL)
          used += (size_t)snprintf(buf + used, size - used, "%spool", sep);
        else
          used += (size_t)snprintf(buf + used, size - used, "%s%d", sep, v->conv[i]);
      }
      if (used < size) snprintf(buf + used, size - used, "]");
      break;
    }
    case VT_HIDDEN:
    case VT_MILESTONES:
    case VT_WEIGHTS: {
      size_t used = 0;
      int count = rule->type != VT_WEIGHTS ? v->n : 3;
      const char *sep = "";
      used += (size_t)snprintf(buf, size, "[");
      for (int i = 0; i < count && used < size; i++) {
        if (rule->type == VT_WEIGHTS && !(v->i & snapshot_bits[i])) continue;
        if (rule->type != VT_WEIGHTS)
          used += (size_t)snprintf(buf + used, size - used, "%s%d", sep, v->list[i]);
        else
          used += (size_t)snprintf(buf + used, size - used, "%s%s", sep, snapshot_names[i]);
        sep = ", ";
      }
      if (used < size) snprintf(buf + used, size - used, "]");
      break;
    }
    case VT_LAYERS: {
      size_t used = (size_t)snprintf(buf, size, "[");
      const char *sep = "";
      for (int l = 0; l <= TF_MAX_LAYERS && used < size; l++) {
        if (!(v->i & (1LL << l))) continue;
        if (l == TF_MAX_LAYERS)
          used += (size_t)snprintf(buf + used, size - used, "%soutput", sep);
        else
          used += (size_t)snprintf(buf + used, size - used, "%s%d", sep, l);
        sep = ", ";
      }
      if (used < size) snprintf(buf + used, size - used, "]");
      break;
    }
    case VT_GRID: break;
  }
}

/* A total order on the values of one type, so repeats in a grid list are found by sorting. */
int tf__sweep_value_cmp(value_type_t type, const value_t *a, const value_t *b) {
  switch (type) {
    case VT_INT:
    case VT_CHOICE:
    case VT_WEIGHTS:
    case VT_LAYERS: return (a->i > b->i) - (a->i < b->i);
    case VT_REAL: return (a->r > b->r) - (a->r < b->r);
    case VT_TEXT:
    case VT_DATASET:
    case VT_TARGET: return strcmp(a->s, b->s);
    case VT_HIDDEN:
    case VT_MILESTONES:
      if (a->n != b->n) return (a->n > b->n) - (a->n < b->n);
      for (int i = 0; i < a->n; i++)
        if (a->list[i] != b->list[i]) return (a->list[i] > b->list[i]) - (a->list[i] < b->list[i]);
      return 0;
    case VT_CONV:
      if (a->n != b->n) return (a->n > b->n) - (a->n < b->n);
      for (int i = 0; i < a->n; i++)
        if (a->conv[i] != b->conv[i]) return (a->conv[i] > b->conv[i]) - (a->conv[i] < b->conv[i]);
      return 0;
    case VT_INIT: {
      if (a->init.kind != b->init.kind) return (a->init.kind > b->init.kind) - (a->init.kind < b->init.kind);
      /* "normal" and "normal(0.1)" are one initialiser when 0.1 is the default. */
      double pa = isnan(a->init.param) ? tf_init_default_param(a->init.kind) : a->init.param;
      double pb = isnan(b->init.param) ? tf_init_default_param(b->init.kind) : b->init.param;
      if (isnan(pa) || isnan(pb)) return isnan(pb) - isnan(pa);
      return (pa > pb) - (pa < pb);
    }
    case VT_GRID: break;
  }
  return 0;
}

const tf_sweep_key_t *tf_sweep_keys(size_t *count) {
  if (count != NULL) *count = KEY_COUNT;
  return tf__sweep_key_docs;
}
