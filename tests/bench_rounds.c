/* Benchmark: round time against density over one 16-round LeNet-300-100 task on MNIST (rate 0.2
 * layerwise, output layer 0.1, the default train.sparse_below), on one thread; prints each
 * round's time and its ratio to round 0, and can save theta_0 and every round's mask so another
 * framework can train the very same task (tests/bench_torch.py).
 *   bench_rounds [iterations per round [masks file]]   (meson test --benchmark) */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ticketfarm/data.h"
#include "ticketfarm/ticket.h"

#define ROUNDS 15 /* after round 0: 16 rounds in all */

typedef struct bench {
  double cpu_mark, wall_mark;
  double cpu[ROUNDS + 1], wall[ROUNDS + 1], density[ROUNDS + 1];
  float *theta0;
  size_t n_params;
  uint8_t *masks[ROUNDS + 1];
  size_t mask_bytes;
} bench_t;

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int on_snapshot(void *ctx, tf_snapshot_t which, const float *params, size_t n) {
  bench_t *b = ctx;
  if (which != TF_SNAPSHOT_INIT) return 0;
  b->n_params = n;
  b->theta0 = malloc(n * sizeof *params);
  if (b->theta0 == NULL) return TF_ENOMEM;
  memcpy(b->theta0, params, n * sizeof *params);
  return 0;
}

/* The round's processor time runs from the previous round's report to this one (round 0 from
 * the start of the task: drawing theta_0 is part of it). */
static int on_round(void *ctx, const tf_round_t *r) {
  bench_t *b = ctx;
  double c = cpu_s(), w = wall_s();
  b->cpu[r->round] = c - b->cpu_mark;
  b->wall[r->round] = w - b->wall_mark;
  b->density[r->round] = r->density;
  b->masks[r->round] = malloc(r->mask_bytes);
  if (b->masks[r->round] == NULL) return TF_ENOMEM;
  memcpy(b->masks[r->round], r->mask_bits, r->mask_bytes);
  b->mask_bytes = r->mask_bytes;
  b->cpu_mark = cpu_s();
  b->wall_mark = wall_s();
  return 0;
}

static int closest(const bench_t *b, double density) {
  int best = 0;
  for (int r = 1; r <= ROUNDS; r++)
    if (fabs(b->density[r] - density) < fabs(b->density[best] - density)) best = r;
  return best;
}

/* theta_0 and the masks for tests/bench_torch.py: "TFBENCH1", n_params, rounds, mask bytes (u64
 * each), theta_0 (float32), then each round's packed mask (tf_prune_pack layout). */
static int save(const bench_t *b, const char *path) {
  FILE *f = fopen(path, "wb");
  if (f == NULL) return -1;
  uint64_t head[3] = {b->n_params, ROUNDS + 1, b->mask_bytes};
  int ok = fwrite("TFBENCH1", 1, 8, f) == 8 && fwrite(head, sizeof head, 1, f) == 1 &&
           fwrite(b->theta0, sizeof(float), b->n_params, f) == b->n_params;
  for (int r = 0; ok && r <= ROUNDS; r++)
    ok = fwrite(b->masks[r], 1, b->mask_bytes, f) == b->mask_bytes;
  return fclose(f) == 0 && ok ? 0 : -1;
}

int main(int argc, char **argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 1000;
  const char *out = argc > 2 ? argv[2] : NULL;
  openblas_set_num_threads(1);
  tf_config_t cfg;
  tf_config_default(&cfg);
  cfg.rounds = ROUNDS;
  cfg.iterations = iterations > 100 ? iterations / 100 * 100 : 100;
  tf_dataset_t mnist;
  tf_err_t err = {0};
  if (tf_data_load(&mnist, tf_data_root(), "mnist", &err) < 0) {
    printf("SKIPPED: MNIST is needed (tools/fetch-data): %s\n", err.msg);
    return 0;
  }
  bench_t b = {0};
  tf_ticket_sink_t sink = {.ctx = &b, .snapshot = on_snapshot, .round_done = on_round};
  b.cpu_mark = cpu_s();
  b.wall_mark = wall_s();
  double w0 = wall_s(), c0 = cpu_s();
  int rc = tf_ticket_run(&cfg, &mnist, NULL, &sink, &err);
  double task_wall = wall_s() - w0, task_cpu = cpu_s() - c0;
  if (rc != 0) {
    fprintf(stderr, "bench_rounds: %s\n", err.msg);
    return 1;
  }
  printf("LeNet-300-100 on MNIST, 16 rounds of %ld iterations (batch %d, adam, evaluation every "
         "%d on %d + 10000 images), rate %.1f layerwise, output %.1f, train.sparse_below %g\n",
         cfg.iterations, cfg.batch, cfg.eval_every, cfg.validation, cfg.rate, cfg.output_rate,
         cfg.sparse_below);
  printf("round  density   wall s   cpu s   cpu / round 0\n");
  for (int r = 0; r <= ROUNDS; r++)
    printf("%5d  %6.4f  %7.3f  %6.3f   %6.3f\n", r, b.density[r], b.wall[r], b.cpu[r],
           b.cpu[r] / b.cpu[0]);
  int r21 = closest(&b, 0.211), r36 = closest(&b, 0.036);
  printf("round %d (density %.3f) / round 0: %.3f (processor time), %.3f (wall)\n", r21,
         b.density[r21], b.cpu[r21] / b.cpu[0], b.wall[r21] / b.wall[0]);
  printf("round %d (density %.3f) / round 0: %.3f (processor time), %.3f (wall)\n", r36,
         b.density[r36], b.cpu[r36] / b.cpu[0], b.wall[r36] / b.wall[0]);
  printf("whole task: %.2f s processor time, %.2f s wall\n", task_cpu, task_wall);
  if (out != NULL && save(&b, out) != 0) {
    fprintf(stderr, "bench_rounds: cannot write %s\n", out);
    rc = 1;
  }
  free(b.theta0);
  for (int r = 0; r <= ROUNDS; r++) free(b.masks[r]);
  tf_data_free(&mnist);
  return rc;
}
