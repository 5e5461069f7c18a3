/* CIFAR-10 binary batches: finding the six files, checking their sizes and labels, and reading
 * them into one dataset block. */
#include "ticketfarm/cifar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define N_FILES (TF_CIFAR_TRAIN_FILES + 1)

static const char *const file_names[N_FILES] = {
    "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
    "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin",
};

/* Records are read this many at a time, then split into label and pixels. */
#define CHUNK 256

/* The size check, from the file's metadata, so that a wrong file is refused before any of the
 * 30 MB is read. */
static int check_size(const char *path, int32_t records, tf_err_t *err) {
  struct stat st;
  if (stat(path, &st) != 0)
    return tf_err_set(err, TF_EIO, "%s: cannot open: %s", path, strerror(errno));
  long long want = (long long)records * TF_CIFAR_RECORD;
  if ((long long)st.st_size != want)
    return tf_err_set(err, TF_EFORMAT,
                      "%s: %lld bytes, expected %lld (%d records of 1 label byte and %d pixel "
                      "bytes)%s",
                      path, (long long)st.st_size, want, (int)records, TF_CIFAR_DIM,
                      (long long)st.st_size < want ? ": file truncated" : ": extra bytes");
  return 0;
}

int tf_cifar_read_file(const char *path, int32_t records, uint8_t *pixels, uint8_t *labels,
                       tf_err_t *err) {
  if (records < 0)
    return tf_err_set(err, TF_EINPUT, "%s: %d records requested", path, (int)records);
  int rc = check_size(path, records, err);
  if (rc < 0) return rc;
  FILE *f = fopen(path, "rb");
  if (f == NULL) return tf_err_set(err, TF_EIO, "%s: cannot open: %s", path, strerror(errno));
  uint8_t *buf = malloc((size_t)CHUNK * TF_CIFAR_RECORD);
  if (buf == NULL) {
    fclose(f);
    return tf_err_set(err, TF_ENOMEM, "%s: no memory for a read buffer", path);
  }
  for (int32_t r0 = 0; r0 < records && rc == 0; r0 += CHUNK) {
    int32_t m = records - r0 < CHUNK ? records - r0 : CHUNK;
    size_t want = (size_t)m * TF_CIFAR_RECORD;
    size_t got = fread(buf, 1, want, f);
    if (got < want) {
      /* The size was right a moment ago: the file shrank, or the read failed. */
      rc = ferror(f) ? tf_err_set(err, TF_EIO, "%s: read failed: %s", path, strerror(errno))
                     : tf_err_set(err, TF_EFORMAT,
                                  "%s: file ends inside record %d (file truncated while read)",
                                  path, (int)(r0 + (int32_t)(got / TF_CIFAR_RECORD)));
      break;
    }
    for (int32_t j = 0; j < m; j++) {
      const uint8_t *rec = buf + (size_t)j * TF_CIFAR_RECORD;
      if (rec[0] >= TF_CIFAR_CLASSES) {
        rc = tf_err_set(err, TF_EFORMAT, "%s: label %d of record %d is outside 0..%d", path,
                        rec[0], (int)(r0 + j), TF_CIFAR_CLASSES - 1);
        break;
      }
      labels[r0 + j] = rec[0];
      memcpy(pixels + (size_t)(r0 + j) * TF_CIFAR_DIM, rec + 1, TF_CIFAR_DIM);
    }
  }
  free(buf);
  fclose(f);
  return rc;
}

size_t tf_cifar_bytes(void) {
  return ((size_t)TF_CIFAR_N_TRAIN + TF_CIFAR_N_TEST) * ((size_t)TF_CIFAR_DIM + 1);
}

int tf_cifar_find(const char *dir, char *path, size_t size, tf_err_t *err) {
  static const char *const subdirs[] = {"cifar10", "cifar10/cifar-10-batches-bin"};
  struct stat st;
  for (int s = 0; s < 2; s++) {
    char probe[4096];
    int w = snprintf(probe, sizeof probe, "%s/%s/%s", dir, subdirs[s], file_names[0]);
    if (w < 0 || (size_t)w >= sizeof probe)
      return tf_err_set(err, TF_EINPUT, "data directory path is too long: %s", dir);
    if (stat(probe, &st) != 0) continue;
    w = snprintf(path, size, "%s/%s", dir, subdirs[s]);
    if (w < 0 || (size_t)w >= size)
      return tf_err_set(err, TF_EINPUT, "data directory path is too long: %s", dir);
    return 0;
  }
  return tf_err_set(err, TF_EINPUT,
                    "dataset 'cifar10': %s/cifar10/%s not found; CIFAR-10 is not downloaded by "
                    "this program: put data_batch_1.bin .. data_batch_5.bin and test_batch.bin "
                    "of the binary version (cifar-10-binary.tar.gz from "
                    "https://www.cs.toronto.edu/~kriz/cifar.html) in %s/cifar10/, or set "
                    "TICKETFARM_DATA to the directory that holds cifar10/",
                    dir, file_names[0], dir);
}

int tf_cifar_load_into(const char *dir, uint8_t *block, tf_err_t *err) {
  char base[4096], paths[N_FILES][4200];
  int rc = tf_cifar_find(dir, base, sizeof base, err);
  if (rc < 0) return rc;
  for (int f = 0; f < N_FILES; f++) {
    snprintf(paths[f], sizeof paths[f], "%s/%s", base, file_names[f]);
    struct stat st;
    if (stat(paths[f], &st) != 0)
      return tf_err_set(err, TF_EINPUT,
                        "dataset 'cifar10': %s not found (the binary version has "
                        "data_batch_1.bin .. data_batch_5.bin and test_batch.bin)",
                        paths[f]);
    rc = check_size(paths[f], TF_CIFAR_PER_FILE, err);
    if (rc < 0) return rc;
  }
  uint8_t *train_pixels = block;
  uint8_t *train_labels = train_pixels + (size_t)TF_CIFAR_N_TRAIN * TF_CIFAR_DIM;
  uint8_t *test_pixels = train_labels + TF_CIFAR_N_TRAIN;
  uint8_t *test_labels = test_pixels + (size_t)TF_CIFAR_N_TEST * TF_CIFAR_DIM;
  for (int f = 0; f < TF_CIFAR_TRAIN_FILES; f++) {
    size_t first = (size_t)f * TF_CIFAR_PER_FILE;
    rc = tf_cifar_read_file(paths[f], TF_CIFAR_PER_FILE, train_pixels + first * TF_CIFAR_DIM,
                            train_labels + first, err);
    if (rc < 0) return rc;
  }
  return tf_cifar_read_file(paths[N_FILES - 1], TF_CIFAR_PER_FILE, test_pixels, test_labels, err);
}

int tf_cifar_load(tf_dataset_t *ds, const char *dir, tf_err_t *err) {
  memset(ds, 0, sizeof *ds);
  uint8_t *block = malloc(tf_cifar_bytes());
  if (block == NULL)
    return tf_err_set(err, TF_ENOMEM, "dataset 'cifar10': no memory for %zu bytes",
                      tf_cifar_bytes());
  int rc = tf_cifar_load_into(dir, block, err);
  if (rc < 0) {
    free(block);
    return rc;
  }
  const uint8_t *train_labels = block + (size_t)TF_CIFAR_N_TRAIN * TF_CIFAR_DIM;
  const uint8_t *test_pixels = train_labels + TF_CIFAR_N_TRAIN;
  snprintf(ds->name, sizeof ds->name, "cifar10");
  ds->classes = TF_CIFAR_CLASSES;
  ds->train = (tf_images_t){TF_CIFAR_N_TRAIN, TF_CIFAR_DIM, block, train_labels};
  ds->test = (tf_images_t){TF_CIFAR_N_TEST, TF_CIFAR_DIM, test_pixels,
                           test_pixels + (size_t)TF_CIFAR_N_TEST * TF_CIFAR_DIM};
  ds->owned = block;
  return 0;
}
