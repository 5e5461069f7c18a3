/* Tests of the optimisers: pruned entries and their state stay exactly +0.0f whatever the
 * gradient, the fused step equals the scalar reference bit for bit, hand-computed steps, reset,
 * and a step in pieces or over packed kept elements equals the whole step. */
#include "ticketfarm/optim.h"

#include <float.h>
#include <stdint.h>

#include "test.h"

static uint64_t rand_state = 0x13198a2e03707344ull;

static double urand(void) { return tf_test_urand(&rand_state); }

static tf_config_t make_cfg(tf_optimizer_kind_t kind, double lr) {
  tf_config_t cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.optimizer = kind;
  cfg.lr = lr;
  cfg.momentum = 0.9;
  cfg.beta1 = 0.9;
  cfg.beta2 = 0.999;
  cfg.eps = 1e-8;
  return cfg;
}

/* +0.0f exactly, not -0.0f. */
static int is_plus_zero(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u == 0;
}

/* 200 steps with non-zero gradients everywhere (Inf and NaN at masked positions every 50th
 * step): masked parameters and state are +0.0f after every step, every unmasked parameter
 * moves, and the fused step equals the naive one bit for bit. n = 1003 exercises the tail after
 * the vectorised multiple of 8. */
static void check_masked_stay_zero_with(tf_config_t cfg) {
  enum { N = 1003, STEPS = 200 };
  tf_optim_t fast, naive;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_optim_create(&fast, &cfg, N, &err), 0);
  ASSERT_INT_EQ(tf_optim_create(&naive, &cfg, N, &err), 0);
  static float p[N], q[N], p0[N], g[N], mask[N];
  int n_masked = 0;
  for (int i = 0; i < N; i++) {
    p[i] = q[i] = p0[i] = (float)(2.0 * urand() - 1.0);
    mask[i] = urand() < 0.3 ? 0.0f : 1.0f;
    n_masked += mask[i] == 0.0f;
  }
  ASSERT(n_masked > 200 && n_masked < 400);

  for (int s = 0; s < STEPS; s++) {
    for (int i = 0; i < N; i++) {
      double u = urand();
      g[i] = (float)(u < 0.5 ? -0.05 - u : u - 0.45);
      if (s % 50 == 0 && mask[i] == 0.0f) g[i] = i % 2 ? INFINITY : NAN;
    }
    tf_optim_step(&fast, p, g, mask);
    tf_optim_step_naive(&naive, q, g, mask);
    ASSERT(memcmp(p, q, sizeof p) == 0);
    if (fast.m != NULL) ASSERT(memcmp(fast.m, naive.m, N * sizeof *fast.m) == 0);
    if (fast.v != NULL) ASSERT(memcmp(fast.v, naive.v, N * sizeof *fast.v) == 0);
    for (int i = 0; i < N; i++) {
      if (mask[i] != 0.0f) continue;
      ASSERT(is_plus_zero(p[i]));
      if (fast.m != NULL) ASSERT(is_plus_zero(fast.m[i]));
      if (fast.v != NULL) ASSERT(is_plus_zero(fast.v[i]));
    }
  }
  int moved = 0;
  for (int i = 0; i < N; i++) {
    if (mask[i] == 0.0f) continue;
    ASSERT(isfinite(p[i]));
    moved += p[i] != p0[i];
  }
  ASSERT_INT_EQ(moved, N - n_masked);
  ASSERT_INT_EQ(fast.t, STEPS);
  tf_optim_free(&fast);
  tf_optim_free(&naive);
}

static void check_masked_stay_zero(tf_optimizer_kind_t kind, double lr) {
  check_masked_stay_zero_with(make_cfg(kind, lr));
}

static void test_optim_sgd_keeps_pruned_zero_and_matches_naive(void) {
  check_masked_stay_zero(TF_OPT_SGD, 0.05);
}

static void test_optim_momentum_keeps_pruned_zero_and_matches_naive(void) {
  check_masked_stay_zero(TF_OPT_MOMENTUM, 0.01);
}

static void test_optim_adam_keeps_pruned_zero_and_matches_naive(void) {
  check_masked_stay_zero(TF_OPT_ADAM, 1.2e-3);
}

/* Weight decay adds weight_decay * p to the gradient, which at a pruned entry is +0 times a
 * +0 weight: pruned weights and their state stay exactly +0 under every optimiser (Nesterov
 * included), and the fused step equals the reference bit for bit. */
static void test_optim_weight_decay_keeps_pruned_zero_under_every_optimizer(void) {
  const tf_optimizer_kind_t kinds[4] = {TF_OPT_SGD, TF_OPT_MOMENTUM, TF_OPT_MOMENTUM, TF_OPT_ADAM};
  for (int o = 0; o < 4; o++) {
    tf_config_t cfg = make_cfg(kinds[o], kinds[o] == TF_OPT_ADAM ? 1.2e-3 : 0.01);
    cfg.weight_decay = 0.05;
    cfg.nesterov = o == 2;
    check_masked_stay_zero_with(cfg);
  }
  tf_config_t cfg = make_cfg(TF_OPT_MOMENTUM, 0.01);
  cfg.nesterov = 1;
  check_masked_stay_zero_with(cfg);
}

/* p = 1, g = 0.5, lr = 0.1: weight decay 0.1 makes the SGD step 1 - 0.1 * (0.5 + 0.1) = 0.94;
 * Nesterov momentum 0.9 steps by g + 0.9 m with m updated first: 1 - 0.1 * (0.5 + 0.45) =
 * 0.905, then m = 0.95 and 0.905 - 0.1 * (0.5 + 0.855) = 0.7695. */
static void test_optim_weight_decay_and_nesterov_hand_computed(void) {
  float one = 1.0f, g = 0.5f;
  tf_config_t cfg = make_cfg(TF_OPT_SGD, 0.1);
  cfg.weight_decay = 0.1;
  tf_optim_t opt;
  ASSERT_INT_EQ(tf_optim_create(&opt, &cfg, 1, NULL), 0);
  ASSERT(opt.gd != NULL);
  float p = 1.0f;
  tf_optim_step(&opt, &p, &g, &one);
  ASSERT_NEAR(p, 0.94, 1e-6);
  tf_optim_free(&opt);
  cfg = make_cfg(TF_OPT_MOMENTUM, 0.1);
  cfg.nesterov = 1;
  ASSERT_INT_EQ(tf_optim_create(&opt, &cfg, 1, NULL), 0);
  ASSERT(opt.gd == NULL);
  p = 1.0f;
  tf_optim_step(&opt, &p, &g, &one);
  ASSERT_NEAR(p, 0.905, 1e-6);
  tf_optim_step(&opt, &p, &g, &one);
  ASSERT_NEAR(opt.m[0], 0.95, 1e-6);
  ASSERT_NEAR(p, 0.7695, 1e-6);
  tf_optim_free(&opt);
}

/* open_lth's schedule: lr * gamma^(milestones <= i) * min(1, i / warmup); without warm-up or
 * milestones every iteration's rate is train.lr rounded to float, the bits of a constant rate. */
static void test_optim_schedule_warms_up_and_steps_at_milestones(void) {
  tf_config_t cfg = make_cfg(TF_OPT_SGD, 0.1);
  tf_optim_t opt;
  ASSERT_INT_EQ(tf_optim_create(&opt, &cfg, 1, NULL), 0);
  for (long i = 0; i < 100000; i += 977) {
    ASSERT(tf_optim_lr_at(&opt, i) == 0.1);
    tf_optim_schedule(&opt, i);
    ASSERT(opt.lr == (float)0.1);
  }
  tf_optim_free(&opt);
  cfg.warmup = 10;
  cfg.n_milestones = 2;
  cfg.milestones[0] = 20;
  cfg.milestones[1] = 30;
  cfg.gamma = 0.1;
  ASSERT_INT_EQ(tf_optim_create(&opt, &cfg, 1, NULL), 0);
  const long at[] = {0, 5, 9, 10, 19, 20, 29, 30, 1000};
  const double want[] = {0, 0.05, 0.09, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001};
  for (int k = 0; k < 9; k++) ASSERT_NEAR(tf_optim_lr_at(&opt, at[k]), want[k], 1e-15);
  tf_optim_schedule(&opt, 25);
  ASSERT(opt.lr == (float)(0.1 * 0.1));
  tf_optim_free(&opt);
}

static void test_optim_create_allocates_state_per_kind(void) {
  tf_err_t err = {0};
  tf_optim_t opt;
  tf_config_t cfg = make_cfg(TF_OPT_SGD, 0.1);
  ASSERT_INT_EQ(tf_optim_create(&opt, &cfg, 10, &err), 0);
  ASSERT(opt.m == NULL && opt.v == NULL);
  ASSERT(opt.lr == 0.1f);
  ASSERT_INT_EQ(opt.t, 0);
  tf_optim_free(&opt);
  cfg = make_cfg(TF_OPT_MOMENTUM, 0.1);
  ASSERT_INT_EQ(tf_optim_create(&opt, &cfg, 10, &err), 0);
  ASSERT(opt.m != NULL && opt.v == NULL);
  ASSERT(opt.momentum == 0.9f);
  tf_optim_free(&opt);
  cfg = make_cfg(TF_OPT_ADAM, 1e-3);
  ASSERT_INT_EQ(tf_optim_create(&opt, &cfg, 10, &err), 0);
  ASSERT(opt.m != NULL && opt.v != NULL);
  ASSERT(opt.beta1 == 0.9f && opt.beta2 == 0.999f && opt.eps == 1e-8f);
  for (int i = 0; i < 10; i++) ASSERT(opt.m[i] == 0.0f && opt.v[i] == 0.0f);
  tf_optim_free(&opt);
  cfg.optimizer = TF_OPT_COUNT;
  ASSERT_INT_EQ(tf_optim_create(&opt, &cfg, 10, &err), TF_EINPUT);
}

static void test_optim_sgd_and_momentum_hand_computed(void) {
  tf_err_t err = {0};
  tf_optim_t opt;
  float one[1] = {1.0f};
  tf_config_t cfg = make_cfg(TF_OPT_SGD, 0.05);
  ASSERT_INT_EQ(tf_optim_create(&opt, &cfg, 1, &err), 0);
  float p[1] = {0.75f}, g[1] = {0.4f};
  tf_optim_step(&opt, p, g, one);
  ASSERT_NEAR(p[0], 0.75 - 0.05 * 0.4, 1e-7);
  tf_optim_free(&opt);

  /* m1 = g1, m2 = 0.9 g1 + g2, m3 = 0.9 m2 + g3; p -= lr m each step. */
  cfg = make_cfg(TF_OPT_MOMENTUM, 0.1);
  ASSERT_INT_EQ(tf_optim_create(&opt, &cfg, 1, &err), 0);
  const double gs[3] = {0.5, -0.25, 1.0};
  double m = 0.0, want = 2.0;
  p[0] = 2.0f;
  for (int s = 0; s < 3; s++) {
    g[0] = (float)gs[s];
    tf_optim_step(&opt, p, g, one);
    m = 0.9 * m + gs[s];
    want -= 0.1 * m;
    ASSERT_NEAR(opt.m[0], m, 1e-6);
    ASSERT_NEAR(p[0], want, 1e-6);
  }
  ASSERT_NEAR(p[0], 2.0 - 0.1 * 0.5 - 0.1 * 0.2 - 0.1 * 1.18, 1e-6);
  tf_optim_free(&opt);
}

/* With bias correction Adam's first update is lr * g / (|g| + eps), about lr * sign(g) whatever
 * the gradient's scale; the second step follows the textbook formula, evaluated in double with
 * the float-rounded hyperparameters the optimiser holds. */
static void test_optim_adam_first_steps_hand_computed(void) {
  enum { N = 4 };
  tf_err_t err = {0};
  tf_optim_t opt;
  tf_config_t cfg = make_cfg(TF_OPT_ADAM, 1e-3);
  ASSERT_INT_EQ(tf_optim_create(&opt, &cfg, N, &err), 0);
  const double b1 = 0.9f, b2 = 0.999f, lr = 1e-3f, eps = 1e-8f;
  float p[N] = {0.5f, -0.5f, 0.1f, 2.0f};
  const float g1[N] = {0.3f, -2e-4f, 7.0f, 1e-9f};
  const float g2[N] = {-0.1f, 0.5f, 7.0f, 0.0f};
  float one[N] = {1.0f, 1.0f, 1.0f, 1.0f};
  double want[N], m[N], v[N];
  for (int i = 0; i < N; i++) {
    m[i] = (1.0 - b1) * g1[i];
    v[i] = (1.0 - b2) * g1[i] * g1[i];
    want[i] = p[i] - lr * g1[i] / (fabs(g1[i]) + eps);
  }
  tf_optim_step(&opt, p, g1, one);
  ASSERT_INT_EQ(opt.t, 1);
  for (int i = 0; i < N; i++) ASSERT_NEAR(p[i], want[i], 1e-7);
  ASSERT_NEAR(p[0], 0.5 - 1e-3, 1e-7);
  ASSERT_NEAR(p[1], -0.5 + 1e-3, 1e-7);
  ASSERT_NEAR(p[3], 2.0 - 1e-3 * 0.1 / 1.1, 1e-7);

  for (int i = 0; i < N; i++) {
    m[i] = b1 * m[i] + (1.0 - b1) * g2[i];
    v[i] = b2 * v[i] + (1.0 - b2) * g2[i] * g2[i];
    double mh = m[i] / (1.0 - b1 * b1), vh = v[i] / (1.0 - b2 * b2);
    want[i] = p[i] - lr * mh / (sqrt(vh) + eps);
  }
  tf_optim_step(&opt, p, g2, one);
  for (int i = 0; i < N; i++) {
    ASSERT_NEAR(opt.m[i], m[i], 1e-6 * fabs(m[i]));
    ASSERT_NEAR(opt.v[i], v[i], 1e-6 * fabs(v[i]));
    ASSERT_NEAR(p[i], want[i], 2e-7);
  }
  tf_optim_free(&opt);
}

/* reset zeroes m, v and t, after which a step equals the first step of a fresh optimiser. */
static void test_optim_reset_zeroes_state_and_step_count(void) {
  enum { N = 37 };
  tf_err_t err = {0};
  tf_config_t cfg = make_cfg(TF_OPT_ADAM, 1e-2);
  tf_optim_t used, fresh;
  ASSERT_INT_EQ(tf_optim_create(&used, &cfg, N, &err), 0);
  ASSERT_INT_EQ(tf_optim_create(&fresh, &cfg, N, &err), 0);
  float p[N], q[N], g[N], mask[N];
  for (int i = 0; i < N; i++) {
    p[i] = (float)urand();
    g[i] = (float)(urand() - 0.5);
    mask[i] = i % 4 ? 1.0f : 0.0f;
  }
  for (int s = 0; s < 5; s++) tf_optim_step(&used, p, g, mask);
  ASSERT_INT_EQ(used.t, 5);
  ASSERT(used.m[1] != 0.0f && used.v[1] != 0.0f);
  tf_optim_reset(&used);
  ASSERT_INT_EQ(used.t, 0);
  for (int i = 0; i < N; i++) ASSERT(is_plus_zero(used.m[i]) && is_plus_zero(used.v[i]));
  memcpy(q, p, sizeof p);
  tf_optim_step(&used, p, g, mask);
  tf_optim_step(&fresh, q, g, mask);
  ASSERT(memcmp(p, q, sizeof p) == 0);
  ASSERT(memcmp(used.m, fresh.m, sizeof p) == 0);
  ASSERT(memcmp(used.v, fresh.v, sizeof p) == 0);
  tf_optim_free(&used);
  tf_optim_free(&fresh);

  cfg = make_cfg(TF_OPT_SGD, 0.1);
  ASSERT_INT_EQ(tf_optim_create(&used, &cfg, N, &err), 0);
  tf_optim_step(&used, p, g, mask);
  tf_optim_reset(&used);
  ASSERT_INT_EQ(used.t, 0);
  tf_optim_free(&used);
}

/* A step applied in pieces (begin_step, then update per piece, masked or not) equals one
 * tf_optim_step bit for bit; and updating only the kept elements, packed with their state at
 * the start of a range and no mask, gives each kept element the same bits as the masked step
 * over the whole array: the sparse layers' update; with weight decay and Nesterov too. */
static void test_optim_pieces_and_packed_kept_elements_equal_one_step(void) {
  enum { N = 1000, STEPS = 20 };
  const tf_optimizer_kind_t kinds[6] = {TF_OPT_SGD, TF_OPT_MOMENTUM, TF_OPT_ADAM,
                                        TF_OPT_SGD, TF_OPT_MOMENTUM, TF_OPT_ADAM};
  for (int o = 0; o < 6; o++) {
    tf_config_t cfg = make_cfg(kinds[o], 0.01);
    if (o >= 3) { /* weight decay, and Nesterov for momentum */
      cfg.weight_decay = 0.02;
      cfg.nesterov = 1;
    }
    tf_optim_t whole, pieces, packed;
    ASSERT_INT_EQ(tf_optim_create(&whole, &cfg, N, NULL), 0);
    ASSERT_INT_EQ(tf_optim_create(&pieces, &cfg, N, NULL), 0);
    ASSERT_INT_EQ(tf_optim_create(&packed, &cfg, N, NULL), 0);
    static float p[N], q[N], g[N], mask[N], kp[N], kg[N];
    static int32_t kept[N];
    int nk = 0;
    for (int i = 0; i < N; i++) {
      p[i] = q[i] = (float)(urand() - 0.5);
      mask[i] = urand() < 0.3 ? 0.0f : 1.0f;
      if (mask[i] != 0.0f) {
        kept[nk] = i;
        kp[nk++] = p[i];
      } else {
        p[i] = q[i] = 0.0f;
      }
    }
    for (int s = 0; s < STEPS; s++) {
      for (int i = 0; i < N; i++) g[i] = (float)(urand() - 0.5);
      for (int k = 0; k < nk; k++) kg[k] = g[kept[k]];
      tf_optim_step(&whole, p, g, mask);
      /* pieces [0, 333) masked, [333, 700) masked, [700, N) masked */
      tf_optim_begin_step(&pieces);
      tf_optim_update(&pieces, 0, q, g, mask, 333);
      tf_optim_update(&pieces, 333, q + 333, g + 333, mask + 333, 367);
      tf_optim_update(&pieces, 700, q + 700, g + 700, mask + 700, N - 700);
      tf_optim_begin_step(&packed);
      tf_optim_update(&packed, 0, kp, kg, NULL, (size_t)nk);
    }
    ASSERT(memcmp(p, q, sizeof p) == 0);
    if (whole.m != NULL) ASSERT(memcmp(whole.m, pieces.m, sizeof p) == 0);
    if (whole.v != NULL) ASSERT(memcmp(whole.v, pieces.v, sizeof p) == 0);
    for (int k = 0; k < nk; k++) {
      ASSERT(memcmp(&kp[k], &p[kept[k]], sizeof(float)) == 0);
      if (whole.m != NULL) ASSERT(memcmp(&packed.m[k], &whole.m[kept[k]], sizeof(float)) == 0);
      if (whole.v != NULL) ASSERT(memcmp(&packed.v[k], &whole.v[kept[k]], sizeof(float)) == 0);
    }
    tf_optim_free(&whole);
    tf_optim_free(&pieces);
    tf_optim_free(&packed);
  }
}

/* A moment decaying under a zero gradient is set to +0 once it falls below FLT_MIN instead of
 * turning subnormal; NaN stays NaN; the weight is unchanged either way. */
static void test_optim_moments_below_flt_min_become_zero(void) {
  const tf_optimizer_kind_t kinds[2] = {TF_OPT_MOMENTUM, TF_OPT_ADAM};
  for (int o = 0; o < 2; o++) {
    tf_config_t cfg = make_cfg(kinds[o], 0.01);
    tf_optim_t opt;
    ASSERT_INT_EQ(tf_optim_create(&opt, &cfg, 2, NULL), 0);
    float p[2] = {0.5f, 0.25f}, g[2] = {0.0f, 0.0f}, one[2] = {1.0f, 1.0f};
    opt.m[0] = 4.0f * FLT_MIN;
    opt.m[1] = NAN;
    if (opt.v != NULL) opt.v[0] = 1.0005f * FLT_MIN;
    tf_optim_step(&opt, p, g, one);
    ASSERT(opt.m[0] >= FLT_MIN); /* 0.9 * 4 FLT_MIN is still normal */
    if (opt.v != NULL) ASSERT(is_plus_zero(opt.v[0]));
    for (int s = 0; s < 20; s++) tf_optim_step(&opt, p, g, one);
    ASSERT(is_plus_zero(opt.m[0]));
    ASSERT(isnan(opt.m[1]));
    ASSERT(p[0] == 0.5f);
    tf_optim_free(&opt);
  }
}

int main(void) {
  RUN(test_optim_create_allocates_state_per_kind);
  RUN(test_optim_sgd_keeps_pruned_zero_and_matches_naive);
  RUN(test_optim_momentum_keeps_pruned_zero_and_matches_naive);
  RUN(test_optim_adam_keeps_pruned_zero_and_matches_naive);
  RUN(test_optim_weight_decay_keeps_pruned_zero_under_every_optimizer);
  RUN(test_optim_weight_decay_and_nesterov_hand_computed);
  RUN(test_optim_schedule_warms_up_and_steps_at_milestones);
  RUN(test_optim_sgd_and_momentum_hand_computed);
  RUN(test_optim_adam_first_steps_hand_computed);
  RUN(test_optim_reset_zeroes_state_and_step_count);
  RUN(test_optim_pieces_and_packed_kept_elements_equal_one_step);
  RUN(test_optim_moments_below_flt_min_become_zero);
  return 0;
}
