/* Task settings: Frankle & Carbin's LeNet-300-100 defaults, enum names and the cross-key rules. */
#include "ticketfarm/config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ticketfarm/data.h"
#include "ticketfarm/net.h"

static const char *const optimizer_names[TF_OPT_COUNT] = {"sgd", "momentum", "adam"};
static const char *const normalize_names[TF_NORMALIZE_COUNT] = {"unit", "standardize", "l2"};
static const char *const scope_names[TF_SCOPE_COUNT] = {"layerwise", "global"};
static const char *const test_eval_names[TF_TEST_EVAL_COUNT] = {"every", "at_best"};
static const char *const control_names[TF_CONTROL_COUNT] = {"ticket", "reinit", "sign_reinit",
                                                            "random_mask", "sparse_reinit"};
static const char *const order_names[TF_ORDER_COUNT] = {"per_round", "fixed"};
static const char *const random_names[TF_RANDOM_COUNT] = {"independent", "nested"};
static const char *const preset_names[TF_PRESET_COUNT] = {"none",  "lenet300", "lenet5",
                                                          "conv2", "conv4",    "conv6"};

void tf_config_default(tf_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  strcpy(cfg->dataset, "mnist");
  cfg->validation = 5000;
  cfg->normalize = TF_NORMALIZE_UNIT;
  cfg->order = TF_ORDER_PER_ROUND;
  cfg->n_hidden = 2;
  cfg->hidden[0] = 300;
  cfg->hidden[1] = 100;
  cfg->preset = TF_PRESET_NONE;
  cfg->kernel = 3;
  cfg->padding = TF_CONV_SAME;
  cfg->conv_rate = 0.1;
  cfg->optimizer = TF_OPT_ADAM;
  cfg->lr = 1.2e-3;
  cfg->momentum = 0.9;
  cfg->beta1 = 0.9;
  cfg->beta2 = 0.999;
  cfg->eps = 1.0e-8;
  cfg->weight_decay = 0.0;
  cfg->nesterov = 0;
  cfg->warmup = 0;
  cfg->n_milestones = 0;
  cfg->gamma = 0.1;
  cfg->batch = 60;
  cfg->iterations = 50000;
  cfg->eval_every = 100;
  cfg->test_eval = TF_TEST_EVAL_EVERY;
  cfg->sparse_below = TF_SPARSE_BELOW_DEFAULT;
  cfg->init.kind = TF_INIT_GLOROT_NORMAL;
  cfg->init.param = NAN;
  cfg->rounds = 20;
  cfg->rate = 0.2;
  cfg->output_rate = 0.1;
  cfg->scope = TF_SCOPE_LAYERWISE;
  cfg->rewind = 0;
  cfg->exclude = 0;
  cfg->random = TF_RANDOM_INDEPENDENT;
  cfg->control = TF_CONTROL_TICKET;
  cfg->seed = 1;
  cfg->control_seed = 0;
  snprintf(cfg->transfer, sizeof cfg->transfer, "none");
  cfg->transfer_optimizer = 0;
  cfg->transfer_lr = 0.0;
  cfg->instability = 0;
  cfg->record_weights = TF_RECORD_INIT | TF_RECORD_REWIND | TF_RECORD_FINAL;
}

/* A preset is the whole network: the keys that describe one otherwise are refused beside it
 * rather than silently ignored. Then the network must fit the dataset's images. */
static int check_model(const tf_config_t *cfg, tf_err_t *err) {
  tf_config_t def;
  tf_config_default(&def);
  if (cfg->preset != TF_PRESET_NONE) {
    int same_hidden = cfg->n_hidden == def.n_hidden;
    for (int i = 0; same_hidden && i < cfg->n_hidden; i++)
      same_hidden = cfg->hidden[i] == def.hidden[i];
    if (!same_hidden || cfg->n_conv != 0 || cfg->kernel != def.kernel ||
        cfg->padding != def.padding)
      return tf_err_set(err, TF_EINPUT,
                        "model.preset (%s) describes the whole network: leave out model.conv, "
                        "model.hidden, model.kernel and model.padding",
                        tf_config_preset_name(cfg->preset));
  }
  for (int i = 0; i < cfg->n_conv; i++)
    if (cfg->conv[i] == TF_CONV_POOL && (i == 0 || cfg->conv[i - 1] == TF_CONV_POOL))
      return tf_err_set(err, TF_EINPUT, "model.conv: a pool marker follows a convolution");
  int32_t c = 0, h = 0, w = 0, classes = 0;
  tf_err_t e;
  if (tf_data_image(cfg->dataset, &c, &h, &w, &e) < 0 ||
      tf_data_shape(cfg->dataset, NULL, NULL, NULL, &classes, &e) < 0)
    return tf_err_set(err, TF_EINPUT, "data.dataset: %s", e.msg);
  tf_model_t model;
  tf_config_model(cfg, &model);
  tf_net_arch_t arch;
  if (tf_net_arch(&arch, c, h, w, &model, classes, &e) < 0)
    return tf_err_set(err, TF_EINPUT, "%s (on the %d x %d x %d images of data.dataset %s)", e.msg,
                      c, h, w, cfg->dataset);
  return 0;
}

/* Every message names the keys by their dotted paths: the sweep parser finds the keys in a
 * message to point at the line that set them. The single-key lower bounds are checked again
 * because a hand-built config reaches here too and a zero eval_every would divide by zero. */
/* A transfer target must take the source's images (the same pixels and channels) and hold out
 * data.validation images with a batch left, like the source. */
static int check_transfer(const tf_config_t *cfg, tf_err_t *err) {
  if (strcmp(cfg->transfer, "none") == 0) return 0;
  int32_t n_train = 0, c = 0, h = 0, w = 0, tc = 0, th = 0, tw = 0;
  tf_err_t e;
  if (tf_data_shape(cfg->transfer, &n_train, NULL, NULL, NULL, &e) != 0 ||
      tf_data_image(cfg->transfer, &tc, &th, &tw, &e) != 0)
    return tf_err_set(err, TF_EINPUT, "transfer.dataset: %s", e.msg);
  if (tf_data_image(cfg->dataset, &c, &h, &w, &e) != 0)
    return tf_err_set(err, TF_EINPUT, "data.dataset: %s", e.msg);
  if (c != tc || h != th || w != tw)
    return tf_err_set(err, TF_EINPUT, "transfer.dataset %s has %dx%dx%d images, data.dataset %s "
                      "%dx%dx%d: a ticket transfers between datasets of one image shape",
                      cfg->transfer, (int)tc, (int)th, (int)tw, cfg->dataset, (int)c, (int)h,
                      (int)w);
  if (cfg->validation >= n_train || cfg->batch > (int)n_train - cfg->validation)
    return tf_err_set(err, TF_EINPUT, "transfer.dataset %s: data.validation (%d) and train.batch "
                      "(%d) must leave a batch of its %d training images", cfg->transfer,
                      cfg->validation, cfg->batch, (int)n_train);
  return 0;
}

int tf_config_check(const tf_config_t *cfg, tf_err_t *err) {
  if (cfg->eval_every < 1)
    return tf_err_set(err, TF_EINPUT, "train.eval_every (%d) must be at least 1", cfg->eval_every);
  if (cfg->iterations < 1)
    return tf_err_set(err, TF_EINPUT, "train.iterations (%ld) must be at least 1",
                      cfg->iterations);
  if (cfg->batch < 1)
    return tf_err_set(err, TF_EINPUT, "train.batch (%d) must be at least 1", cfg->batch);
  if (cfg->validation < 1)
    return tf_err_set(err, TF_EINPUT, "data.validation (%d) must be at least 1",
                      cfg->validation);
  if (cfg->rewind < 0)
    return tf_err_set(err, TF_EINPUT, "prune.rewind (%ld) must be at least 0", cfg->rewind);

  int32_t n_train = 0;
  tf_err_t shape_err;
  if (tf_data_shape(cfg->dataset, &n_train, NULL, NULL, NULL, &shape_err) != 0)
    return tf_err_set(err, TF_EINPUT, "data.dataset: %s", shape_err.msg);
  if (cfg->validation >= n_train)
    return tf_err_set(err, TF_EINPUT,
                      "data.validation (%d) must be less than the %d training images of %s",
                      cfg->validation, (int)n_train, cfg->dataset);
  int left = (int)n_train - cfg->validation;
  if (cfg->batch > left)
    return tf_err_set(err, TF_EINPUT,
                      "train.batch (%d) must be at most the %d training images left after "
                      "data.validation (%d of %d held out)",
                      cfg->batch, left, cfg->validation, (int)n_train);
  int rc = check_model(cfg, err);
  if (rc < 0) return rc;
  if (cfg->iterations % cfg->eval_every != 0)
    return tf_err_set(err, TF_EINPUT,
                      "train.iterations (%ld) must be a multiple of train.eval_every (%d)",
                      cfg->iterations, cfg->eval_every);
  if (cfg->rewind >= cfg->iterations)
    return tf_err_set(err, TF_EINPUT,
                      "prune.rewind (%ld) must be less than train.iterations (%ld)", cfg->rewind,
                      cfg->iterations);
  tf_model_t model;
  tf_config_model(cfg, &model);
  int n_layers = model.n_conv + model.n_hidden + 1;
  for (int l = n_layers; l < TF_MAX_LAYERS; l++)
    if (cfg->exclude & (1u << l))
      return tf_err_set(err, TF_EINPUT,
                        "prune.exclude (layer %d) must name one of the %d weight layers of "
                        "the model (0 to %d, or output)",
                        l, n_layers, n_layers - 1);
  if (cfg->rewind % cfg->eval_every != 0)
    return tf_err_set(err, TF_EINPUT,
                      "prune.rewind (%ld) must be a multiple of train.eval_every (%d)",
                      cfg->rewind, cfg->eval_every);
  if (cfg->warmup < 0 || cfg->warmup > cfg->iterations)
    return tf_err_set(err, TF_EINPUT, "train.warmup (%ld) must be between 0 and train.iterations "
                      "(%ld)", cfg->warmup, cfg->iterations);
  for (int i = 0; i < cfg->n_milestones; i++) {
    if (cfg->milestones[i] < 1 || cfg->milestones[i] >= cfg->iterations)
      return tf_err_set(err, TF_EINPUT, "train.milestones (%ld) must lie between 1 and "
                        "train.iterations (%ld) - 1", cfg->milestones[i], cfg->iterations);
    if (i > 0 && cfg->milestones[i] <= cfg->milestones[i - 1])
      return tf_err_set(err, TF_EINPUT, "train.milestones must increase strictly (%ld after %ld)",
                        cfg->milestones[i], cfg->milestones[i - 1]);
  }
  if (cfg->instability == 1)
    return tf_err_set(err, TF_EINPUT, "analysis.instability (1) must be 0 (off) or at least 2: "
                      "the path's two ends are points of it");
  return check_transfer(cfg, err);
}

const char *tf_config_normalize_name(tf_normalize_t normalize) {
  if ((int)normalize < 0 || normalize >= TF_NORMALIZE_COUNT) return NULL;
  return normalize_names[normalize];
}

/* Conv-2, -4 and -6 (Frankle & Carbin 2019, Table 1) share their layers' widths: the first 3, 6
 * or 9 entries of this list, then the dense layers 256, 256. */
static const int frankle_conv[] = {64, 64, TF_CONV_POOL, 128, 128, TF_CONV_POOL,
                                   256, 256, TF_CONV_POOL};

static void model_add_conv(tf_model_t *m, int channels, int kernel, tf_conv_padding_t padding) {
  if (m->n_conv >= TF_MAX_CONV) return;
  m->channels[m->n_conv] = channels;
  m->kernel[m->n_conv] = kernel;
  m->padding[m->n_conv] = padding;
  m->pool[m->n_conv] = 0;
  m->n_conv++;
}

/* Convolutions from a model.conv list; a pool marker pools the convolution before it (a marker
 * with none before, or a second one, is refused by tf_config_check and skipped here). */
static void model_from_list(tf_model_t *m, const int *list, int n, int kernel,
                            tf_conv_padding_t padding) {
  for (int i = 0; i < n; i++) {
    if (list[i] != TF_CONV_POOL)
      model_add_conv(m, list[i], kernel, padding);
    else if (m->n_conv > 0)
      m->pool[m->n_conv - 1] = 1;
  }
}

void tf_config_model(const tf_config_t *cfg, tf_model_t *model) {
  memset(model, 0, sizeof *model);
  switch (cfg->preset) {
    case TF_PRESET_LENET300:
      model->n_hidden = 2;
      model->hidden[0] = 300;
      model->hidden[1] = 100;
      return;
    case TF_PRESET_LENET5:
      model_add_conv(model, 6, 5, TF_CONV_SAME);
      model->pool[0] = 1;
      model_add_conv(model, 16, 5, TF_CONV_VALID);
      model->pool[1] = 1;
      model->n_hidden = 2;
      model->hidden[0] = 120;
      model->hidden[1] = 84;
      return;
    case TF_PRESET_CONV2:
    case TF_PRESET_CONV4:
    case TF_PRESET_CONV6: {
      int n = cfg->preset == TF_PRESET_CONV2 ? 3 : cfg->preset == TF_PRESET_CONV4 ? 6 : 9;
      model_from_list(model, frankle_conv, n, 3, TF_CONV_SAME);
      model->n_hidden = 2;
      model->hidden[0] = 256;
      model->hidden[1] = 256;
      return;
    }
    case TF_PRESET_NONE:
    case TF_PRESET_COUNT: break;
  }
  model_from_list(model, cfg->conv, cfg->n_conv, cfg->kernel, cfg->padding);
  model->n_hidden = cfg->n_hidden;
  memcpy(model->hidden, cfg->hidden, sizeof model->hidden);
}

const char *tf_config_preset_name(tf_model_preset_t preset) {
  if ((int)preset < 0 || preset >= TF_PRESET_COUNT) return NULL;
  return preset_names[preset];
}

const char *tf_config_padding_name(tf_conv_padding_t padding) {
  return padding == TF_CONV_SAME ? "same" : padding == TF_CONV_VALID ? "valid" : NULL;
}

const char *tf_config_optimizer_name(tf_optimizer_kind_t kind) {
  if ((int)kind < 0 || kind >= TF_OPT_COUNT) return NULL;
  return optimizer_names[kind];
}

const char *tf_config_scope_name(tf_prune_scope_t scope) {
  if ((int)scope < 0 || scope >= TF_SCOPE_COUNT) return NULL;
  return scope_names[scope];
}

const char *tf_config_control_name(tf_control_t control) {
  if ((int)control < 0 || control >= TF_CONTROL_COUNT) return NULL;
  return control_names[control];
}

const char *tf_config_test_eval_name(tf_test_eval_t when) {
  if ((int)when < 0 || when >= TF_TEST_EVAL_COUNT) return NULL;
  return test_eval_names[when];
}

const char *tf_config_order_name(tf_data_order_t order) {
  if ((int)order < 0 || order >= TF_ORDER_COUNT) return NULL;
  return order_names[order];
}

const char *tf_config_random_name(tf_prune_random_t random) {
  if ((int)random < 0 || random >= TF_RANDOM_COUNT) return NULL;
  return random_names[random];
}

int tf_config_transfer(const tf_config_t *cfg) {
  /* transfer.dataset naming the source itself moves nothing: the task is the source's own. */
  return (strcmp(cfg->transfer, "none") != 0 && strcmp(cfg->transfer, cfg->dataset) != 0) ||
         cfg->transfer_optimizer != 0 || cfg->transfer_lr != 0.0;
}

const char *tf_config_target(const tf_config_t *cfg) {
  return strcmp(cfg->transfer, "none") != 0 ? cfg->transfer : cfg->dataset;
}

void tf_config_trunk(const tf_config_t *cfg, tf_config_t *trunk) {
  *trunk = *cfg;
  trunk->control = TF_CONTROL_TICKET;
  trunk->control_seed = 0;
  snprintf(trunk->transfer, sizeof trunk->transfer, "none");
  trunk->transfer_optimizer = 0;
  trunk->transfer_lr = 0.0;
  trunk->instability = 0;
}

void tf_config_target_config(const tf_config_t *cfg, tf_config_t *target) {
  *target = *cfg;
  if (!tf_config_transfer(cfg)) return;
  snprintf(target->dataset, sizeof target->dataset, "%s", tf_config_target(cfg));
  if (cfg->transfer_optimizer > 0)
    target->optimizer = (tf_optimizer_kind_t)(cfg->transfer_optimizer - 1);
  if (cfg->transfer_lr > 0.0) target->lr = cfg->transfer_lr;
  snprintf(target->transfer, sizeof target->transfer, "none");
  target->transfer_optimizer = 0;
  target->transfer_lr = 0.0;
}

int tf_config_excluded(const tf_config_t *cfg, int l, int n_layers) {
  if (l < 0 || l >= n_layers) return 0;
  if (l == n_layers - 1 && (cfg->exclude & TF_EXCLUDE_OUTPUT)) return 1;
  return (cfg->exclude >> l) & 1u;
}

/* Reals compare by their bits' meaning: NaN (an absent initialiser parameter) equals NaN. */
static int same_real(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

int tf_config_diff(const tf_config_t *a, const tf_config_t *b, char *buf, size_t size) {
#define DIFF_INT(key, field)                                                          \
  if (a->field != b->field) {                                                         \
    snprintf(buf, size, "%s: %lld vs %lld", key, (long long)a->field, (long long)b->field); \
    return 1;                                                                         \
  }
#define DIFF_REAL(key, field)                                             \
  if (!same_real(a->field, b->field)) {                                   \
    snprintf(buf, size, "%s: %.17g vs %.17g", key, a->field, b->field);   \
    return 1;                                                             \
  }
  if (strcmp(a->name, b->name) != 0) {
    snprintf(buf, size, "name: '%s' vs '%s'", a->name, b->name);
    return 1;
  }
#define DIFF_STR(key, field)                                            \
  if (strcmp(a->field, b->field) != 0) {                                \
    snprintf(buf, size, "%s: %s vs %s", key, a->field, b->field);       \
    return 1;                                                           \
  }
  DIFF_STR("data.dataset", dataset)
  DIFF_INT("data.validation", validation)
  DIFF_INT("data.normalize", normalize)
  DIFF_INT("data.order", order)
  int same_hidden = a->n_hidden == b->n_hidden;
  for (int i = 0; same_hidden && i < a->n_hidden; i++) same_hidden = a->hidden[i] == b->hidden[i];
  if (!same_hidden) {
    snprintf(buf, size, "model.hidden differs");
    return 1;
  }
  DIFF_INT("model.preset", preset)
  int same_conv = a->n_conv == b->n_conv;
  for (int i = 0; same_conv && i < a->n_conv; i++) same_conv = a->conv[i] == b->conv[i];
  if (!same_conv) {
    snprintf(buf, size, "model.conv differs");
    return 1;
  }
  DIFF_INT("model.kernel", kernel)
  DIFF_INT("model.padding", padding)
  DIFF_REAL("prune.conv_rate", conv_rate)
  DIFF_INT("train.optimizer", optimizer)
  DIFF_REAL("train.lr", lr)
  DIFF_REAL("train.momentum", momentum)
  DIFF_REAL("train.beta1", beta1)
  DIFF_REAL("train.beta2", beta2)
  DIFF_REAL("train.eps", eps)
  DIFF_REAL("train.weight_decay", weight_decay)
  DIFF_INT("train.nesterov", nesterov)
  DIFF_INT("train.warmup", warmup)
  int same_milestones = a->n_milestones == b->n_milestones;
  for (int i = 0; same_milestones && i < a->n_milestones; i++)
    same_milestones = a->milestones[i] == b->milestones[i];
  if (!same_milestones) {
    snprintf(buf, size, "train.milestones differs");
    return 1;
  }
  DIFF_REAL("train.gamma", gamma)
  DIFF_INT("train.batch", batch)
  DIFF_INT("train.iterations", iterations)
  DIFF_INT("train.eval_every", eval_every)
  DIFF_INT("train.test_eval", test_eval)
  DIFF_REAL("train.sparse_below", sparse_below)
  DIFF_INT("init", init.kind)
  DIFF_REAL("init (parameter)", init.param)
  DIFF_INT("prune.rounds", rounds)
  DIFF_REAL("prune.rate", rate)
  DIFF_REAL("prune.output_rate", output_rate)
  DIFF_INT("prune.scope", scope)
  DIFF_INT("prune.rewind", rewind)
  DIFF_INT("prune.exclude", exclude)
  DIFF_INT("prune.random", random)
  DIFF_INT("control", control)
  DIFF_INT("seed", seed)
  DIFF_INT("control_seed", control_seed)
  DIFF_STR("transfer.dataset", transfer)
  DIFF_INT("transfer.optimizer", transfer_optimizer)
  DIFF_REAL("transfer.lr", transfer_lr)
  DIFF_INT("analysis.instability", instability)
  DIFF_INT("record.weights", record_weights)
#undef DIFF_INT
#undef DIFF_REAL
#undef DIFF_STR
  if (size > 0) buf[0] = '\0';
  return 0;
}
