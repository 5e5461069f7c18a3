/* libFuzzer target: the IDX reader on arbitrary bytes, as a plain file, as a .gz file holding the
 * same bytes (zlib reads non-gzip data through), and gzip-compressed, where it must agree with
 * the plain read. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "ticketfarm/data.h"

#define CLASSES 10

#define CHECK(cond, ...)                                          \
  do {                                                            \
    if (!(cond)) {                                                \
      fprintf(stderr, "fuzz_idx: contract broken: " __VA_ARGS__); \
      fprintf(stderr, " (%s)\n", #cond);                          \
      abort();                                                    \
    }                                                             \
  } while (0)

static char dir[4096], plain_path[4200], gz_path[4200];
static uint8_t *zbuf;
static size_t zcap;

static void remove_files(void) {
  unlink(plain_path);
  unlink(gz_path);
  rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* One private directory for the whole run, under $TMPDIR, else /dev/shm: every input is written
 * three times, and on a disk file system that costs twenty times the parsing. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  const char *tmp = getenv("TMPDIR");
  if (tmp == NULL || tmp[0] == '\0') tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(dir, sizeof dir, "%s/fuzz_idx.XXXXXX", tmp);
  if (mkdtemp(dir) == NULL) {
    fprintf(stderr, "fuzz_idx: cannot make a directory %s: %s\n", dir, strerror(errno));
    exit(1);
  }
  snprintf(plain_path, sizeof plain_path, "%s/input-idx-ubyte", dir);
  snprintf(gz_path, sizeof gz_path, "%s/input-idx-ubyte.gz", dir);
  atexit(remove_files);
  return 0;
}

static void write_file(const char *path, const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL, "cannot write %s: %s", path, strerror(errno));
  CHECK(fwrite(data, 1, size, f) == size && fclose(f) == 0, "cannot write %s", path);
}

/* The gzip member holding data, in zbuf; returns its size. */
static size_t gzip_bytes(const uint8_t *data, size_t size) {
  z_stream z;
  memset(&z, 0, sizeof z);
  CHECK(deflateInit2(&z, 1, Z_DEFLATED, 9 + 16, 1, Z_DEFAULT_STRATEGY) == Z_OK, "deflateInit2");
  size_t need = deflateBound(&z, (uLong)size) + 32;
  if (need > zcap) {
    free(zbuf);
    zbuf = malloc(need);
    CHECK(zbuf != NULL, "no memory");
    zcap = need;
  }
  z.next_in = (Bytef *)(uintptr_t)data;
  z.avail_in = (uInt)size;
  z.next_out = zbuf;
  z.avail_out = (uInt)zcap;
  CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate");
  size_t out = z.total_out;
  deflateEnd(&z);
  return out;
}

typedef struct outcome {
  int rc, rank;
  int32_t dims[3];
  uint8_t *data;
  tf_err_t err;
} outcome_t;

static void read_idx(outcome_t *o, const char *path) {
  memset(o, 0, sizeof *o);
  o->rc = tf_data_idx_read(path, CLASSES, &o->data, &o->rank, o->dims, &o->err);
  if (o->rc != 0) {
    CHECK(o->data == NULL, "a failed read returned data");
    CHECK(o->rc == TF_EFORMAT || o->rc == TF_EIO || o->rc == TF_ENOMEM, "code %d", o->rc);
    CHECK(strncmp(o->err.msg, path, strlen(path)) == 0, "message does not name the file: '%s'",
          o->err.msg);
  }
}

/* A successful read of these bytes returns exactly the payload the header describes. */
static void check_success(const outcome_t *o, const uint8_t *data, size_t size) {
  CHECK(o->rank == 1 || o->rank == 3, "rank %d", o->rank);
  size_t header = 4 + 4 * (size_t)o->rank;
  size_t payload = 1;
  for (int d = 0; d < o->rank; d++) {
    CHECK(o->dims[d] >= 0, "dimension %d is %d", d, o->dims[d]);
    payload *= (size_t)o->dims[d];
  }
  for (int d = o->rank; d < 3; d++) CHECK(o->dims[d] == 0, "unused dimension %d set", d);
  CHECK(size == header + payload, "%zu bytes accepted for a %zu-byte header and %zu of data", size,
        header, payload);
  CHECK(memcmp(o->data, data + header, payload) == 0, "data differs from the file");
  if (o->rank == 1)
    for (size_t i = 0; i < payload; i++) CHECK(o->data[i] < CLASSES, "label %d", o->data[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  outcome_t plain, gz;

  write_file(plain_path, data, size);
  read_idx(&plain, plain_path);
  if (plain.rc == 0) check_success(&plain, data, size);

  /* Raw bytes under a .gz name: gzip streams are decoded, anything else read through. */
  write_file(gz_path, data, size);
  read_idx(&gz, gz_path);
  free(gz.data);

  /* The same bytes compressed: the reader must reach the plain read's verdict. */
  size_t zsize = gzip_bytes(data, size);
  write_file(gz_path, zbuf, zsize);
  read_idx(&gz, gz_path);
  CHECK((gz.rc == 0) == (plain.rc == 0), "plain read %d ('%s') but gzip read %d ('%s')", plain.rc,
        plain.err.msg, gz.rc, gz.err.msg);
  if (plain.rc == 0) {
    CHECK(gz.rank == plain.rank && memcmp(gz.dims, plain.dims, sizeof gz.dims) == 0,
          "gzip and plain reads disagree on the shape");
    check_success(&gz, data, size);
  } else {
    const char *p = plain.err.msg + strlen(plain_path), *g = gz.err.msg + strlen(gz_path);
    CHECK(strcmp(p, g) == 0, "plain read says '%s' but gzip read says '%s'", plain.err.msg,
          gz.err.msg);
  }
  free(plain.data);
  free(gz.data);
  return 0;
}
