/* Collective helpers shared by the modules that speak MPI. */
#include "mpi_util.h"

int tf__agree(MPI_Comm comm, int rc, tf_err_t *err, const char *what) {
  int worst = rc;
  int mrc = MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MIN, comm);
  if (mrc != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(mrc, text, &len);
    return rc < 0 ? rc : tf_err_set(err, TF_EMPI, "%s: MPI_Allreduce failed: %s", what, text);
  }
  if (worst < 0 && rc == 0) rc = tf_err_set(err, worst, "another rank failed: %s", what);
  return rc;
}
