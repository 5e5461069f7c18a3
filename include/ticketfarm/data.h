/* Image datasets (MNIST and Fashion-MNIST from IDX files, CIFAR-10 from its binary batches):
 * loading, checking, validation split, batches. */
#ifndef TICKETFARM_DATA_H
#define TICKETFARM_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "ticketfarm/error.h"

/* One split of a dataset as stored: n images of dim pixels, labels in [0, classes). */
typedef struct tf_images {
  int32_t n;
  int32_t dim;
  const uint8_t *pixels; /* (n, dim), row-major, 0..255 */
  const uint8_t *labels; /* (n) */
} tf_images_t;

typedef struct tf_dataset {
  char name[32];
  int32_t classes;
  tf_images_t train; /* the published training images, 60,000 (MNIST) or 50,000 (CIFAR-10);
                      * validation is carved out later */
  tf_images_t test;  /* the 10,000 published test images */
  void *owned;       /* memory the dataset frees; NULL when the caller supplied it */
} tf_dataset_t;

/* Static facts of a known dataset, without reading it (for planning and file layout).
 * Returns 0, or TF_EINPUT for an unknown name with a "did you mean" hint when one is close. */
int tf_data_shape(const char *name, int32_t *n_train, int32_t *n_test, int32_t *dim,
                  int32_t *classes, tf_err_t *err);

/* An image of a known dataset: channels, height and width, channel-major (MNIST 1 x 28 x 28,
 * CIFAR-10 3 x 32 x 32). Returns 0 or TF_EINPUT for an unknown name. */
int tf_data_image(const char *name, int32_t *channels, int32_t *height, int32_t *width,
                  tf_err_t *err);

/* The names of the known datasets, NULL-terminated: {"mnist", "fashion-mnist", "cifar10",
 * NULL}. */
extern const char *const tf_data_names[];

/* The directory datasets live in: $TICKETFARM_DATA if set and not empty, else "./data" when the
 * current directory has one (a source tree), else the installation's
 * "<prefix>/share/ticketfarm/data". Rank-local. */
const char *tf_data_root(void);

/* Reads one IDX file (plain, or gzip when the name ends in .gz): checks the magic number, the
 * element type (unsigned byte), the rank, that the header's counts match the file's size, and
 * for rank-1 files (labels) that every label is < classes when classes > 0. On success *data is
 * malloc'd (caller frees) and dims[0..*rank) are set. Errors (TF_EFORMAT, TF_EIO) name the file. */
int tf_data_idx_read(const char *path, int classes, uint8_t **data, int *rank, int32_t dims[3],
                     tf_err_t *err);

/* Loads dataset `name` from dir/name/ (the four IDX files, plain or .gz, plain preferred; for
 * cifar10 the six binary batches, tf_cifar_load_into) and checks the counts and shapes against
 * tf_data_shape. Rank-local. */
int tf_data_load(tf_dataset_t *ds, const char *dir, const char *name, tf_err_t *err);

void tf_data_free(tf_dataset_t *ds);

/* Bytes a dataset occupies in memory: every image and label of both splits. */
int tf_data_bytes(const char *name, size_t *bytes, tf_err_t *err);

/* tf_data_load into caller memory of tf_data_bytes bytes (ds->owned stays NULL), so that one
 * process per node can fill memory the node's other ranks share. */
int tf_data_load_into(tf_dataset_t *ds, const char *dir, const char *name, uint8_t *block,
                      tf_err_t *err);

/* Points ds at a block that tf_data_load_into filled, here or in another process. */
int tf_data_view(tf_dataset_t *ds, const char *name, const uint8_t *block, tf_err_t *err);

/* The training/validation split for one seed: a permutation of the n training images from
 * TF_STREAM_SPLIT(seed); the first `validation` go to val_idx (sorted ascending), the rest to
 * train_idx (sorted ascending), so every initialiser and control of a seed sees the same split. */
typedef struct tf_split {
  int32_t n_train, n_val;
  int32_t *train_idx; /* (n_train) indices into dataset->train */
  int32_t *val_idx;   /* (n_val) */
} tf_split_t;

int tf_data_split(tf_split_t *split, int32_t n, int32_t validation, uint64_t seed, tf_err_t *err);
void tf_data_split_free(tf_split_t *split);

#define TF_DATA_MAX_CHANNELS 4

/* data.normalize as an affine map of the gathered inputs x = p / 255: x * scale[c] + shift[c]
 * for a pixel of channel c (an image is channels planes of dim / channels pixels), the scale per
 * image (image_scale[i] for image i) when there is one. */
typedef struct tf_data_norm {
  int active;   /* 0 under unit: the inputs stay p / 255, untouched */
  int channels; /* 1 to TF_DATA_MAX_CHANNELS */
  float scale[TF_DATA_MAX_CHANNELS]; /* standardize: 1 / std of each channel; l2: 1 */
  float shift[TF_DATA_MAX_CHANNELS]; /* standardize: -mean / std of each channel; l2: 0 */
  float *train_scale; /* l2: (train n) 1 / ||p / 255|| of each image of the training set, 1 for
                       * an all-zero image; NULL otherwise */
  float *test_scale;  /* l2: (test n) likewise for the test images */
} tf_data_norm_t;

/* The map for normalization `kind` (a tf_normalize_t) of images of `channels` planes:
 * standardize takes the mean and the standard deviation (population) of p / 255 over every
 * pixel of each channel of the training split's images (split->train_idx), one pair per
 * channel, also applied to the validation and test images; l2 computes every image's scale
 * once (sums of squared bytes are exact). Rank-local. Returns 0, TF_ENOMEM, or TF_EINPUT for an
 * unknown kind, a channel count that does not divide the image, or a training split whose
 * pixels are constant in a channel. */
int tf_data_norm_create(tf_data_norm_t *norm, int kind, int channels, const tf_images_t *train,
                        const tf_images_t *test, const tf_split_t *split, tf_err_t *err);
void tf_data_norm_free(tf_data_norm_t *norm);

/* Gathers images idx[0..count) into x (count, dim) as floats scaled to [0, 1] (pixel / 255) and
 * their labels into y (count). */
void tf_data_gather(const tf_images_t *images, const int32_t *idx, int count, float *x, int32_t *y);

#endif
