# Sourced by the end-to-end shell tests: the MPI and BLAS environment the tests run under, a
# scratch directory $T removed on exit, ok/die reporting, and need_mnist (exit 77, meson's SKIP,
# without the dataset tools/fetch-data fetches).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1 HDF5_USE_FILE_LOCKING=FALSE
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
ok() { pass=$((pass + 1)); echo "ok    $*"; }
die() { echo "FAIL  $*" >&2; exit 1; }
need_mnist() {
  local data=${TICKETFARM_DATA:-data}
  [ -d "$data/mnist" ] || { echo "SKIP  $data/mnist is missing (run tools/fetch-data mnist)"; exit 77; }
}
