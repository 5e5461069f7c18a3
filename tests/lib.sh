# Sourced by the end-to-end shell tests: the MPI and BLAS environment the tests run under, a
# scratch directory $T removed on exit, ok/die reporting, need_mnist (exit 77, meson's SKIP,
# without the dataset tools/fetch-data fetches) and kill_session_when (a job's whole session
# killed once its status says it is mid-sweep).
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
# Kills the session $SID (mpirun started under setsid: every rank, as scancel would) with
# SIGKILL once `$TF status FILE` matches the extended regular expression RE, or after a minute.
kill_session_when() {
  local file=$1 re=$2
  for _ in $(seq 1200); do
    if [ -f "$file" ] && "$TF" status "$file" 2>/dev/null | grep -qE "$re"; then break; fi
    sleep 0.05
  done
  pkill -9 -s "$SID" 2>/dev/null || true
  wait "$SID" 2>/dev/null || true
  SID=
}
