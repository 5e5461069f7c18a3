/* Tests of the CIFAR-10 reader on files generated here in the published binary format: good
 * files read record by record, truncated, oversized and mislabelled files refused with the file
 * named, and a whole dataset (six full-size files, mostly holes) loaded in the dataset layout. */
#include "ticketfarm/cifar.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static char tmp_dir[256];

static const char *tmp_path(const char *name) {
  static char buf[8][512];
  static int next;
  char *p = buf[next++ % 8];
  snprintf(p, 512, "%s/%s", tmp_dir, name);
  return p;
}

/* Pixel byte j of global record g, channel-major as published (j / 1024 = channel). */
static uint8_t pixel_of(long g, int j) { return (uint8_t)((g * 131 + j * 7 + j / 1024) & 0xff); }
static uint8_t label_of(long g) { return (uint8_t)((g * 3 + 1) % 10); }

/* Writes `records` records for global records first.. into path, then `extra` more bytes (or
 * cuts -extra bytes off the end). */
static void write_file(const char *path, long first, int records, long extra) {
  FILE *f = fopen(path, "wb");
  ASSERT(f != NULL);
  uint8_t rec[TF_CIFAR_RECORD];
  for (int r = 0; r < records; r++) {
    rec[0] = label_of(first + r);
    for (int j = 0; j < TF_CIFAR_DIM; j++) rec[1 + j] = pixel_of(first + r, j);
    ASSERT(fwrite(rec, 1, sizeof rec, f) == sizeof rec);
  }
  for (long e = 0; e < extra; e++) ASSERT(fputc(0, f) != EOF);
  ASSERT(fclose(f) == 0);
  if (extra < 0) ASSERT(truncate(path, (off_t)records * TF_CIFAR_RECORD + extra) == 0);
}

static void set_byte(const char *path, long offset, uint8_t v) {
  int fd = open(path, O_WRONLY);
  ASSERT(fd >= 0);
  ASSERT(pwrite(fd, &v, 1, (off_t)offset) == 1);
  ASSERT(close(fd) == 0);
}

static void test_cifar_reads_labels_and_channel_major_pixels(void) {
  const char *path = tmp_path("good.bin");
  write_file(path, 0, 5, 0);
  uint8_t *pixels = malloc(5 * TF_CIFAR_DIM), labels[5];
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_cifar_read_file(path, 5, pixels, labels, &err), 0);
  for (int r = 0; r < 5; r++) {
    ASSERT_INT_EQ(labels[r], label_of(r));
    for (int j = 0; j < TF_CIFAR_DIM; j++)
      ASSERT_INT_EQ(pixels[(size_t)r * TF_CIFAR_DIM + j], pixel_of(r, j));
  }
  /* the red plane first: byte 1 + 1024 of a record is green pixel (0, 0) */
  ASSERT_INT_EQ(pixels[1024], pixel_of(0, 1024));
  free(pixels);
}

static void expect_file_error(const char *path, int records, int code, const char *n1,
                              const char *n2) {
  uint8_t *pixels = malloc((size_t)(records > 0 ? records : 1) * TF_CIFAR_DIM);
  uint8_t labels[16];
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_cifar_read_file(path, records, pixels, labels, &err), code);
  ASSERT_STR_CONTAINS(err.msg, path);
  ASSERT_STR_CONTAINS(err.msg, n1);
  ASSERT_STR_CONTAINS(err.msg, n2);
  free(pixels);
}

static void test_cifar_refuses_truncated_oversized_and_mislabelled_files(void) {
  const char *trunc = tmp_path("truncated.bin");
  write_file(trunc, 0, 4, -100);
  expect_file_error(trunc, 4, TF_EFORMAT, "12192 bytes, expected 12292", "file truncated");
  const char *big = tmp_path("oversized.bin");
  write_file(big, 0, 4, 1);
  expect_file_error(big, 4, TF_EFORMAT, "12293 bytes, expected 12292", "extra bytes");
  /* a file of other records: right for 3, wrong for 4 */
  const char *three = tmp_path("three.bin");
  write_file(three, 0, 3, 0);
  expect_file_error(three, 4, TF_EFORMAT, "9219 bytes, expected 12292",
                    "4 records of 1 label byte and 3072 pixel bytes");
  const char *bad = tmp_path("badlabel.bin");
  write_file(bad, 0, 4, 0);
  set_byte(bad, 2L * TF_CIFAR_RECORD, 10);
  expect_file_error(bad, 4, TF_EFORMAT, "label 10 of record 2", "outside 0..9");
  set_byte(bad, 2L * TF_CIFAR_RECORD, 255);
  expect_file_error(bad, 4, TF_EFORMAT, "label 255 of record 2", "outside 0..9");
  expect_file_error(tmp_path("missing.bin"), 4, TF_EIO, "cannot open", "No such file");
  const char *empty = tmp_path("empty.bin");
  write_file(empty, 0, 0, 0);
  expect_file_error(empty, 4, TF_EFORMAT, "0 bytes, expected 12292", "file truncated");
}

/* A full-size batch file as holes (zero pixels, label 0) with the labels of every record and the
 * pixels of its first and last record written: the size and every label are real, the read
 * covers all 30,730,000 bytes, and the disk holds a few pages. */
static void write_full_file(const char *path, long first) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT(fd >= 0);
  ASSERT(ftruncate(fd, (off_t)TF_CIFAR_PER_FILE * TF_CIFAR_RECORD) == 0);
  for (int r = 0; r < TF_CIFAR_PER_FILE; r++) {
    uint8_t l = label_of(first + r);
    if (l != 0) ASSERT(pwrite(fd, &l, 1, (off_t)r * TF_CIFAR_RECORD) == 1);
  }
  const int ends[2] = {0, TF_CIFAR_PER_FILE - 1};
  for (int e = 0; e < 2; e++) {
    uint8_t px[TF_CIFAR_DIM];
    for (int j = 0; j < TF_CIFAR_DIM; j++) px[j] = pixel_of(first + ends[e], j);
    ASSERT(pwrite(fd, px, sizeof px, (off_t)ends[e] * TF_CIFAR_RECORD + 1) == (ssize_t)sizeof px);
  }
  ASSERT(close(fd) == 0);
}

static const char *const names[6] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                     "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};

static void check_images(const tf_images_t *im, long first_global) {
  for (int32_t i = 0; i < im->n; i++) ASSERT_INT_EQ(im->labels[i], label_of(first_global + i));
  for (int32_t i = 0; i < im->n; i += TF_CIFAR_PER_FILE) {
    int32_t last = i + TF_CIFAR_PER_FILE - 1;
    for (int j = 0; j < TF_CIFAR_DIM; j++) {
      ASSERT_INT_EQ(im->pixels[(size_t)i * TF_CIFAR_DIM + j], pixel_of(first_global + i, j));
      ASSERT_INT_EQ(im->pixels[(size_t)last * TF_CIFAR_DIM + j],
                    pixel_of(first_global + last, j));
    }
    ASSERT_INT_EQ(im->pixels[(size_t)(i + 1) * TF_CIFAR_DIM + 5], 0);
  }
}

static void test_cifar_loads_six_files_into_the_dataset_layout(void) {
  char dir[300], sub[320], path[400];
  snprintf(dir, sizeof dir, "%s/root", tmp_dir);
  snprintf(sub, sizeof sub, "%s/cifar10", dir);
  ASSERT(mkdir(dir, 0755) == 0);
  tf_dataset_t ds;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_cifar_load(&ds, dir, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "cifar10/data_batch_1.bin not found");
  ASSERT_STR_CONTAINS(err.msg, "cifar-10-binary.tar.gz");
  ASSERT_STR_CONTAINS(err.msg, "TICKETFARM_DATA");
  ASSERT(ds.owned == NULL);

  ASSERT(mkdir(sub, 0755) == 0);
  for (int f = 0; f < 6; f++) {
    snprintf(path, sizeof path, "%s/%s", sub, names[f]);
    write_full_file(path, (long)f * TF_CIFAR_PER_FILE);
  }
  ASSERT_INT_EQ(tf_cifar_bytes(), (size_t)60000 * 3073);
  ASSERT_INT_EQ(tf_cifar_load(&ds, dir, &err), 0);
  ASSERT(strcmp(ds.name, "cifar10") == 0);
  ASSERT_INT_EQ(ds.classes, 10);
  ASSERT_INT_EQ(ds.train.n, 50000);
  ASSERT_INT_EQ(ds.train.dim, 3072);
  ASSERT_INT_EQ(ds.test.n, 10000);
  ASSERT_INT_EQ(ds.test.dim, 3072);
  check_images(&ds.train, 0);
  check_images(&ds.test, 50000);
  /* the block's order: train images, train labels, test images, test labels */
  ASSERT(ds.train.labels == ds.train.pixels + (size_t)50000 * 3072);
  ASSERT(ds.test.pixels == ds.train.labels + 50000);
  ASSERT(ds.test.labels == ds.test.pixels + (size_t)10000 * 3072);
  ASSERT(ds.owned == ds.train.pixels);
  tf_data_free(&ds);

  /* where the archive unpacks: cifar10/cifar-10-batches-bin/ */
  char moved[360], inner[360];
  snprintf(moved, sizeof moved, "%s/cifar-10-batches-bin", dir);
  snprintf(inner, sizeof inner, "%s/cifar-10-batches-bin", sub);
  ASSERT(rename(sub, moved) == 0);
  ASSERT(mkdir(sub, 0755) == 0);
  ASSERT(rename(moved, inner) == 0);
  char found[4096];
  ASSERT_INT_EQ(tf_cifar_find(dir, found, sizeof found, &err), 0);
  ASSERT(strcmp(found, inner) == 0);
  ASSERT_INT_EQ(tf_cifar_load(&ds, dir, &err), 0);
  ASSERT_INT_EQ(ds.test.labels[9999], label_of(59999));
  tf_data_free(&ds);

  /* one file a record short, one missing: refused, naming it, before anything is read */
  snprintf(path, sizeof path, "%s/%s", inner, names[3]);
  ASSERT(truncate(path, (off_t)(TF_CIFAR_PER_FILE - 1) * TF_CIFAR_RECORD) == 0);
  ASSERT_INT_EQ(tf_cifar_load(&ds, dir, &err), TF_EFORMAT);
  ASSERT_STR_CONTAINS(err.msg, "data_batch_4.bin: 30726927 bytes, expected 30730000");
  ASSERT(ds.owned == NULL);
  ASSERT(unlink(path) == 0);
  ASSERT_INT_EQ(tf_cifar_load(&ds, dir, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "data_batch_4.bin not found");
  /* a bad label in the test file */
  write_full_file(path, 3L * TF_CIFAR_PER_FILE);
  snprintf(path, sizeof path, "%s/%s", inner, names[5]);
  set_byte(path, 9999L * TF_CIFAR_RECORD, 10);
  ASSERT_INT_EQ(tf_cifar_load(&ds, dir, &err), TF_EFORMAT);
  ASSERT_STR_CONTAINS(err.msg, "test_batch.bin: label 10 of record 9999 is outside 0..9");

  for (int f = 0; f < 6; f++) {
    snprintf(path, sizeof path, "%s/%s", inner, names[f]);
    unlink(path);
  }
  rmdir(inner);
  rmdir(sub);
  rmdir(dir);
}

int main(void) {
  snprintf(tmp_dir, sizeof tmp_dir, "/tmp/tf_test_cifar_XXXXXX");
  ASSERT(mkdtemp(tmp_dir) != NULL);
  RUN(test_cifar_reads_labels_and_channel_major_pixels);
  RUN(test_cifar_refuses_truncated_oversized_and_mislabelled_files);
  RUN(test_cifar_loads_six_files_into_the_dataset_layout);
  const char *files[] = {"good.bin",   "truncated.bin", "oversized.bin", "three.bin",
                         "badlabel.bin", "empty.bin"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(tmp_path(files[i]));
  rmdir(tmp_dir);
  return 0;
}
