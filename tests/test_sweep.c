/* Sweep files and the grid: defaults, styles, expansion order, canonical texts, and a corpus of
 * bad files whose first line names the message each must produce. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "ticketfarm/config.h"
#include "ticketfarm/init.h"
#include "ticketfarm/sweep.h"

#define GOOD_DIR "fixtures/sweeps/good"
#define BAD_DIR "fixtures/sweeps/bad"

static tf_sweep_t *load_ok(const char *path) {
  tf_sweep_t *sw = NULL;
  tf_err_t err = {0};
  int rc = tf_sweep_load(&sw, path, &err);
  if (rc != 0) fprintf(stderr, "%s\n", err.msg);
  ASSERT_INT_EQ(rc, 0);
  ASSERT(sw != NULL);
  return sw;
}

static tf_sweep_t *parse_ok(const char *text) {
  tf_sweep_t *sw = NULL;
  tf_err_t err = {0};
  int rc = tf_sweep_parse(&sw, text, strlen(text), "mem.yaml", &err);
  if (rc != 0) fprintf(stderr, "%s\n", err.msg);
  ASSERT_INT_EQ(rc, 0);
  return sw;
}

/* The message of a text that must fail with TF_EINPUT. */
static const char *parse_bad(const char *text, size_t len, tf_err_t *err) {
  tf_sweep_t *sw = NULL;
  int rc = tf_sweep_parse(&sw, text, len, "mem.yaml", err);
  ASSERT_INT_EQ(rc, TF_EINPUT);
  ASSERT(sw == NULL);
  return err->msg;
}

static void grid_text(const tf_sweep_t *sw, int axis, long task, char *buf) {
  tf_grid_value_text(sw, axis, task, buf, 64);
}

/* Field by field, so that the NaN parameter of a parameterless initialiser compares equal. */
static void assert_config_equal(const tf_config_t *a, const tf_config_t *b) {
  ASSERT(strcmp(a->name, b->name) == 0);
  ASSERT(strcmp(a->dataset, b->dataset) == 0);
  ASSERT_INT_EQ(a->validation, b->validation);
  ASSERT_INT_EQ(a->n_hidden, b->n_hidden);
  for (int i = 0; i < a->n_hidden; i++) ASSERT_INT_EQ(a->hidden[i], b->hidden[i]);
  ASSERT_INT_EQ(a->optimizer, b->optimizer);
  ASSERT(a->lr == b->lr && a->momentum == b->momentum);
  ASSERT(a->beta1 == b->beta1 && a->beta2 == b->beta2 && a->eps == b->eps);
  ASSERT_INT_EQ(a->batch, b->batch);
  ASSERT_INT_EQ(a->iterations, b->iterations);
  ASSERT_INT_EQ(a->eval_every, b->eval_every);
  ASSERT(a->sparse_below == b->sparse_below);
  ASSERT_INT_EQ(a->init.kind, b->init.kind);
  ASSERT((isnan(a->init.param) && isnan(b->init.param)) || a->init.param == b->init.param);
  ASSERT_INT_EQ(a->rounds, b->rounds);
  ASSERT(a->rate == b->rate && a->output_rate == b->output_rate);
  ASSERT_INT_EQ(a->scope, b->scope);
  ASSERT_INT_EQ(a->rewind, b->rewind);
  ASSERT_INT_EQ(a->control, b->control);
  ASSERT(a->seed == b->seed);
  ASSERT_INT_EQ(a->record_weights, b->record_weights);
}

/* Frankle & Carbin's LeNet-300-100 setup, written out here rather than taken from the library. */
static void assert_frankle_defaults(const tf_config_t *c) {
  ASSERT(strcmp(c->dataset, "mnist") == 0);
  ASSERT_INT_EQ(c->validation, 5000);
  ASSERT_INT_EQ(c->n_hidden, 2);
  ASSERT_INT_EQ(c->hidden[0], 300);
  ASSERT_INT_EQ(c->hidden[1], 100);
  ASSERT_INT_EQ(c->optimizer, TF_OPT_ADAM);
  ASSERT(c->lr == 1.2e-3);
  ASSERT(c->momentum == 0.9 && c->beta1 == 0.9 && c->beta2 == 0.999 && c->eps == 1e-8);
  ASSERT_INT_EQ(c->batch, 60);
  ASSERT_INT_EQ(c->iterations, 50000);
  ASSERT_INT_EQ(c->eval_every, 100);
  ASSERT_INT_EQ(c->rounds, 20);
  ASSERT(c->rate == 0.2 && c->output_rate == 0.1);
  ASSERT_INT_EQ(c->scope, TF_SCOPE_LAYERWISE);
  ASSERT_INT_EQ(c->rewind, 0);
  ASSERT_INT_EQ(c->control, TF_CONTROL_TICKET);
  ASSERT_INT_EQ(c->record_weights, TF_RECORD_INIT | TF_RECORD_REWIND | TF_RECORD_FINAL);
}

static void test_sweep_example_expands_18_tasks_last_axis_fastest(void) {
  tf_sweep_t *sw = load_ok(GOOD_DIR "/example.yaml");
  ASSERT(strcmp(tf_sweep_name(sw), "lenet300-init-study") == 0);
  ASSERT_INT_EQ(tf_grid_tasks(sw), 18);
  ASSERT_INT_EQ(tf_grid_axes(sw), 3);
  ASSERT(strcmp(tf_grid_axis_key(sw, 0), "init") == 0);
  ASSERT(strcmp(tf_grid_axis_key(sw, 1), "prune.rate") == 0);
  ASSERT(strcmp(tf_grid_axis_key(sw, 2), "seed") == 0);
  ASSERT_INT_EQ(tf_grid_axis_kind(sw, 0), TF_AXIS_TEXT);
  ASSERT_INT_EQ(tf_grid_axis_kind(sw, 1), TF_AXIS_REAL);
  ASSERT_INT_EQ(tf_grid_axis_kind(sw, 2), TF_AXIS_INT);
  ASSERT_INT_EQ(tf_grid_axis_size(sw, 0), 3);
  ASSERT_INT_EQ(tf_grid_axis_size(sw, 1), 2);
  ASSERT_INT_EQ(tf_grid_axis_size(sw, 2), 3);

  char a[64], b[64], c[64];
  grid_text(sw, 0, 0, a);
  grid_text(sw, 1, 0, b);
  grid_text(sw, 2, 0, c);
  ASSERT(strcmp(a, "glorot_normal") == 0 && strcmp(b, "0.2") == 0 && strcmp(c, "1") == 0);
  grid_text(sw, 0, 1, a);
  grid_text(sw, 1, 1, b);
  grid_text(sw, 2, 1, c);
  ASSERT(strcmp(a, "glorot_normal") == 0 && strcmp(b, "0.2") == 0 && strcmp(c, "2") == 0);
  grid_text(sw, 0, 17, a);
  grid_text(sw, 1, 17, b);
  grid_text(sw, 2, 17, c);
  ASSERT(strcmp(a, "orthogonal(1)") == 0 && strcmp(b, "0.4") == 0 && strcmp(c, "3") == 0);

  static const tf_init_kind_t inits[3] = {TF_INIT_GLOROT_NORMAL, TF_INIT_HE_NORMAL,
                                          TF_INIT_ORTHOGONAL};
  static const double rates[2] = {0.2, 0.4};
  const tf_config_t *base = tf_sweep_base(sw);
  assert_frankle_defaults(base);
  for (long t = 0; t < 18; t++) {
    int i_init = (int)(t / 6), i_rate = (int)(t / 3 % 2), i_seed = (int)(t % 3);
    ASSERT_INT_EQ(tf_grid_value_index(sw, 0, t), i_init);
    ASSERT_INT_EQ(tf_grid_value_index(sw, 1, t), i_rate);
    ASSERT_INT_EQ(tf_grid_value_index(sw, 2, t), i_seed);
    ASSERT(tf_grid_value_real(sw, 1, t) == rates[i_rate]);
    ASSERT_INT_EQ(tf_grid_value_int(sw, 2, t), i_seed + 1);
    tf_config_t cfg, want = *base;
    ASSERT_INT_EQ(tf_grid_task(sw, t, &cfg, NULL), 0);
    want.init.kind = inits[i_init];
    want.init.param = cfg.init.param;
    want.rate = rates[i_rate];
    want.seed = (uint64_t)(i_seed + 1);
    assert_config_equal(&cfg, &want);
    ASSERT(strcmp(cfg.name, "lenet300-init-study") == 0);
    if (i_init == 2) ASSERT(cfg.init.param == 1.0);
  }
  tf_sweep_free(sw);
}

static void test_sweep_grid_value_overrides_fixed_value(void) {
  /* The example sets init, prune.rate and seed both outside and inside the grid. */
  tf_sweep_t *sw = load_ok(GOOD_DIR "/example.yaml");
  const tf_config_t *base = tf_sweep_base(sw);
  ASSERT_INT_EQ(base->init.kind, TF_INIT_GLOROT_NORMAL);
  ASSERT(base->seed == 1 && base->rate == 0.2);
  tf_config_t cfg;
  ASSERT_INT_EQ(tf_grid_task(sw, 10, &cfg, NULL), 0); /* he_normal, 0.4, 2 */
  ASSERT_INT_EQ(cfg.init.kind, TF_INIT_HE_NORMAL);
  ASSERT(cfg.rate == 0.4 && cfg.seed == 2);
  tf_sweep_free(sw);
}

static void test_sweep_three_lines_give_frankle_defaults(void) {
  tf_sweep_t *sw = parse_ok("name: tiny\nseed: 7\ninit: he_uniform\n");
  const tf_config_t *base = tf_sweep_base(sw);
  assert_frankle_defaults(base);
  ASSERT(base->seed == 7);
  ASSERT_INT_EQ(base->init.kind, TF_INIT_HE_UNIFORM);
  ASSERT(strcmp(tf_sweep_name(sw), "tiny") == 0);
  ASSERT_INT_EQ(tf_grid_tasks(sw), 1);
  ASSERT_INT_EQ(tf_grid_axes(sw), 0);
  tf_config_t cfg;
  ASSERT_INT_EQ(tf_grid_task(sw, 0, &cfg, NULL), 0);
  assert_config_equal(&cfg, base);
  tf_sweep_free(sw);

  sw = load_ok(GOOD_DIR "/minimal.yaml");
  assert_frankle_defaults(tf_sweep_base(sw));
  ASSERT_INT_EQ(tf_sweep_base(sw)->init.kind, TF_INIT_GLOROT_NORMAL);
  ASSERT(tf_sweep_base(sw)->seed == 1);
  tf_sweep_free(sw);

  tf_config_t def;
  tf_config_default(&def);
  assert_frankle_defaults(&def);
  ASSERT(def.name[0] == '\0' && def.seed == 1 && def.init.kind == TF_INIT_GLOROT_NORMAL);
}

static void test_sweep_flow_style_equals_block_style(void) {
  tf_sweep_t *flow = parse_ok(
      "{name: s, data: {dataset: fashion-mnist, validation: 1000}, model: {hidden: [64]},\n"
      " train: {optimizer: momentum, lr: 0.05, batch: 32, iterations: 3000, eval_every: 300},\n"
      " prune: {rounds: 3, scope: global, rewind: 600}, control: sign_reinit,\n"
      " record: {weights: [final, init]}, grid: {seed: [4, 5]}}\n");
  tf_sweep_t *block = parse_ok(
      "name: s\n"
      "data:\n  dataset: fashion-mnist\n  validation: 1000\n"
      "model:\n  hidden:\n    - 64\n"
      "train:\n  optimizer: momentum\n  lr: 0.05\n  batch: 32\n  iterations: 3000\n"
      "  eval_every: 300\n"
      "prune:\n  rounds: 3\n  scope: global\n  rewind: 600\n"
      "control: sign_reinit\n"
      "record:\n  weights:\n    - final\n    - init\n"
      "grid:\n  seed:\n    - 4\n    - 5\n");
  ASSERT_INT_EQ(tf_grid_tasks(flow), 2);
  ASSERT_INT_EQ(tf_grid_tasks(block), 2);
  for (long t = 0; t < 2; t++) {
    tf_config_t a, b;
    ASSERT_INT_EQ(tf_grid_task(flow, t, &a, NULL), 0);
    ASSERT_INT_EQ(tf_grid_task(block, t, &b, NULL), 0);
    assert_config_equal(&a, &b);
    ASSERT(strcmp(a.dataset, "fashion-mnist") == 0);
    ASSERT_INT_EQ(a.n_hidden, 1);
    ASSERT_INT_EQ(a.hidden[0], 64);
    ASSERT_INT_EQ(a.optimizer, TF_OPT_MOMENTUM);
    ASSERT_INT_EQ(a.scope, TF_SCOPE_GLOBAL);
    ASSERT_INT_EQ(a.control, TF_CONTROL_SIGN_REINIT);
    ASSERT_INT_EQ(a.rewind, 600);
    ASSERT_INT_EQ(a.record_weights, TF_RECORD_FINAL | TF_RECORD_INIT);
    ASSERT(a.seed == (uint64_t)(4 + t));
  }
  tf_sweep_free(flow);
  tf_sweep_free(block);
}

static void test_sweep_grid_over_hidden_and_lr(void) {
  tf_sweep_t *sw = load_ok(GOOD_DIR "/hidden_lr_grid.yaml");
  ASSERT_INT_EQ(tf_grid_tasks(sw), 9);
  ASSERT_INT_EQ(tf_grid_axis_kind(sw, 0), TF_AXIS_TEXT);
  ASSERT_INT_EQ(tf_grid_axis_kind(sw, 1), TF_AXIS_REAL);
  static const char *const widths[3] = {"[300, 100]", "[500, 300, 100]", "[]"};
  static const int layers[3] = {2, 3, 0};
  static const char *const lr_text[3] = {"0.001", "0.0012", "0.1"};
  static const double lr[3] = {1.0e-3, 1.2e-3, 0.1};
  for (long t = 0; t < 9; t++) {
    char h[64], l[64];
    grid_text(sw, 0, t, h);
    grid_text(sw, 1, t, l);
    ASSERT(strcmp(h, widths[t / 3]) == 0);
    ASSERT(strcmp(l, lr_text[t % 3]) == 0);
    ASSERT(tf_grid_value_real(sw, 1, t) == lr[t % 3]);
    tf_config_t cfg;
    ASSERT_INT_EQ(tf_grid_task(sw, t, &cfg, NULL), 0);
    ASSERT_INT_EQ(cfg.n_hidden, layers[t / 3]);
    ASSERT(cfg.lr == lr[t % 3]);
    ASSERT_INT_EQ(cfg.iterations, 5000);
  }
  tf_config_t cfg;
  ASSERT_INT_EQ(tf_grid_task(sw, 4, &cfg, NULL), 0);
  ASSERT(cfg.hidden[0] == 500 && cfg.hidden[1] == 300 && cfg.hidden[2] == 100);
  tf_sweep_free(sw);
}

static void test_grid_canonical_texts_round_trip(void) {
  tf_sweep_t *sw = parse_ok(
      "grid:\n"
      "  prune.rate: [0.2, 0.30000000000000004, 1.0e-1, 0.123456789]\n"
      "  train.eps: [1.0e-8, 2.5e-10]\n"
      "  seed: [0, 9223372036854775807]\n"
      "  init: [normal(0.05), orthogonal(1.4), he_normal, uniform]\n"
      "  control: [random_mask]\n"
      "  data.dataset: [fashion-mnist]\n"
      "  train.lr: [1]\n");
  ASSERT_INT_EQ(tf_grid_tasks(sw), 4 * 2 * 2 * 4);
  static const char *const rate[4] = {"0.2", "0.30000000000000004", "0.1", "0.123456789"};
  static const char *const eps[2] = {"1e-08", "2.5e-10"};
  static const char *const seed[2] = {"0", "9223372036854775807"};
  static const char *const init[4] = {"normal(0.05)", "orthogonal(1.4)", "he_normal",
                                      "uniform(0.1)"};
  char buf[64];
  for (int i = 0; i < 4; i++) {
    grid_text(sw, 0, (long)i * 16, buf);
    ASSERT(strcmp(buf, rate[i]) == 0);
    ASSERT(strtod(buf, NULL) == tf_grid_value_real(sw, 0, (long)i * 16));
    grid_text(sw, 3, i, buf);
    ASSERT(strcmp(buf, init[i]) == 0);
  }
  for (int i = 0; i < 2; i++) {
    grid_text(sw, 1, (long)i * 8, buf);
    ASSERT(strcmp(buf, eps[i]) == 0);
    grid_text(sw, 2, (long)i * 4, buf);
    ASSERT(strcmp(buf, seed[i]) == 0);
  }
  ASSERT(tf_grid_value_int(sw, 2, 4) == INT64_MAX);
  tf_config_t cfg;
  ASSERT_INT_EQ(tf_grid_task(sw, 4, &cfg, NULL), 0);
  ASSERT(cfg.seed == (uint64_t)INT64_MAX);
  grid_text(sw, 4, 0, buf);
  ASSERT(strcmp(buf, "random_mask") == 0);
  grid_text(sw, 5, 0, buf);
  ASSERT(strcmp(buf, "fashion-mnist") == 0);
  grid_text(sw, 6, 0, buf);
  ASSERT(strcmp(buf, "1") == 0);
  ASSERT_INT_EQ(tf_grid_axis_kind(sw, 6), TF_AXIS_REAL);
  ASSERT(tf_grid_value_real(sw, 6, 0) == 1.0);
  tf_sweep_free(sw);
}

static void test_sweep_key_table_documents_every_key_with_its_default(void) {
  size_t n = 0;
  const tf_sweep_key_t *keys = tf_sweep_keys(&n);
  static const char *const order[] = {
      "name", "data.dataset", "data.validation", "data.normalize",
      "data.order", "model.hidden", "model.preset", "model.conv",
      "model.kernel", "model.padding", "train.optimizer", "train.lr",
      "train.momentum", "train.beta1", "train.beta2", "train.eps",
      "train.weight_decay", "train.nesterov", "train.warmup", "train.milestones",
      "train.gamma", "train.batch", "train.iterations", "train.eval_every",
      "train.test_eval", "train.sparse_below", "init", "prune.rounds",
      "prune.rate", "prune.output_rate", "prune.conv_rate", "prune.scope",
      "prune.rewind", "prune.exclude", "prune.random", "control",
      "seed", "control_seed", "transfer.dataset", "transfer.optimizer",
      "transfer.lr", "analysis.instability", "record.weights", "grid"};
  ASSERT_INT_EQ(n, sizeof order / sizeof order[0]);
  tf_config_t def;
  tf_config_default(&def);
  for (size_t i = 0; i < n; i++) {
    ASSERT(strcmp(keys[i].key, order[i]) == 0);
    size_t dl = strlen(keys[i].description);
    ASSERT(dl > 10 && keys[i].description[dl - 1] == '.');
    ASSERT(keys[i].type[0] != '\0' && keys[i].def[0] != '\0');
    if (strcmp(keys[i].key, "grid") == 0) continue;
    /* Written into a file as documented, the default reproduces tf_config_default. */
    char text[256];
    const char *dot = strchr(keys[i].key, '.');
    if (dot != NULL)
      snprintf(text, sizeof text, "%.*s:\n  %s: %s\n", (int)(dot - keys[i].key), keys[i].key,
               dot + 1, keys[i].def);
    else
      snprintf(text, sizeof text, "%s: %s\n", keys[i].key, keys[i].def);
    tf_sweep_t *sw = parse_ok(text);
    assert_config_equal(tf_sweep_base(sw), &def);
    tf_sweep_free(sw);
  }
}

static void test_config_names_and_cross_key_rules(void) {
  ASSERT(strcmp(tf_config_optimizer_name(TF_OPT_SGD), "sgd") == 0);
  ASSERT(strcmp(tf_config_optimizer_name(TF_OPT_MOMENTUM), "momentum") == 0);
  ASSERT(strcmp(tf_config_optimizer_name(TF_OPT_ADAM), "adam") == 0);
  ASSERT(tf_config_optimizer_name(TF_OPT_COUNT) == NULL);
  ASSERT(strcmp(tf_config_scope_name(TF_SCOPE_LAYERWISE), "layerwise") == 0);
  ASSERT(strcmp(tf_config_scope_name(TF_SCOPE_GLOBAL), "global") == 0);
  ASSERT(tf_config_scope_name(TF_SCOPE_COUNT) == NULL);
  ASSERT(strcmp(tf_config_control_name(TF_CONTROL_TICKET), "ticket") == 0);
  ASSERT(strcmp(tf_config_control_name(TF_CONTROL_REINIT), "reinit") == 0);
  ASSERT(strcmp(tf_config_control_name(TF_CONTROL_SIGN_REINIT), "sign_reinit") == 0);
  ASSERT(strcmp(tf_config_control_name(TF_CONTROL_RANDOM_MASK), "random_mask") == 0);
  ASSERT(strcmp(tf_config_control_name(TF_CONTROL_SPARSE_REINIT), "sparse_reinit") == 0);
  ASSERT(tf_config_control_name(TF_CONTROL_COUNT) == NULL);

  tf_config_t c;
  tf_err_t err = {0};
  tf_config_default(&c);
  ASSERT_INT_EQ(tf_config_check(&c, &err), 0);
  c.batch = 55000; /* exactly the images left after the 5,000 held out */
  ASSERT_INT_EQ(tf_config_check(&c, &err), 0);
  c.batch = 55001;
  ASSERT_INT_EQ(tf_config_check(&c, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "train.batch (55001)");
  tf_config_default(&c);
  c.rewind = c.iterations;
  ASSERT_INT_EQ(tf_config_check(&c, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "prune.rewind (50000) must be less than train.iterations");
  c.rewind = c.iterations - c.eval_every;
  ASSERT_INT_EQ(tf_config_check(&c, &err), 0);
  c.rewind = 150;
  ASSERT_INT_EQ(tf_config_check(&c, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "prune.rewind (150) must be a multiple of train.eval_every (100)");
  tf_config_default(&c);
  c.eval_every = 0; /* would divide by zero */
  ASSERT_INT_EQ(tf_config_check(&c, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "train.eval_every");
  tf_config_default(&c);
  c.validation = 60000;
  ASSERT_INT_EQ(tf_config_check(&c, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "data.validation (60000) must be less than the 60000");
  tf_config_default(&c);
  strcpy(c.dataset, "mnits");
  ASSERT_INT_EQ(tf_config_check(&c, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "data.dataset: unknown dataset 'mnits'");
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

#define MAX_FIXTURES 256

/* The paths "dir/NAME.yaml" of the YAML files in dir, sorted, malloc'd; returns the count. */
static int list_yaml(const char *dir, char **paths) {
  DIR *d = opendir(dir);
  ASSERT(d != NULL);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0) continue;
    ASSERT(n < MAX_FIXTURES);
    paths[n] = malloc(strlen(dir) + len + 2);
    ASSERT(paths[n] != NULL);
    sprintf(paths[n++], "%s/%s", dir, e->d_name);
  }
  closedir(d);
  qsort(paths, (size_t)n, sizeof paths[0], compare_names);
  return n;
}

static void test_sweep_bad_corpus_gives_expected_messages(void) {
  char *paths[MAX_FIXTURES];
  int n = list_yaml(BAD_DIR, paths);
  ASSERT(n >= 30);
  for (int i = 0; i < n; i++) {
    const char *path = paths[i];
    char line[512];
    FILE *f = fopen(path, "r");
    ASSERT(f != NULL);
    ASSERT(fgets(line, sizeof line, f) != NULL);
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    const char *tag = "# expect: ";
    if (strncmp(line, tag, strlen(tag)) != 0) {
      fprintf(stderr, "%s: first line must be '# expect: LINE:COL: message'\n", path);
      exit(1);
    }
    char want[768];
    snprintf(want, sizeof want, "%s:%s", path, line + strlen(tag));
    tf_sweep_t *sw = NULL;
    tf_err_t err = {0};
    int rc = tf_sweep_load(&sw, path, &err);
    if (rc != TF_EINPUT) fprintf(stderr, "%s: rc %d (%s)\n", path, rc, err.msg);
    ASSERT_INT_EQ(rc, TF_EINPUT);
    ASSERT(sw == NULL);
    ASSERT_STR_CONTAINS(err.msg, want);
    free(paths[i]);
  }
}

static void test_sweep_good_corpus_loads(void) {
  char *paths[MAX_FIXTURES];
  int n = list_yaml(GOOD_DIR, paths);
  ASSERT(n >= 4);
  for (int i = 0; i < n; i++) {
    tf_sweep_t *sw = load_ok(paths[i]);
    for (long t = 0; t < tf_grid_tasks(sw); t++) {
      tf_config_t cfg;
      tf_err_t err = {0};
      ASSERT_INT_EQ(tf_grid_task(sw, t, &cfg, &err), 0);
      ASSERT_INT_EQ(tf_config_check(&cfg, &err), 0);
    }
    tf_sweep_free(sw);
    free(paths[i]);
  }
}

static void test_sweep_late_rewind_grid_keeps_fixed_keys(void) {
  tf_sweep_t *sw = load_ok(GOOD_DIR "/late_rewind.yaml");
  ASSERT_INT_EQ(tf_grid_tasks(sw), 12);
  tf_config_t cfg;
  ASSERT_INT_EQ(tf_grid_task(sw, 5, &cfg, NULL), 0); /* normal(0.05), rewind 2000 */
  ASSERT_INT_EQ(cfg.init.kind, TF_INIT_NORMAL);
  ASSERT(cfg.init.param == 0.05);
  ASSERT_INT_EQ(cfg.rewind, 2000);
  ASSERT_INT_EQ(cfg.optimizer, TF_OPT_MOMENTUM);
  ASSERT_INT_EQ(cfg.scope, TF_SCOPE_GLOBAL);
  ASSERT_INT_EQ(cfg.record_weights, TF_RECORD_FINAL);
  ASSERT_INT_EQ(cfg.iterations, 10000);
  ASSERT_INT_EQ(tf_sweep_base(sw)->rewind, 1000);
  tf_sweep_free(sw);

  sw = load_ok(GOOD_DIR "/sections_left_empty.yaml");
  ASSERT(strcmp(tf_sweep_name(sw), "sections left empty") == 0);
  ASSERT_INT_EQ(tf_sweep_base(sw)->record_weights, 0);
  ASSERT_INT_EQ(tf_grid_tasks(sw), 1);
  tf_sweep_free(sw);
}

static void test_sweep_keeps_file_text(void) {
  FILE *f = fopen(GOOD_DIR "/example.yaml", "rb");
  ASSERT(f != NULL);
  static char bytes[TF_SWEEP_MAX_BYTES + 1];
  size_t len = fread(bytes, 1, sizeof bytes - 1, f);
  fclose(f);
  bytes[len] = '\0';
  tf_sweep_t *sw = load_ok(GOOD_DIR "/example.yaml");
  ASSERT(strcmp(tf_sweep_text(sw), bytes) == 0);
  tf_sweep_free(sw);
}

static void test_sweep_rejects_nul_size_encoding_and_missing_file(void) {
  tf_err_t err = {0};
  static const char nul[] = "name: x\nse\0ed: 1\n";
  ASSERT_STR_CONTAINS(parse_bad(nul, sizeof nul - 1, &err), "mem.yaml:2:3: NUL byte");

  ASSERT_STR_CONTAINS(parse_bad("", 0, &err), "mem.yaml:1:1: the file is empty");
  ASSERT_STR_CONTAINS(parse_bad("# nothing\n\n", 11, &err), "mem.yaml:1:1: the file is empty");

  static const char bad_utf8[] = "name: caf\xc3\n";
  ASSERT_STR_CONTAINS(parse_bad(bad_utf8, sizeof bad_utf8 - 1, &err),
                      "mem.yaml:1:11: YAML syntax error: invalid trailing UTF-8 octet");

  /* One byte over the limit, as a comment: only the size is wrong. */
  size_t big = TF_SWEEP_MAX_BYTES + 1;
  char *text = malloc(big);
  ASSERT(text != NULL);
  memset(text, '#', big);
  memcpy(text, "name: x\n", 8);
  ASSERT_STR_CONTAINS(parse_bad(text, big, &err), "mem.yaml:1:1: the file is 61441 bytes");
  tf_sweep_t *sw = NULL;
  ASSERT_INT_EQ(tf_sweep_parse(&sw, text, big - 1, "mem.yaml", &err), 0);
  tf_sweep_free(sw);

  const char *path = "/tmp/ticketfarm_test_sweep_big.yaml";
  FILE *f = fopen(path, "wb");
  ASSERT(f != NULL);
  ASSERT_INT_EQ(fwrite(text, 1, big, f), big);
  fclose(f);
  free(text);
  ASSERT_INT_EQ(tf_sweep_load(&sw, path, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, ":1:1: the file is 61441 bytes");
  remove(path);

  ASSERT_INT_EQ(tf_sweep_load(&sw, "fixtures/sweeps/no_such_file.yaml", &err), TF_EIO);
  ASSERT_STR_CONTAINS(err.msg, "fixtures/sweeps/no_such_file.yaml: cannot open");
  ASSERT(sw == NULL);
}

static void test_grid_task_out_of_range_is_einput(void) {
  tf_sweep_t *sw = load_ok(GOOD_DIR "/flow.yaml");
  tf_config_t cfg;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_grid_task(sw, 4, &cfg, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "task 4");
  ASSERT_INT_EQ(tf_grid_task(sw, -1, &cfg, &err), TF_EINPUT);
  ASSERT_INT_EQ(tf_grid_task(sw, 3, &cfg, &err), 0);
  ASSERT_INT_EQ(cfg.control, TF_CONTROL_RANDOM_MASK);
  ASSERT(tf_grid_axis_key(sw, 1) == NULL);
  tf_sweep_free(sw);
}

static void test_grid_checks_every_task_of_a_large_grid(void) {
  /* 1,000,000 tasks; the first to break a cross-key rule is task 900000. */
  static const char text[] =
      "train:\n  iterations: 1000\n"
      "grid:\n"
      "  prune.rewind: [0, 100, 200, 300, 400, 500, 600, 700, 800, 1000]\n"
      "  seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
      "  prune.rate: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]\n"
      "  train.lr: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
      "  prune.rounds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
      "  train.beta1: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]\n";
  tf_err_t err = {0};
  ASSERT_STR_CONTAINS(parse_bad(text, sizeof text - 1, &err),
                      "mem.yaml:4:3: task 900000 (prune.rewind=1000, seed=1, prune.rate=0.1, "
                      "train.lr=1, prune.rounds=1, train.beta1=0.1): prune.rewind (1000) must be "
                      "less than train.iterations (1000)");
  /* Without the bad rewind value the same grid loads, all 900,000 tasks checked. */
  static const char good[] =
      "train:\n  iterations: 1000\n"
      "grid:\n"
      "  prune.rewind: [0, 100, 200, 300, 400, 500, 600, 700, 800]\n"
      "  seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
      "  prune.rate: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]\n"
      "  train.lr: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
      "  prune.rounds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
      "  train.beta1: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]\n";
  tf_sweep_t *sw = parse_ok(good);
  ASSERT_INT_EQ(tf_grid_tasks(sw), 900000);
  tf_config_t cfg;
  ASSERT_INT_EQ(tf_grid_task(sw, 899999, &cfg, NULL), 0);
  ASSERT(cfg.rewind == 800 && cfg.seed == 10 && cfg.rate == 0.95 && cfg.lr == 10);
  ASSERT(cfg.rounds == 10 && cfg.beta1 == 0.95);
  tf_sweep_free(sw);
}

/* train.sparse_below: a real in [0, 1], default the measured crossover, and a grid axis whose
 * values reach the tasks' configs. */
static void test_sweep_sparse_below_is_a_bounded_real_grid_axis(void) {
  tf_config_t def;
  tf_config_default(&def);
  ASSERT(def.sparse_below == TF_SPARSE_BELOW_DEFAULT);
  ASSERT(def.sparse_below > 0.0 && def.sparse_below < 1.0);
  tf_sweep_t *sw = parse_ok("train:\n  sparse_below: 0\n");
  ASSERT(tf_sweep_base(sw)->sparse_below == 0.0);
  tf_sweep_free(sw);
  sw = parse_ok("grid:\n  train.sparse_below: [0, 0.25, 1]\n");
  ASSERT_INT_EQ(tf_grid_tasks(sw), 3);
  ASSERT_INT_EQ(tf_grid_axis_kind(sw, 0), TF_AXIS_REAL);
  ASSERT(strcmp(tf_grid_axis_key(sw, 0), "train.sparse_below") == 0);
  const double want[3] = {0.0, 0.25, 1.0};
  for (long t = 0; t < 3; t++) {
    tf_config_t cfg;
    ASSERT_INT_EQ(tf_grid_task(sw, t, &cfg, NULL), 0);
    ASSERT(cfg.sparse_below == want[t]);
    ASSERT(tf_grid_value_real(sw, 0, t) == want[t]);
    char buf[64];
    tf_config_t other = cfg;
    other.sparse_below = 0.5;
    ASSERT_INT_EQ(tf_config_diff(&cfg, &other, buf, sizeof buf), 1);
    ASSERT_STR_CONTAINS(buf, "train.sparse_below");
  }
  tf_sweep_free(sw);
  tf_err_t err = {0};
  const char *bad = "train:\n  sparse_below: 1.5\n";
  ASSERT_STR_CONTAINS(parse_bad(bad, strlen(bad), &err),
                      "mem.yaml:2:17: train.sparse_below: must be in [0, 1], got 1.5");
  bad = "grid:\n  train.sparse_below: [0.2, -0.1]\n";
  ASSERT_STR_CONTAINS(parse_bad(bad, strlen(bad), &err), "train.sparse_below: must be in [0, 1]");
}

/* The YAML setting key (a dotted path or a top-level key) to value. */
static void key_yaml(const char *key, const char *value, char *buf, size_t size) {
  const char *dot = strchr(key, '.');
  if (dot == NULL)
    snprintf(buf, size, "%s: %s\n", key, value);
  else
    snprintf(buf, size, "%.*s:\n  %s: %s\n", (int)(dot - key), key, dot + 1, value);
}

/* Every key of the table, set away from its default, makes the sweep differ from the defaults
 * and the difference names the key: a key that tf_config_diff forgot would let a results file
 * be resumed with another sweep. */
static void test_sweep_diff_names_every_key_set_away_from_its_default(void) {
  static const struct {
    const char *key, *value, *named;
  } other[] = {
      {"name", "other", "name"},
      {"data.dataset", "fashion-mnist", "data.dataset"},
      {"data.validation", "1000", "data.validation"},
      {"data.normalize", "standardize", "data.normalize"},
      {"data.order", "fixed", "data.order"},
      {"model.hidden", "[300]", "model.hidden"},
      {"model.preset", "lenet5", "model.preset"},
      {"model.conv", "[4, pool]", "model.conv"},
      {"model.kernel", "5", "model.kernel"},
      {"model.padding", "valid", "model.padding"},
      {"prune.conv_rate", "0.3", "prune.conv_rate"},
      {"train.optimizer", "sgd", "train.optimizer"},
      {"train.lr", "0.1", "train.lr"},
      {"train.momentum", "0.5", "train.momentum"},
      {"train.beta1", "0.5", "train.beta1"},
      {"train.beta2", "0.99", "train.beta2"},
      {"train.eps", "1.0e-6", "train.eps"},
      {"train.weight_decay", "5.0e-4", "train.weight_decay"},
      {"train.nesterov", "true", "train.nesterov"},
      {"train.warmup", "100", "train.warmup"},
      {"train.milestones", "[20000, 30000]", "train.milestones"},
      {"train.gamma", "0.5", "train.gamma"},
      {"train.batch", "100", "train.batch"},
      {"train.iterations", "1000", "train.iterations"},
      {"train.eval_every", "50", "train.eval_every"},
      {"train.test_eval", "at_best", "train.test_eval"},
      {"train.sparse_below", "0.3", "train.sparse_below"},
      {"init", "he_normal", "init"},
      {"prune.rounds", "3", "prune.rounds"},
      {"prune.rate", "0.3", "prune.rate"},
      {"prune.output_rate", "0.2", "prune.output_rate"},
      {"prune.scope", "global", "prune.scope"},
      {"prune.rewind", "100", "prune.rewind"},
      {"prune.exclude", "[output]", "prune.exclude"},
      {"prune.random", "nested", "prune.random"},
      {"control", "reinit", "control"},
      {"seed", "7", "seed"},
      {"control_seed", "2", "control_seed"},
      {"transfer.dataset", "fashion-mnist", "transfer.dataset"},
      {"transfer.optimizer", "sgd", "transfer.optimizer"},
      {"transfer.lr", "0.1", "transfer.lr"},
      {"analysis.instability", "30", "analysis.instability"},
      {"record.weights", "[final]", "record.weights"},
      /* A grid makes more tasks: the difference is their number. */
      {"grid", "{train.lr: [0.1, 0.2]}", "tasks in the file"},
  };
  const size_t n_other = sizeof other / sizeof other[0];
  tf_sweep_t *def = parse_ok("name:\n");
  char buf[512];
  ASSERT_INT_EQ(tf_sweep_diff(def, def, buf, sizeof buf), 0);
  ASSERT(buf[0] == '\0');
  size_t n_keys = 0;
  const tf_sweep_key_t *keys = tf_sweep_keys(&n_keys);
  ASSERT_INT_EQ(n_keys, n_other);
  for (size_t k = 0; k < n_keys; k++) {
    size_t i = 0;
    while (i < n_other && strcmp(other[i].key, keys[k].key) != 0) i++;
    if (i == n_other) fprintf(stderr, "no other value for %s\n", keys[k].key);
    ASSERT(i < n_other);
    ASSERT(strcmp(other[i].value, keys[k].def) != 0);
    char text[256];
    key_yaml(other[i].key, other[i].value, text, sizeof text);
    tf_sweep_t *sw = parse_ok(text);
    buf[0] = '\0';
    int differs = tf_sweep_diff(def, sw, buf, sizeof buf);
    if (differs != 1)
      fprintf(stderr, "%s set to %s: no difference\n", other[i].key, other[i].value);
    ASSERT_INT_EQ(differs, 1);
    ASSERT_STR_CONTAINS(buf, other[i].named);
    buf[0] = '\0';
    ASSERT_INT_EQ(tf_sweep_diff(sw, def, buf, sizeof buf), 1);
    ASSERT_STR_CONTAINS(buf, other[i].named);
    tf_sweep_free(sw);
  }
  tf_sweep_free(def);
}

/* The initialiser's parameter is part of the key, and a later task's difference is found and
 * labelled with its task and direction. */
static void test_sweep_diff_finds_init_parameter_and_later_tasks(void) {
  tf_sweep_t *a = parse_ok("init: normal\n");
  tf_sweep_t *b = parse_ok("init: normal(0.05)\n");
  char buf[512];
  ASSERT_INT_EQ(tf_sweep_diff(a, b, buf, sizeof buf), 1);
  ASSERT_STR_CONTAINS(buf, "task 0: init (parameter)");
  tf_sweep_free(a);
  tf_sweep_free(b);
  a = parse_ok("grid:\n  seed: [1, 2]\n");
  b = parse_ok("grid:\n  seed: [1, 3]\n");
  ASSERT_INT_EQ(tf_sweep_diff(a, b, buf, sizeof buf), 1);
  ASSERT(strcmp(buf, "task 1: seed: 2 vs 3 (file vs sweep)") == 0);
  tf_sweep_free(b);
  b = parse_ok("seed: 1\ngrid:\n  seed: [1, 2]\n");
  ASSERT_INT_EQ(tf_sweep_diff(a, b, buf, sizeof buf), 0);
  tf_sweep_free(b);
  b = parse_ok("seed: 1\n");
  ASSERT_INT_EQ(tf_sweep_diff(a, b, buf, sizeof buf), 1);
  ASSERT(strcmp(buf, "2 tasks in the file, 1 in the sweep") == 0);
  tf_sweep_free(a);
  tf_sweep_free(b);
}

int main(void) {
  RUN(test_sweep_sparse_below_is_a_bounded_real_grid_axis);
  RUN(test_sweep_example_expands_18_tasks_last_axis_fastest);
  RUN(test_sweep_grid_value_overrides_fixed_value);
  RUN(test_sweep_three_lines_give_frankle_defaults);
  RUN(test_sweep_flow_style_equals_block_style);
  RUN(test_sweep_grid_over_hidden_and_lr);
  RUN(test_grid_canonical_texts_round_trip);
  RUN(test_sweep_key_table_documents_every_key_with_its_default);
  RUN(test_config_names_and_cross_key_rules);
  RUN(test_sweep_bad_corpus_gives_expected_messages);
  RUN(test_sweep_good_corpus_loads);
  RUN(test_sweep_late_rewind_grid_keeps_fixed_keys);
  RUN(test_sweep_keeps_file_text);
  RUN(test_sweep_rejects_nul_size_encoding_and_missing_file);
  RUN(test_grid_task_out_of_range_is_einput);
  RUN(test_grid_checks_every_task_of_a_large_grid);
  RUN(test_sweep_diff_names_every_key_set_away_from_its_default);
  RUN(test_sweep_diff_finds_init_parameter_and_later_tasks);
  return 0;
}
