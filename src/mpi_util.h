/* Collective helpers shared by the modules that speak MPI (farm, store). */
#ifndef TICKETFARM_MPI_UTIL_H
#define TICKETFARM_MPI_UTIL_H

#include <mpi.h>

#include "ticketfarm/error.h"

/* Makes a rank-local outcome collective over comm: every rank returns the lowest (first listed)
 * TF_E* code any rank passed in rc. A rank that passed 0 while another failed gets that code
 * with "another rank failed: WHAT" in err; a failing MPI_Allreduce is TF_EMPI on every rank
 * that sees it. Collective. */
int tf__agree(MPI_Comm comm, int rc, tf_err_t *err, const char *what);

#endif
