/* IDX datasets: checked reading (plain or gzip), loading MNIST-shaped sets (and CIFAR-10 through
 * cifar.c), splits and batches. */
#include "ticketfarm/data.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "tf_config.h"
#include "ticketfarm/config.h"
#include "ticketfarm/cifar.h"
#include "ticketfarm/rng.h"
#include "ticketfarm/text.h"

/* No dataset we read comes near 1 GiB: a header asking for more is corrupt. */
#define TF_IDX_MAX_BYTES (1u << 30)

const char *const tf_data_names[] = {"mnist", "fashion-mnist", "cifar10", NULL};

typedef struct data_shape {
  int32_t n_train, n_test, dim, classes;
  int32_t channels, height, width; /* an image, channel-major: dim = channels * height * width */
} data_shape_t;

/* Indexed like tf_data_names. */
static const data_shape_t data_shapes[] = {
    {60000, 10000, 784, 10, 1, 28, 28},
    {60000, 10000, 784, 10, 1, 28, 28},
    {TF_CIFAR_N_TRAIN, TF_CIFAR_N_TEST, TF_CIFAR_DIM, TF_CIFAR_CLASSES, 3, 32, 32},
};

static int is_cifar(int i) { return strcmp(tf_data_names[i], "cifar10") == 0; }

static int data_index(const char *name, tf_err_t *err) {
  size_t count = 0;
  for (; tf_data_names[count] != NULL; count++)
    if (strcmp(name, tf_data_names[count]) == 0) return (int)count;
  const char *hint = tf_text_closest(name, tf_data_names, count);
  if (hint != NULL)
    return tf_err_set(err, TF_EINPUT, "unknown dataset '%s' — did you mean '%s'?", name, hint);
  return tf_err_set(err, TF_EINPUT, "unknown dataset '%s' (known: mnist, fashion-mnist, cifar10)",
                    name);
}

int tf_data_shape(const char *name, int32_t *n_train, int32_t *n_test, int32_t *dim,
                  int32_t *classes, tf_err_t *err) {
  int i = data_index(name, err);
  if (i < 0) return i;
  if (n_train != NULL) *n_train = data_shapes[i].n_train;
  if (n_test != NULL) *n_test = data_shapes[i].n_test;
  if (dim != NULL) *dim = data_shapes[i].dim;
  if (classes != NULL) *classes = data_shapes[i].classes;
  return 0;
}

int tf_data_image(const char *name, int32_t *channels, int32_t *height, int32_t *width,
                  tf_err_t *err) {
  int i = data_index(name, err);
  if (i < 0) return i;
  *channels = data_shapes[i].channels;
  *height = data_shapes[i].height;
  *width = data_shapes[i].width;
  return 0;
}

const char *tf_data_root(void) {
  const char *env = getenv("TICKETFARM_DATA");
  if (env != NULL && env[0] != '\0') return env;
  struct stat st;
  if (stat("data", &st) == 0 && S_ISDIR(st.st_mode)) return "./data";
  return TF_DATADIR;
}

/* An open IDX file whose header has been read and checked; the payload comes next. */
typedef struct idx_file {
  const char *path;
  FILE *plain;
  gzFile gz;
  int rank;
  int32_t dims[3];
  size_t bytes; /* payload size the header promises */
} idx_file_t;

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* zlib's message for the last error, without the "PATH: " zlib puts before it: ours names the
 * file already. */
static const char *gz_reason(const idx_file_t *f, int *zcode) {
  const char *msg = gzerror(f->gz, zcode);
  size_t n = strlen(f->path);
  return strncmp(msg, f->path, n) == 0 && strncmp(msg + n, ": ", 2) == 0 ? msg + n + 2 : msg;
}

/* Reads up to n bytes; returns the count read (short only at end of file) or a negative code. */
static long long idx_read_some(idx_file_t *f, void *buf, size_t n, tf_err_t *err) {
  size_t got = 0;
  while (got < n) {
    size_t want = n - got;
    if (want > (1u << 30)) want = 1u << 30;
    if (f->gz != NULL) {
      int r = gzread(f->gz, (char *)buf + got, (unsigned)want);
      if (r < 0) {
        int zcode = 0;
        const char *zmsg = gz_reason(f, &zcode);
        if (zcode == Z_ERRNO)
          return tf_err_set(err, TF_EIO, "%s: read failed: %s", f->path, strerror(errno));
        return tf_err_set(err, TF_EFORMAT, "%s: bad gzip data: %s", f->path, zmsg);
      }
      if (r == 0) {
        int zcode = 0;
        const char *zmsg = gz_reason(f, &zcode);
        if (zcode != Z_OK && zcode != Z_STREAM_END)
          return tf_err_set(err, TF_EFORMAT, "%s: bad gzip data: %s", f->path, zmsg);
        break;
      }
      got += (size_t)r;
    } else {
      size_t r = fread((char *)buf + got, 1, want, f->plain);
      got += r;
      if (r < want) {
        if (ferror(f->plain))
          return tf_err_set(err, TF_EIO, "%s: read failed: %s", f->path, strerror(errno));
        break;
      }
    }
  }
  return (long long)got;
}

static void idx_close(idx_file_t *f) {
  if (f->plain != NULL) fclose(f->plain);
  if (f->gz != NULL) gzclose(f->gz);
  f->plain = NULL;
  f->gz = NULL;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Opens path and checks its header: magic, element type, rank, and a sane payload size. */
static int idx_open(idx_file_t *f, const char *path, tf_err_t *err) {
  memset(f, 0, sizeof *f);
  f->path = path;
  if (ends_with(path, ".gz")) {
    errno = 0;
    f->gz = gzopen(path, "rb");
    if (f->gz == NULL)
      return tf_err_set(err, TF_EIO, "%s: cannot open: %s", path,
                        errno ? strerror(errno) : "out of memory");
    gzbuffer(f->gz, 1u << 17);
  } else {
    f->plain = fopen(path, "rb");
    if (f->plain == NULL)
      return tf_err_set(err, TF_EIO, "%s: cannot open: %s", path, strerror(errno));
  }

  int rc = 0;
  unsigned char head[16];
  long long got = idx_read_some(f, head, 4, err);
  if (got < 0) {
    rc = (int)got;
    goto fail;
  }
  if (got < 4) {
    rc = tf_err_set(err, TF_EFORMAT, "%s: file ends inside the IDX header (%lld bytes)", path, got);
    goto fail;
  }
  uint32_t magic = be32(head);
  if (head[0] != 0 || head[1] != 0) {
    rc = tf_err_set(err, TF_EFORMAT,
                    "%s: bad magic number 0x%08x (IDX files start with 0x00000801 or 0x00000803)",
                    path, (unsigned)magic);
    goto fail;
  }
  if (head[2] != 0x08) {
    rc = tf_err_set(err, TF_EFORMAT,
                    "%s: element type 0x%02x is not unsigned byte (0x08) (magic 0x%08x)", path,
                    (unsigned)head[2], (unsigned)magic);
    goto fail;
  }
  f->rank = head[3];
  if (f->rank != 1 && f->rank != 3) {
    rc = tf_err_set(err, TF_EFORMAT,
                    "%s: rank %d in magic 0x%08x, expected 1 (labels) or 3 (images)", path, f->rank,
                    (unsigned)magic);
    goto fail;
  }
  size_t head_bytes = 4 * (size_t)f->rank;
  got = idx_read_some(f, head + 4, head_bytes, err);
  if (got < 0) {
    rc = (int)got;
    goto fail;
  }
  if ((size_t)got < head_bytes) {
    rc = tf_err_set(err, TF_EFORMAT, "%s: file ends inside the IDX header (%lld bytes)", path,
                    4 + got);
    goto fail;
  }
  uint64_t total = 1;
  for (int d = 0; d < f->rank; d++) {
    uint32_t v = be32(head + 4 + 4 * d);
    /* Checked one factor at a time, so the product can never overflow. */
    if (v > TF_IDX_MAX_BYTES || (v > 0 && total > TF_IDX_MAX_BYTES / v)) {
      rc = tf_err_set(err, TF_EFORMAT,
                      "%s: dimension %d is %u, which makes the data larger than 1 GiB: bad header",
                      path, d, (unsigned)v);
      goto fail;
    }
    total *= v;
    f->dims[d] = (int32_t)v;
  }
  f->bytes = (size_t)total;
  return 0;

fail:
  idx_close(f);
  return rc;
}

/* Reads exactly f->bytes into buf, checks nothing follows, closes f, and checks the labels. */
static int idx_finish(idx_file_t *f, uint8_t *buf, int classes, tf_err_t *err) {
  int rc = 0;
  long long got = idx_read_some(f, buf, f->bytes, err);
  if (got < 0) {
    rc = (int)got;
    goto done;
  }
  unsigned long long extra = 0;
  if ((size_t)got == f->bytes) {
    unsigned char scratch[4096];
    long long r;
    while ((r = idx_read_some(f, scratch, sizeof scratch, err)) > 0) extra += (unsigned long long)r;
    if (r < 0) {
      rc = (int)r;
      goto done;
    }
  }
  if ((size_t)got != f->bytes || extra > 0) {
    char shape[64];
    if (f->rank == 3)
      snprintf(shape, sizeof shape, "%d x %d x %d", f->dims[0], f->dims[1], f->dims[2]);
    else
      snprintf(shape, sizeof shape, "%d", f->dims[0]);
    rc = tf_err_set(err, TF_EFORMAT,
                    "%s: expected %zu bytes of data after the header (%s), found %llu%s", f->path,
                    f->bytes, shape, (unsigned long long)got + extra,
                    extra > 0 ? " (extra bytes at the end)" : " (file truncated)");
    goto done;
  }
  if (f->rank == 1 && classes > 0) {
    for (size_t i = 0; i < f->bytes; i++) {
      if (buf[i] >= classes) {
        rc = tf_err_set(err, TF_EFORMAT, "%s: label %d at index %zu is outside 0..%d", f->path,
                        buf[i], i, classes - 1);
        goto done;
      }
    }
  }
done:
  idx_close(f);
  return rc;
}

int tf_data_idx_read(const char *path, int classes, uint8_t **data, int *rank, int32_t dims[3],
                     tf_err_t *err) {
  idx_file_t f;
  *data = NULL;
  int rc = idx_open(&f, path, err);
  if (rc < 0) return rc;
  uint8_t *buf = malloc(f.bytes > 0 ? f.bytes : 1);
  if (buf == NULL) {
    idx_close(&f);
    return tf_err_set(err, TF_ENOMEM, "%s: no memory for %zu bytes", path, f.bytes);
  }
  rc = idx_finish(&f, buf, classes, err);
  if (rc < 0) {
    free(buf);
    return rc;
  }
  *data = buf;
  *rank = f.rank;
  for (int d = 0; d < 3; d++) dims[d] = d < f.rank ? f.dims[d] : 0;
  return 0;
}

enum { TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS, IDX_FILES };

static const char *const idx_file_names[IDX_FILES] = {
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
};

/* Picks dir/name/base, else its .gz; a missing file is a setup problem the user can fix. */
static int find_idx(char *path, size_t size, const char *dir, const char *name, const char *base,
                    tf_err_t *err) {
  struct stat st;
  int w = snprintf(path, size, "%s/%s/%s", dir, name, base);
  if (w < 0 || (size_t)w + 3 >= size)
    return tf_err_set(err, TF_EINPUT, "data directory path is too long: %s", dir);
  if (stat(path, &st) == 0) return 0;
  strcat(path, ".gz");
  if (stat(path, &st) == 0) return 0;
  path[w] = '\0';
  return tf_err_set(
      err, TF_EINPUT,
      "dataset '%s': %s (or .gz) not found; run tools/fetch-data %s from the "
      "ticketfarm source tree, or set TICKETFARM_DATA (or -d) to the directory that holds %s/",
      name, path, name, name);
}

/* Parts of a dataset's block, in file order: train images, train labels, test images, labels. */
static void carve(tf_dataset_t *ds, const data_shape_t *shape, const char *name,
                  const uint8_t *block) {
  const uint8_t *train_images = block;
  const uint8_t *train_labels = train_images + (size_t)shape->n_train * (size_t)shape->dim;
  const uint8_t *test_images = train_labels + (size_t)shape->n_train;
  const uint8_t *test_labels = test_images + (size_t)shape->n_test * (size_t)shape->dim;
  snprintf(ds->name, sizeof ds->name, "%s", name);
  ds->classes = shape->classes;
  ds->train = (tf_images_t){shape->n_train, shape->dim, train_images, train_labels};
  ds->test = (tf_images_t){shape->n_test, shape->dim, test_images, test_labels};
}

int tf_data_bytes(const char *name, size_t *bytes, tf_err_t *err) {
  int i = data_index(name, err);
  if (i < 0) return i;
  const data_shape_t *shape = &data_shapes[i];
  *bytes = ((size_t)shape->n_train + (size_t)shape->n_test) * ((size_t)shape->dim + 1);
  return 0;
}

int tf_data_view(tf_dataset_t *ds, const char *name, const uint8_t *block, tf_err_t *err) {
  memset(ds, 0, sizeof *ds);
  int i = data_index(name, err);
  if (i < 0) return i;
  carve(ds, &data_shapes[i], name, block);
  return 0;
}

int tf_data_load(tf_dataset_t *ds, const char *dir, const char *name, tf_err_t *err) {
  return tf_data_load_into(ds, dir, name, NULL, err);
}

/* The CIFAR-10 half of tf_data_load_into: the batch files into `into`, or a block of its own
 * when `into` is NULL. */
static int load_cifar(tf_dataset_t *ds, const data_shape_t *shape, const char *dir,
                      const char *name, uint8_t *into, tf_err_t *err) {
  uint8_t *block = into != NULL ? into : malloc(tf_cifar_bytes());
  if (block == NULL)
    return tf_err_set(err, TF_ENOMEM, "dataset '%s': no memory for %zu bytes", name,
                      tf_cifar_bytes());
  int rc = tf_cifar_load_into(dir, block, err);
  if (rc < 0) {
    if (into == NULL) free(block);
    return rc;
  }
  carve(ds, shape, name, block);
  ds->owned = into != NULL ? NULL : block;
  return 0;
}

/* Every count and shape of the opened IDX files checked from their headers, before any pixel
 * is read. */
static int check_idx_headers(const idx_file_t *files, const data_shape_t *shape,
                             const char *name, tf_err_t *err) {
  for (int k = 0; k < IDX_FILES; k += 2) {
    const idx_file_t *img = &files[k], *lab = &files[k + 1];
    int32_t want_n = k == TRAIN_IMAGES ? shape->n_train : shape->n_test;
    if (img->rank != 3)
      return tf_err_set(err, TF_EFORMAT, "%s: rank %d, expected 3 (images)", img->path,
                        img->rank);
    if (lab->rank != 1)
      return tf_err_set(err, TF_EFORMAT, "%s: rank %d, expected 1 (labels)", lab->path,
                        lab->rank);
    if (img->dims[0] != lab->dims[0])
      return tf_err_set(err, TF_EFORMAT, "%s has %d images but %s has %d labels", img->path,
                        img->dims[0], lab->path, lab->dims[0]);
    if (img->dims[0] != want_n || (int64_t)img->dims[1] * img->dims[2] != shape->dim)
      return tf_err_set(err, TF_EFORMAT, "%s: %d images of %d x %d pixels, but %s has %d of %d",
                        img->path, img->dims[0], img->dims[1], img->dims[2], name, want_n,
                        shape->dim);
  }
  return 0;
}

int tf_data_load_into(tf_dataset_t *ds, const char *dir, const char *name, uint8_t *into,
                      tf_err_t *err) {
  memset(ds, 0, sizeof *ds);
  int i = data_index(name, err);
  if (i < 0) return i;
  const data_shape_t *shape = &data_shapes[i];
  if (is_cifar(i)) return load_cifar(ds, shape, dir, name, into, err);

  char paths[IDX_FILES][4096];
  idx_file_t files[IDX_FILES];
  int opened = 0, rc = 0;
  for (int k = 0; k < IDX_FILES; k++) {
    rc = find_idx(paths[k], sizeof paths[k], dir, name, idx_file_names[k], err);
    if (rc < 0) goto fail;
  }
  for (; opened < IDX_FILES; opened++) {
    rc = idx_open(&files[opened], paths[opened], err);
    if (rc < 0) goto fail;
  }
  rc = check_idx_headers(files, shape, name, err);
  if (rc < 0) goto fail;

  size_t total = 0;
  for (int k = 0; k < IDX_FILES; k++) total += files[k].bytes;
  uint8_t *block = into != NULL ? into : malloc(total);
  if (block == NULL) {
    rc = tf_err_set(err, TF_ENOMEM, "dataset '%s': no memory for %zu bytes", name, total);
    goto fail;
  }
  uint8_t *parts[IDX_FILES];
  size_t offset = 0;
  for (int k = 0; k < IDX_FILES; k++) {
    parts[k] = block + offset;
    offset += files[k].bytes;
  }
  for (int k = 0; k < IDX_FILES; k++) {
    int classes = k == TRAIN_LABELS || k == TEST_LABELS ? shape->classes : 0;
    rc = idx_finish(&files[k], parts[k], classes, err);
    if (rc < 0) {
      for (int j = k + 1; j < IDX_FILES; j++) idx_close(&files[j]);
      if (into == NULL) free(block);
      memset(ds, 0, sizeof *ds);
      return rc;
    }
  }

  carve(ds, shape, name, block);
  ds->owned = into != NULL ? NULL : block;
  return 0;

fail:
  for (int k = 0; k < opened; k++) idx_close(&files[k]);
  return rc;
}

void tf_data_free(tf_dataset_t *ds) {
  if (ds == NULL) return;
  free(ds->owned);
  memset(ds, 0, sizeof *ds);
}

int tf_data_split(tf_split_t *split, int32_t n, int32_t validation, uint64_t seed, tf_err_t *err) {
  memset(split, 0, sizeof *split);
  if (n < 0 || validation < 0 || validation > n)
    return tf_err_set(err, TF_EINPUT,
                      "validation split of %d images out of %d: need 0 <= validation <= images",
                      validation, n);
  size_t count = (size_t)n;
  int32_t *perm = malloc((count > 0 ? count : 1) * sizeof *perm);
  int32_t *train_idx = malloc((count - (size_t)validation + 1) * sizeof *train_idx);
  int32_t *val_idx = malloc(((size_t)validation + 1) * sizeof *val_idx);
  unsigned char *in_val = calloc(count > 0 ? count : 1, 1);
  if (perm == NULL || train_idx == NULL || val_idx == NULL || in_val == NULL) {
    free(perm);
    free(train_idx);
    free(val_idx);
    free(in_val);
    return tf_err_set(err, TF_ENOMEM, "validation split: no memory for %d indices", n);
  }
  for (int32_t i = 0; i < n; i++) perm[i] = i;
  tf_rng_t rng;
  tf_rng_seed(&rng, seed, TF_STREAM_SPLIT, 0, 0);
  tf_rng_shuffle(&rng, perm, count);
  for (int32_t i = 0; i < validation; i++) in_val[perm[i]] = 1;
  /* One pass in index order leaves both lists sorted without a sort. */
  int32_t nt = 0, nv = 0;
  for (int32_t i = 0; i < n; i++) {
    if (in_val[i])
      val_idx[nv++] = i;
    else
      train_idx[nt++] = i;
  }
  free(perm);
  free(in_val);
  split->n_train = nt;
  split->n_val = nv;
  split->train_idx = train_idx;
  split->val_idx = val_idx;
  return 0;
}

void tf_data_split_free(tf_split_t *split) {
  if (split == NULL) return;
  free(split->train_idx);
  free(split->val_idx);
  memset(split, 0, sizeof *split);
}

/* pixel_scale[v] = (float)(v / 255.0), folded at compile time: a table keeps the scaling the
 * same bits whatever the compiler does to a division or a multiplication by 1/255. */
#define PX1(v) (float)((v) / 255.0)
#define PX4(v) PX1(v), PX1((v) + 1), PX1((v) + 2), PX1((v) + 3)
#define PX16(v) PX4(v), PX4((v) + 4), PX4((v) + 8), PX4((v) + 12)
#define PX64(v) PX16(v), PX16((v) + 16), PX16((v) + 32), PX16((v) + 48)
static const float pixel_scale[256] = {PX64(0), PX64(64), PX64(128), PX64(192)};

void tf_data_gather(const tf_images_t *images, const int32_t *idx, int count, float *x,
                    int32_t *y) {
  size_t dim = (size_t)images->dim;
  for (int i = 0; i < count; i++) {
    const uint8_t *src = images->pixels + (size_t)idx[i] * dim;
    float *dst = x + (size_t)i * dim;
    for (size_t j = 0; j < dim; j++) dst[j] = pixel_scale[src[j]];
    y[i] = images->labels[idx[i]];
  }
}

/* standardize: each channel's mean and standard deviation over the training split. Byte sums
 * are exact in 64 bits; the moments of p / 255 follow in double. */
static int norm_standardize(tf_data_norm_t *norm, const tf_images_t *train,
                            const tf_split_t *split, tf_err_t *err) {
  const size_t plane = (size_t)train->dim / (size_t)norm->channels;
  for (int c = 0; c < norm->channels; c++) {
    uint64_t sum = 0, sum2 = 0;
    for (int32_t i = 0; i < split->n_train; i++) {
      const uint8_t *px = train->pixels + (size_t)split->train_idx[i] * (size_t)train->dim +
                          (size_t)c * plane;
      for (size_t k = 0; k < plane; k++) {
        sum += px[k];
        sum2 += (uint64_t)px[k] * px[k];
      }
    }
    const double count = (double)split->n_train * (double)plane;
    const double mean = (double)sum / count;
    const double var = (double)sum2 / count - mean * mean;
    if (!(var > 0))
      return tf_err_set(err, TF_EINPUT, "data.normalize: standardize needs pixels that vary "
                        "over the training split (channel %d does not)", c);
    const double sd = sqrt(var);
    norm->scale[c] = (float)(255.0 / sd);
    norm->shift[c] = (float)(-mean / sd);
  }
  norm->active = 1;
  return 0;
}

int tf_data_norm_create(tf_data_norm_t *norm, int kind, int channels, const tf_images_t *train,
                        const tf_images_t *test, const tf_split_t *split, tf_err_t *err) {
  memset(norm, 0, sizeof *norm);
  if (channels < 1 || channels > TF_DATA_MAX_CHANNELS || train->dim % channels != 0)
    return tf_err_set(err, TF_EINPUT, "data.normalize: %d channels of a %d-pixel image",
                      channels, train->dim);
  norm->channels = channels;
  for (int c = 0; c < channels; c++) norm->scale[c] = 1.0f;
  const size_t dim = (size_t)train->dim;
  switch (kind) {
    case TF_NORMALIZE_UNIT: return 0;
    case TF_NORMALIZE_STANDARDIZE: return norm_standardize(norm, train, split, err);
    case TF_NORMALIZE_L2: {
      norm->train_scale = malloc(((size_t)train->n + 1) * sizeof *norm->train_scale);
      norm->test_scale = malloc(((size_t)test->n + 1) * sizeof *norm->test_scale);
      if (norm->train_scale == NULL || norm->test_scale == NULL) {
        tf_data_norm_free(norm);
        return tf_err_set(err, TF_ENOMEM, "data.normalize: out of memory for the image norms");
      }
      const tf_images_t *sets[2] = {train, test};
      float *scales[2] = {norm->train_scale, norm->test_scale};
      for (int s = 0; s < 2; s++) {
        for (int32_t i = 0; i < sets[s]->n; i++) {
          const uint8_t *px = sets[s]->pixels + (size_t)i * dim;
          uint64_t sum2 = 0;
          for (size_t k = 0; k < dim; k++) sum2 += (uint64_t)px[k] * px[k];
          scales[s][i] = sum2 > 0 ? (float)(255.0 / sqrt((double)sum2)) : 1.0f;
        }
      }
      norm->active = 1;
      return 0;
    }
    default: return tf_err_set(err, TF_EINPUT, "data.normalize: unknown normalization %d", kind);
  }
}

void tf_data_norm_free(tf_data_norm_t *norm) {
  if (norm == NULL) return;
  free(norm->train_scale);
  free(norm->test_scale);
  memset(norm, 0, sizeof *norm);
}
