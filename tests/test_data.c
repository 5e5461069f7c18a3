/* Tests for data: IDX reading and its errors, dataset loading, the validation split, batches. */
#include "ticketfarm/data.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ticketfarm/rng.h"
#include "test.h"

static char tmpdir[512];

/* Files written under tmpdir, removed at exit (deepest first). */
static char cleanup_paths[64][600];
static int ncleanup;

static const char *tmp_path(const char *name) {
  static char buf[8][600];
  static int next;
  char *p = buf[next++ % 8];
  snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
  return p;
}

static void remember(const char *path) {
  for (int i = 0; i < ncleanup; i++)
    if (strcmp(cleanup_paths[i], path) == 0) return;
  ASSERT(ncleanup < 64);
  snprintf(cleanup_paths[ncleanup++], sizeof cleanup_paths[0], "%s", path);
}

static void make_dir(const char *name) {
  const char *p = tmp_path(name);
  ASSERT(mkdir(p, 0700) == 0);
  remember(p);
}

static void cleanup(void) {
  for (int i = ncleanup; i-- > 0;) remove(cleanup_paths[i]);
  rmdir(tmpdir);
}

/* Writes bytes to tmpdir/name, gzip-compressed when the name ends in .gz. */
static const char *write_file(const char *name, const uint8_t *bytes, size_t n) {
  const char *path = tmp_path(name);
  size_t len = strlen(path);
  if (len > 3 && strcmp(path + len - 3, ".gz") == 0) {
    gzFile gz = gzopen(path, "wb1");
    ASSERT(gz != NULL);
    size_t done = 0;
    while (done < n) {
      unsigned chunk = n - done > (1u << 24) ? 1u << 24 : (unsigned)(n - done);
      ASSERT(gzwrite(gz, bytes + done, chunk) == (int)chunk);
      done += chunk;
    }
    ASSERT(gzclose(gz) == Z_OK);
  } else {
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT(fwrite(bytes, 1, n, f) == n);
    ASSERT(fclose(f) == 0);
  }
  remember(path);
  return path;
}

/* An IDX file image: magic 00 00 type rank, big-endian dims, then payload (+ extra bytes). */
typedef struct idx_image {
  uint8_t *bytes;
  size_t n;
} idx_image_t;

static idx_image_t idx_make(uint8_t type, int rank, const uint32_t *dims, const uint8_t *payload,
                            size_t payload_n) {
  idx_image_t im;
  im.n = 4 + 4 * (size_t)rank + payload_n;
  im.bytes = malloc(im.n);
  ASSERT(im.bytes != NULL);
  im.bytes[0] = 0, im.bytes[1] = 0, im.bytes[2] = type, im.bytes[3] = (uint8_t)rank;
  for (int d = 0; d < rank; d++) {
    uint8_t *p = im.bytes + 4 + 4 * d;
    p[0] = (uint8_t)(dims[d] >> 24), p[1] = (uint8_t)(dims[d] >> 16);
    p[2] = (uint8_t)(dims[d] >> 8), p[3] = (uint8_t)dims[d];
  }
  if (payload_n > 0) memcpy(im.bytes + 4 + 4 * rank, payload, payload_n);
  return im;
}

/* n images of rows x cols with pixel (i, j) = (i * 31 + j) mod 256, and their labels. */
static idx_image_t images_idx(uint32_t n, uint32_t rows, uint32_t cols) {
  size_t total = (size_t)n * rows * cols;
  uint8_t *px = malloc(total > 0 ? total : 1);
  ASSERT(px != NULL);
  size_t dim = (size_t)rows * cols;
  for (size_t k = 0; k < total; k++) px[k] = (uint8_t)((k / dim) * 31 + k % dim);
  uint32_t dims[3] = {n, rows, cols};
  idx_image_t im = idx_make(0x08, 3, dims, px, total);
  free(px);
  return im;
}

static idx_image_t labels_idx(uint32_t n, int classes) {
  uint8_t *lab = malloc(n > 0 ? n : 1);
  ASSERT(lab != NULL);
  for (uint32_t i = 0; i < n; i++) lab[i] = (uint8_t)((i * 7 + 3) % (uint32_t)classes);
  idx_image_t im = idx_make(0x08, 1, &n, lab, n);
  free(lab);
  return im;
}

static void expect_idx_error(const char *path, int classes, int code, const char *needle) {
  tf_err_t err = {0};
  uint8_t *data = (uint8_t *)"sentinel";
  int rank = -1;
  int32_t dims[3];
  ASSERT_INT_EQ(tf_data_idx_read(path, classes, &data, &rank, dims, &err), code);
  ASSERT_INT_EQ(err.code, code);
  ASSERT(data == NULL);
  ASSERT_STR_CONTAINS(err.msg, path);
  ASSERT_STR_CONTAINS(err.msg, needle);
}

static void test_data_idx_reads_plain_and_gzip_files(void) {
  idx_image_t img = images_idx(3, 4, 5);
  idx_image_t lab = labels_idx(3, 10);
  const char *names[] = {"img.idx", "img.idx.gz", "lab.idx", "lab.idx.gz"};
  for (int k = 0; k < 4; k++) {
    const idx_image_t *src = k < 2 ? &img : &lab;
    const char *path = write_file(names[k], src->bytes, src->n);
    tf_err_t err = {0};
    uint8_t *data = NULL;
    int rank = 0;
    int32_t dims[3] = {-1, -1, -1};
    ASSERT_INT_EQ(tf_data_idx_read(path, k < 2 ? 0 : 10, &data, &rank, dims, &err), 0);
    if (k < 2) {
      ASSERT_INT_EQ(rank, 3);
      ASSERT_INT_EQ(dims[0], 3);
      ASSERT_INT_EQ(dims[1], 4);
      ASSERT_INT_EQ(dims[2], 5);
      ASSERT_INT_EQ(data[1 * 20 + 7], 31 + 7);
    } else {
      ASSERT_INT_EQ(rank, 1);
      ASSERT_INT_EQ(dims[0], 3);
      ASSERT_INT_EQ(dims[1], 0);
      ASSERT_INT_EQ(data[2], (2 * 7 + 3) % 10);
    }
    ASSERT(memcmp(data, src->bytes + 4 + 4 * rank, src->n - 4 - 4 * (size_t)rank) == 0);
    free(data);
  }
  free(img.bytes);
  free(lab.bytes);
}

static void test_data_idx_rejects_bad_magic_type_rank_and_header(void) {
  idx_image_t img = images_idx(2, 3, 3);
  img.bytes[0] = 0x1f;
  expect_idx_error(write_file("magic.idx", img.bytes, img.n), 0, TF_EFORMAT,
                   "bad magic number 0x1f000803");
  img.bytes[0] = 0;
  img.bytes[2] = 0x0D; /* float */
  expect_idx_error(write_file("float.idx", img.bytes, img.n), 0, TF_EFORMAT,
                   "element type 0x0d is not unsigned byte");
  expect_idx_error(write_file("float.idx.gz", img.bytes, img.n), 0, TF_EFORMAT,
                   "element type 0x0d");
  img.bytes[2] = 0x08;
  img.bytes[3] = 2;
  expect_idx_error(write_file("rank2.idx", img.bytes, img.n), 0, TF_EFORMAT,
                   "rank 2 in magic 0x00000802");
  img.bytes[3] = 3;
  expect_idx_error(write_file("short-header.idx", img.bytes, 9), 0, TF_EFORMAT,
                   "file ends inside the IDX header (9 bytes)");
  expect_idx_error(write_file("empty.idx", img.bytes, 0), 0, TF_EFORMAT,
                   "file ends inside the IDX header (0 bytes)");
  free(img.bytes);
}

static void test_data_idx_rejects_truncated_and_extra_bytes(void) {
  idx_image_t img = images_idx(2, 3, 4); /* 24 bytes of pixels after a 16-byte header */
  expect_idx_error(write_file("trunc.idx", img.bytes, img.n - 1), 0, TF_EFORMAT,
                   "expected 24 bytes of data after the header (2 x 3 x 4), found 23");
  expect_idx_error(write_file("trunc.idx.gz", img.bytes, img.n - 5), 0, TF_EFORMAT,
                   "expected 24 bytes of data after the header (2 x 3 x 4), found 19");
  uint8_t *more = malloc(img.n + 3);
  memcpy(more, img.bytes, img.n);
  memset(more + img.n, 0xAB, 3);
  expect_idx_error(write_file("extra.idx", more, img.n + 3), 0, TF_EFORMAT,
                   "expected 24 bytes of data after the header (2 x 3 x 4), found 27");
  expect_idx_error(write_file("extra.idx.gz", more, img.n + 3), 0, TF_EFORMAT, "found 27");
  free(more);
  free(img.bytes);
}

/* A damaged gzip stream (cut in the middle of the compressed data) is a format error. */
static void test_data_idx_rejects_damaged_gzip(void) {
  idx_image_t img = images_idx(50, 28, 28);
  const char *path = write_file("cut.idx.gz", img.bytes, img.n);
  struct stat st;
  ASSERT(stat(path, &st) == 0);
  ASSERT(truncate(path, st.st_size / 2) == 0);
  tf_err_t err = {0};
  uint8_t *data = NULL;
  int rank;
  int32_t dims[3];
  ASSERT_INT_EQ(tf_data_idx_read(path, 0, &data, &rank, dims, &err), TF_EFORMAT);
  ASSERT_STR_CONTAINS(err.msg, path);
  ASSERT(data == NULL);
  free(img.bytes);
}

static void test_data_idx_rejects_absurd_dims_without_allocating(void) {
  uint32_t dims[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
  idx_image_t im = idx_make(0x08, 3, dims, NULL, 0);
  expect_idx_error(write_file("huge.idx", im.bytes, im.n), 0, TF_EFORMAT, "larger than 1 GiB");
  free(im.bytes);
  /* Each factor fine, the product over 1 GiB. */
  uint32_t dims2[3] = {70000, 200, 100};
  im = idx_make(0x08, 3, dims2, NULL, 0);
  expect_idx_error(write_file("huge2.idx", im.bytes, im.n), 0, TF_EFORMAT, "larger than 1 GiB");
  free(im.bytes);
}

static void test_data_idx_rejects_label_out_of_range_naming_file_and_index(void) {
  idx_image_t lab = labels_idx(8, 10);
  lab.bytes[8 + 5] = 12;
  const char *path = write_file("labels-bad", lab.bytes, lab.n);
  char want[700];
  snprintf(want, sizeof want, "%s: label 12 at index 5 is outside 0..9", path);
  expect_idx_error(path, 10, TF_EFORMAT, want);
  /* Without a class count the label is data like any other. */
  tf_err_t err = {0};
  uint8_t *data = NULL;
  int rank;
  int32_t dims[3];
  ASSERT_INT_EQ(tf_data_idx_read(path, 0, &data, &rank, dims, &err), 0);
  ASSERT_INT_EQ(data[5], 12);
  free(data);
  free(lab.bytes);
}

static void test_data_idx_missing_file_is_io_error(void) {
  expect_idx_error(tmp_path("nope.idx"), 0, TF_EIO, "cannot open");
  expect_idx_error(tmp_path("nope.idx.gz"), 0, TF_EIO, "cannot open");
}

static void test_data_shape_knows_the_three_datasets_and_suggests_names(void) {
  ASSERT(strcmp(tf_data_names[0], "mnist") == 0);
  ASSERT(strcmp(tf_data_names[1], "fashion-mnist") == 0);
  ASSERT(strcmp(tf_data_names[2], "cifar10") == 0);
  ASSERT(tf_data_names[3] == NULL);
  for (int i = 0; tf_data_names[i] != NULL; i++) {
    int32_t ntr = 0, nte = 0, dim = 0, classes = 0, c = 0, h = 0, w = 0;
    tf_err_t err = {0};
    int cifar = i == 2;
    ASSERT_INT_EQ(tf_data_shape(tf_data_names[i], &ntr, &nte, &dim, &classes, &err), 0);
    ASSERT_INT_EQ(ntr, cifar ? 50000 : 60000);
    ASSERT_INT_EQ(nte, 10000);
    ASSERT_INT_EQ(dim, cifar ? 3072 : 784);
    ASSERT_INT_EQ(classes, 10);
    ASSERT_INT_EQ(tf_data_image(tf_data_names[i], &c, &h, &w, &err), 0);
    ASSERT_INT_EQ(c, cifar ? 3 : 1);
    ASSERT_INT_EQ(h, cifar ? 32 : 28);
    ASSERT_INT_EQ(w, cifar ? 32 : 28);
    ASSERT_INT_EQ(c * h * w, dim);
  }
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_data_shape("mnsit", NULL, NULL, NULL, NULL, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "unknown dataset 'mnsit' — did you mean 'mnist'?");
  ASSERT_INT_EQ(tf_data_shape("fashion_mnist", NULL, NULL, NULL, NULL, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "did you mean 'fashion-mnist'?");
  ASSERT_INT_EQ(tf_data_shape("svhn", NULL, NULL, NULL, NULL, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "unknown dataset 'svhn' (known: mnist, fashion-mnist, cifar10)");
}

static void test_data_root_follows_environment(void) {
  const char *old = getenv("TICKETFARM_DATA");
  char *saved = old != NULL ? strdup(old) : NULL;
  setenv("TICKETFARM_DATA", "/some/where", 1);
  ASSERT(strcmp(tf_data_root(), "/some/where") == 0);
  setenv("TICKETFARM_DATA", "", 1);
  ASSERT_STR_CONTAINS(tf_data_root(), "/data");
  ASSERT(strcmp(tf_data_root() + strlen(tf_data_root()) - 5, "/data") == 0);
  unsetenv("TICKETFARM_DATA");
  ASSERT(strcmp(tf_data_root() + strlen(tf_data_root()) - 5, "/data") == 0);
  if (saved != NULL) setenv("TICKETFARM_DATA", saved, 1);
  free(saved);
}

static void expect_load_error(const char *dir, const char *name, int code, const char *needle1,
                              const char *needle2) {
  tf_dataset_t ds;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_data_load(&ds, dir, name, &err), code);
  ASSERT_STR_CONTAINS(err.msg, needle1);
  ASSERT_STR_CONTAINS(err.msg, needle2);
  ASSERT(ds.owned == NULL);
  tf_data_free(&ds);
}

static void test_data_load_reports_missing_files_and_unknown_names(void) {
  make_dir("load-missing");
  make_dir("load-missing/mnist");
  const char *dir = tmp_path("load-missing");
  char want[700];
  snprintf(want, sizeof want, "%s/mnist/train-images-idx3-ubyte", dir);
  expect_load_error(dir, "mnist", TF_EINPUT, want, "tools/fetch-data mnist");
  expect_load_error(dir, "mnsit", TF_EINPUT, "did you mean 'mnist'?", "mnsit");
}

static void test_data_load_rejects_mismatched_counts_and_shapes(void) {
  make_dir("load-small");
  make_dir("load-small/mnist");
  idx_image_t img3 = images_idx(3, 28, 28), lab2 = labels_idx(2, 10), lab3 = labels_idx(3, 10);
  idx_image_t img1 = images_idx(1, 28, 28), lab1 = labels_idx(1, 10);
  write_file("load-small/mnist/t10k-images-idx3-ubyte", img1.bytes, img1.n);
  write_file("load-small/mnist/t10k-labels-idx1-ubyte", lab1.bytes, lab1.n);
  const char *ti = write_file("load-small/mnist/train-images-idx3-ubyte", img3.bytes, img3.n);
  const char *tl = write_file("load-small/mnist/train-labels-idx1-ubyte", lab2.bytes, lab2.n);
  const char *dir = tmp_path("load-small");
  expect_load_error(dir, "mnist", TF_EFORMAT, ti, tl);
  expect_load_error(dir, "mnist", TF_EFORMAT, "has 3 images but", "has 2 labels");

  write_file("load-small/mnist/train-labels-idx1-ubyte", lab3.bytes, lab3.n);
  expect_load_error(dir, "mnist", TF_EFORMAT, ti,
                    "3 images of 28 x 28 pixels, but mnist has 60000");

  /* Labels and images swapped: a rank error naming the file. */
  write_file("load-small/mnist/train-labels-idx1-ubyte", img3.bytes, img3.n);
  expect_load_error(dir, "mnist", TF_EFORMAT, tl, "rank 3, expected 1 (labels)");
  free(img3.bytes), free(lab2.bytes), free(lab3.bytes), free(img1.bytes), free(lab1.bytes);
}

/* A full-size synthetic set: the training images as .gz only, the test labels both plain and
 * as a corrupt .gz, which must be ignored because the plain file comes first. */
static void test_data_load_reads_gzip_and_prefers_plain_files(void) {
  make_dir("load-full");
  make_dir("load-full/fashion-mnist");
  idx_image_t tri = images_idx(60000, 28, 28), trl = labels_idx(60000, 10);
  idx_image_t tei = images_idx(10000, 28, 28), tel = labels_idx(10000, 10);
  write_file("load-full/fashion-mnist/train-images-idx3-ubyte.gz", tri.bytes, tri.n);
  write_file("load-full/fashion-mnist/train-labels-idx1-ubyte", trl.bytes, trl.n);
  write_file("load-full/fashion-mnist/t10k-images-idx3-ubyte", tei.bytes, tei.n);
  write_file("load-full/fashion-mnist/t10k-labels-idx1-ubyte", tel.bytes, tel.n);
  write_file("load-full/fashion-mnist/t10k-labels-idx1-ubyte.gz", (const uint8_t *)"junk", 4);

  tf_dataset_t ds;
  tf_err_t err = {0};
  int rc = tf_data_load(&ds, tmp_path("load-full"), "fashion-mnist", &err);
  if (rc != 0) fprintf(stderr, "%s\n", err.msg);
  ASSERT_INT_EQ(rc, 0);
  ASSERT(strcmp(ds.name, "fashion-mnist") == 0);
  ASSERT_INT_EQ(ds.classes, 10);
  ASSERT_INT_EQ(ds.train.n, 60000);
  ASSERT_INT_EQ(ds.train.dim, 784);
  ASSERT_INT_EQ(ds.test.n, 10000);
  ASSERT_INT_EQ(ds.test.dim, 784);
  ASSERT(memcmp(ds.train.pixels, tri.bytes + 16, tri.n - 16) == 0);
  ASSERT(memcmp(ds.train.labels, trl.bytes + 8, trl.n - 8) == 0);
  ASSERT(memcmp(ds.test.pixels, tei.bytes + 16, tei.n - 16) == 0);
  ASSERT(memcmp(ds.test.labels, tel.bytes + 8, tel.n - 8) == 0);
  ASSERT(ds.owned != NULL);
  tf_data_free(&ds);
  ASSERT(ds.owned == NULL);

  /* An out-of-range test label is caught by the loader too. */
  tel.bytes[8 + 9999] = 10;
  const char *bad = write_file("load-full/fashion-mnist/t10k-labels-idx1-ubyte", tel.bytes, tel.n);
  expect_load_error(tmp_path("load-full"), "fashion-mnist", TF_EFORMAT, bad,
                    "label 10 at index 9999 is outside 0..9");
  free(tri.bytes), free(trl.bytes), free(tei.bytes), free(tel.bytes);
}

static void test_data_split_is_a_seeded_sorted_partition(void) {
  const int32_t n = 60000, v = 5000;
  tf_split_t a, b, c;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_data_split(&a, n, v, 1, &err), 0);
  ASSERT_INT_EQ(tf_data_split(&b, n, v, 1, &err), 0);
  ASSERT_INT_EQ(tf_data_split(&c, n, v, 2, &err), 0);
  ASSERT_INT_EQ(a.n_train, n - v);
  ASSERT_INT_EQ(a.n_val, v);
  ASSERT(memcmp(a.train_idx, b.train_idx, (size_t)a.n_train * sizeof(int32_t)) == 0);
  ASSERT(memcmp(a.val_idx, b.val_idx, (size_t)a.n_val * sizeof(int32_t)) == 0);

  unsigned char *seen = calloc((size_t)n, 1);
  for (int32_t i = 0; i < a.n_train; i++) {
    ASSERT(a.train_idx[i] >= 0 && a.train_idx[i] < n);
    if (i > 0) ASSERT(a.train_idx[i] > a.train_idx[i - 1]);
    seen[a.train_idx[i]]++;
  }
  for (int32_t i = 0; i < a.n_val; i++) {
    ASSERT(a.val_idx[i] >= 0 && a.val_idx[i] < n);
    if (i > 0) ASSERT(a.val_idx[i] > a.val_idx[i - 1]);
    seen[a.val_idx[i]]++;
  }
  for (int32_t i = 0; i < n; i++) ASSERT_INT_EQ(seen[i], 1);

  /* The held-out images are the first v of the TF_STREAM_SPLIT(seed) permutation. */
  int32_t *perm = malloc((size_t)n * sizeof *perm);
  for (int32_t i = 0; i < n; i++) perm[i] = i;
  tf_rng_t rng;
  tf_rng_seed(&rng, 1, TF_STREAM_SPLIT, 0, 0);
  tf_rng_shuffle(&rng, perm, (size_t)n);
  memset(seen, 0, (size_t)n);
  for (int32_t i = 0; i < v; i++) seen[perm[i]] = 1;
  for (int32_t i = 0; i < a.n_val; i++) ASSERT_INT_EQ(seen[a.val_idx[i]], 1);

  /* Another seed holds out another set; the overlap is what chance gives (v * v / n = 417). */
  memset(seen, 0, (size_t)n);
  for (int32_t i = 0; i < a.n_val; i++) seen[a.val_idx[i]] = 1;
  int common = 0;
  for (int32_t i = 0; i < c.n_val; i++) common += seen[c.val_idx[i]];
  ASSERT_NEAR(common, (double)v * v / n, 5 * sqrt((double)v * v / n));

  /* Held-out images are spread over the whole range, not a block. */
  ASSERT(a.val_idx[0] < 100 && a.val_idx[v - 1] > n - 100);
  free(perm);
  free(seen);
  tf_data_split_free(&a);
  tf_data_split_free(&b);
  tf_data_split_free(&c);
  ASSERT(a.train_idx == NULL && a.val_idx == NULL);
}

static void test_data_split_edge_cases_and_errors(void) {
  tf_split_t s;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_data_split(&s, 10, 0, 3, &err), 0);
  ASSERT_INT_EQ(s.n_train, 10);
  ASSERT_INT_EQ(s.n_val, 0);
  for (int i = 0; i < 10; i++) ASSERT_INT_EQ(s.train_idx[i], i);
  tf_data_split_free(&s);
  ASSERT_INT_EQ(tf_data_split(&s, 10, 10, 3, &err), 0);
  ASSERT_INT_EQ(s.n_train, 0);
  for (int i = 0; i < 10; i++) ASSERT_INT_EQ(s.val_idx[i], i);
  tf_data_split_free(&s);
  ASSERT_INT_EQ(tf_data_split(&s, 10, 11, 3, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "11");
  ASSERT_INT_EQ(tf_data_split(&s, 10, -1, 3, &err), TF_EINPUT);
  tf_data_split_free(&s);
}

static void test_data_gather_scales_pixels_by_255_and_copies_labels(void) {
  uint8_t px[3 * 4] = {0, 1, 2, 3, 128, 254, 255, 17, 51, 102, 153, 204};
  uint8_t lab[3] = {4, 7, 9};
  tf_images_t im = {3, 4, px, lab};
  int32_t idx[4] = {2, 0, 1, 2};
  float x[4 * 4];
  int32_t y[4];
  tf_data_gather(&im, idx, 4, x, y);
  for (int i = 0; i < 4; i++) {
    ASSERT_INT_EQ(y[i], lab[idx[i]]);
    for (int j = 0; j < 4; j++) {
      uint8_t v = px[idx[i] * 4 + j];
      float want = (float)(v / 255.0);
      ASSERT(x[i * 4 + j] == want); /* the exact bits, not merely close */
      ASSERT(x[i * 4 + j] >= 0.0f && x[i * 4 + j] <= 1.0f);
    }
  }
  ASSERT(x[1 * 4 + 0] == 0.0f);
  ASSERT(x[2 * 4 + 2] == 1.0f);
  ASSERT(x[0 * 4 + 0] == 0.2f); /* 51 / 255 */
  for (int v = 0; v < 256; v++) {
    uint8_t p = (uint8_t)v, l = 0;
    tf_images_t one = {1, 1, &p, &l};
    int32_t i0 = 0, yy;
    float xx;
    tf_data_gather(&one, &i0, 1, &xx, &yy);
    ASSERT(xx == (float)(v / 255.0));
  }
}

/* The real MNIST, which tools/fetch-data puts in the data directory. */
static void test_data_loads_real_mnist_with_known_labels(void) {
  tf_dataset_t ds;
  tf_err_t err = {0};
  int rc = tf_data_load(&ds, tf_data_root(), "mnist", &err);
  if (rc != 0) fprintf(stderr, "%s\n", err.msg);
  ASSERT_INT_EQ(rc, 0);
  ASSERT_INT_EQ(ds.train.n, 60000);
  ASSERT_INT_EQ(ds.test.n, 10000);
  ASSERT_INT_EQ(ds.train.dim, 784);
  const int first[10] = {5, 0, 4, 1, 9, 2, 1, 3, 1, 4};
  for (int i = 0; i < 10; i++) ASSERT_INT_EQ(ds.train.labels[i], first[i]);
  ASSERT_INT_EQ(ds.test.labels[0], 7);
  long sum = 0;
  for (int j = 0; j < 784; j++) sum += ds.train.pixels[j];
  ASSERT_INT_EQ(sum, 27525); /* the first training image (a 5), summed with Python */
  long count[10] = {0};
  for (int i = 0; i < ds.train.n; i++) count[ds.train.labels[i]]++;
  ASSERT_INT_EQ(count[1], 6742); /* the most frequent digit in MNIST's training set */
  tf_data_free(&ds);
}

/* The real Fashion-MNIST (stored gzip-compressed), which tools/fetch-data puts there. */
static void test_data_loads_real_fashion_mnist_with_known_labels(void) {
  tf_dataset_t ds;
  tf_err_t err = {0};
  int rc = tf_data_load(&ds, tf_data_root(), "fashion-mnist", &err);
  if (rc != 0) fprintf(stderr, "%s\n", err.msg);
  ASSERT_INT_EQ(rc, 0);
  ASSERT_INT_EQ(ds.train.n, 60000);
  ASSERT_INT_EQ(ds.test.n, 10000);
  const int first_train[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
  const int first_test[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
  for (int i = 0; i < 10; i++) {
    ASSERT_INT_EQ(ds.train.labels[i], first_train[i]);
    ASSERT_INT_EQ(ds.test.labels[i], first_test[i]);
  }
  /* Fashion-MNIST is balanced: 6,000 training images per class. */
  long count[10] = {0};
  for (int i = 0; i < ds.train.n; i++) count[ds.train.labels[i]]++;
  for (int k = 0; k < 10; k++) ASSERT_INT_EQ(count[k], 6000);
  tf_data_free(&ds);
}

/* `test_data real`: the datasets tools/fetch-data fetches (skipped, exit 77, without them);
 * `test_data`: everything else, on files the tests make. */
int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "real") == 0) {
    tf_test_need_dataset("mnist");
    tf_test_need_dataset("fashion-mnist");
    RUN(test_data_loads_real_mnist_with_known_labels);
    RUN(test_data_loads_real_fashion_mnist_with_known_labels);
    return 0;
  }
  const char *base = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/tf-test-data-XXXXXX", base && *base ? base : "/tmp");
  ASSERT(mkdtemp(tmpdir) != NULL);
  atexit(cleanup);

  RUN(test_data_idx_reads_plain_and_gzip_files);
  RUN(test_data_idx_rejects_bad_magic_type_rank_and_header);
  RUN(test_data_idx_rejects_truncated_and_extra_bytes);
  RUN(test_data_idx_rejects_damaged_gzip);
  RUN(test_data_idx_rejects_absurd_dims_without_allocating);
  RUN(test_data_idx_rejects_label_out_of_range_naming_file_and_index);
  RUN(test_data_idx_missing_file_is_io_error);
  RUN(test_data_shape_knows_the_three_datasets_and_suggests_names);
  RUN(test_data_root_follows_environment);
  RUN(test_data_load_reports_missing_files_and_unknown_names);
  RUN(test_data_load_rejects_mismatched_counts_and_shapes);
  RUN(test_data_load_reads_gzip_and_prefers_plain_files);
  RUN(test_data_split_is_a_seeded_sorted_partition);
  RUN(test_data_split_edge_cases_and_errors);
  RUN(test_data_gather_scales_pixels_by_255_and_copies_labels);
  return 0;
}
