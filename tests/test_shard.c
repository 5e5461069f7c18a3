/* Shards: the "K/N" syntax, families kept whole, the cost balance of the split and its
 * independence from anything but the sweep. */
#include "ticketfarm/shard.h"
#include "ticketfarm/family.h"

#include "test.h"
#include "ticketfarm/grid.h"
#include "ticketfarm/ticket.h"

static tf_sweep_t *parse(const char *text) {
  tf_sweep_t *sw = NULL;
  tf_err_t err = {0};
  int rc = tf_sweep_parse(&sw, text, strlen(text), "mem.yaml", &err);
  if (rc < 0) fprintf(stderr, "%s\n", err.msg);
  ASSERT_INT_EQ(rc, 0);
  return sw;
}

static void test_shard_parse_takes_k_of_n_and_refuses_the_rest(void) {
  tf_shard_t s;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_shard_parse("0/1", &s, &err), 0);
  ASSERT_INT_EQ(s.k, 0);
  ASSERT_INT_EQ(s.n, 1);
  ASSERT_INT_EQ(tf_shard_parse("7/8", &s, &err), 0);
  ASSERT_INT_EQ(s.k, 7);
  ASSERT_INT_EQ(s.n, 8);
  const char *bad[] = {"8/8", "-1/4", "1/0", "1", "1/", "/4", "a/4", "1/4x", "1/-4", " 1/4",
                       "1/100001", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ASSERT_INT_EQ(tf_shard_parse(bad[i], &s, &err), TF_EINPUT);
    ASSERT_STR_CONTAINS(err.msg, "--shard takes K/N");
  }
}

/* init x control x seed: a family is (init, seed), its members the controls. */
static const char family_sweep[] =
    "model: {hidden: [20]}\n"
    "train: {iterations: 100, eval_every: 50}\n"
    "prune: {rounds: 2}\n"
    "grid:\n"
    "  init: [glorot_normal, he_normal, orthogonal]\n"
    "  control: [ticket, reinit, random_mask]\n"
    "  seed: [1, 2, 3, 4]\n";

static void test_shard_family_is_the_task_with_the_first_control(void) {
  tf_sweep_t *sw = parse(family_sweep);
  ASSERT_INT_EQ(tf_grid_tasks(sw), 36);
  for (long t = 0; t < 36; t++) {
    long f = tf_family_of(sw, t);
    ASSERT_INT_EQ(tf_grid_value_index(sw, 1, f), 0);
    ASSERT_INT_EQ(tf_grid_value_index(sw, 0, f), tf_grid_value_index(sw, 0, t));
    ASSERT_INT_EQ(tf_grid_value_index(sw, 2, f), tf_grid_value_index(sw, 2, t));
  }
  ASSERT_INT_EQ(tf_family_of(sw, 12 + 2 * 4 + 3), 12 + 3); /* he_normal, random_mask, seed 4 */
  ASSERT(tf_family_axis("control") && tf_family_axis("control_seed"));
  ASSERT(!tf_family_axis("seed") && !tf_family_axis("init"));
  tf_sweep_free(sw);
}

static void test_shard_assign_keeps_families_whole_and_covers_every_task(void) {
  tf_sweep_t *sw = parse(family_sweep);
  tf_err_t err = {0};
  for (int n = 1; n <= 13; n++) {
    int shard_of[36];
    double load[13];
    ASSERT_INT_EQ(tf_shard_assign(sw, n, shard_of, load, &err), 0);
    int count[13] = {0};
    for (long t = 0; t < 36; t++) {
      ASSERT(shard_of[t] >= 0 && shard_of[t] < n);
      ASSERT_INT_EQ(shard_of[t], shard_of[tf_family_of(sw, t)]);
      count[shard_of[t]]++;
    }
    /* 12 equal families: as even as whole families allow. */
    for (int k = 0; k < n; k++) {
      int fams = count[k] / 3;
      ASSERT_INT_EQ(count[k] % 3, 0);
      ASSERT(fams == 12 / n || fams == (12 + n - 1) / n);
    }
  }
  ASSERT_INT_EQ(tf_shard_assign(sw, 0, NULL, NULL, &err), TF_EINPUT);
  tf_sweep_free(sw);
}

/* Families of unequal cost (widths 10 to 400): each shard's load is what its tasks cost, the
 * loads are within the largest family of each other (longest-processing-time-first), and the
 * same sweep text gives the same split. */
static void test_shard_assign_balances_planned_cost_deterministically(void) {
  static const char text[] =
      "train: {iterations: 100, eval_every: 50}\n"
      "prune: {rounds: 2}\n"
      "grid:\n"
      "  model.hidden: [[10], [50], [100], [200], [400]]\n"
      "  seed: [1, 2, 3]\n"
      "  control: [ticket, reinit]\n";
  tf_sweep_t *sw = parse(text), *again = parse(text);
  tf_err_t err = {0};
  const int n = 4;
  int shard_of[30], shard_again[30];
  double load[4], load_again[4], sum[4] = {0}, largest = 0.0;
  ASSERT_INT_EQ(tf_shard_assign(sw, n, shard_of, load, &err), 0);
  ASSERT_INT_EQ(tf_shard_assign(again, n, shard_again, load_again, &err), 0);
  for (long t = 0; t < 30; t++) {
    tf_config_t cfg;
    ASSERT_INT_EQ(tf_grid_task(sw, t, &cfg, &err), 0);
    sum[shard_of[t]] += tf_ticket_cost(&cfg);
    ASSERT_INT_EQ(shard_of[t], shard_again[t]);
    if (t == tf_family_of(sw, t)) {
      tf_config_t other;
      ASSERT_INT_EQ(tf_grid_task(sw, t + 1, &other, &err), 0);
      double fam = tf_ticket_cost(&cfg) + tf_ticket_cost(&other);
      if (fam > largest) largest = fam;
    }
  }
  double lo = load[0], hi = load[0];
  for (int k = 0; k < n; k++) {
    ASSERT_NEAR(sum[k], load[k], 1e-9 * load[k]);
    ASSERT_INT_EQ(load[k] == load_again[k], 1);
    if (load[k] < lo) lo = load[k];
    if (load[k] > hi) hi = load[k];
  }
  ASSERT(hi - lo <= largest);
  /* The three 400-wide families, the largest, go to three different shards. */
  ASSERT(shard_of[24] != shard_of[26] && shard_of[24] != shard_of[28] &&
         shard_of[26] != shard_of[28]);
  tf_sweep_free(sw);
  tf_sweep_free(again);
}

int main(void) {
  RUN(test_shard_parse_takes_k_of_n_and_refuses_the_rest);
  RUN(test_shard_family_is_the_task_with_the_first_control);
  RUN(test_shard_assign_keeps_families_whole_and_covers_every_task);
  RUN(test_shard_assign_balances_planned_cost_deterministically);
  return 0;
}
