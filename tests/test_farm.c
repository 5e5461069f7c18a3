/* The farm under mpiexec with any number of ranks: every task runs exactly once, the report
 * counts them, and the file records each task as done by some rank. */
#include <mpi.h>
#include <unistd.h>

#include <hdf5.h>

#include "test.h"
#include "ticketfarm/farm.h"
#include "ticketfarm/sweep.h"

static const char sweep_text[] =
    "name: farm-test\n"
    "data: {validation: 500}\n"
    "model: {hidden: [16]}\n"
    "train: {optimizer: sgd, lr: 0.1, batch: 32, iterations: 40, eval_every: 20}\n"
    "prune: {rounds: 1, rate: 0.5}\n"
    "grid:\n"
    "  seed: [1, 2, 3, 4, 5]\n"
    "  control: [ticket, random_mask]\n";

int main(int argc, char **argv) {
  tf_test_need_dataset("mnist");
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char path[256] = "";
  if (rank == 0) {
    char dir[] = "/tmp/tf-farm-XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/out.h5", dir);
  }
  MPI_Bcast(path, sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);

  tf_err_t err = {0};
  tf_sweep_t *sw = NULL;
  ASSERT_INT_EQ(tf_sweep_parse(&sw, sweep_text, strlen(sweep_text), "farm.yaml", &err), 0);
  tf_farm_options_t opt = {.progress_every = 0, .max_attempts = 3};
  tf_farm_report_t report;
  int rc = tf_farm_run(sw, path, &opt, &report, &err);
  if (rc != 0) fprintf(stderr, "rank %d: %s\n", rank, err.msg);
  ASSERT_INT_EQ(rc, 0);

  if (rank == 0) {
    ASSERT_INT_EQ(report.tasks, 10);
    ASSERT_INT_EQ(report.done, 10);
    ASSERT_INT_EQ(report.failed, 0);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT(f >= 0);
    signed char status[10];
    int ranks[10], rounds_done[10];
    hid_t d = H5Dopen2(f, "/results/status", H5P_DEFAULT);
    ASSERT(H5Dread(d, H5T_NATIVE_SCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, status) >= 0);
    H5Dclose(d);
    d = H5Dopen2(f, "/results/rounds_done", H5P_DEFAULT);
    ASSERT(H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, rounds_done) >= 0);
    H5Dclose(d);
    d = H5Dopen2(f, "/runtime/rank", H5P_DEFAULT);
    ASSERT(H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, ranks) >= 0);
    H5Dclose(d);
    H5Fclose(f);
    int used[64] = {0};
    for (int t = 0; t < 10; t++) {
      ASSERT_INT_EQ(status[t], 1);
      ASSERT_INT_EQ(rounds_done[t], 2);
      ASSERT(ranks[t] >= 0 && ranks[t] < size);
      used[ranks[t]] = 1;
    }
    int n_used = 0;
    for (int r = 0; r < size; r++) n_used += used[r];
    /* with several ranks the work is shared, not done by the master alone */
    if (size > 1) ASSERT(n_used >= 2);
    fprintf(stderr, "ok    farm with %d rank%s: 10 tasks done on %d rank%s\n", size,
            size == 1 ? "" : "s", n_used, n_used == 1 ? "" : "s");
    unlink(path);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    rmdir(path);
  }
  tf_sweep_free(sw);
  MPI_Finalize();
  return 0;
}
