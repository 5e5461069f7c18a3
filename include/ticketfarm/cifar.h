/* CIFAR-10 in its published binary version: checked reading of the six batch files into the
 * layout tf_dataset_t uses. */
#ifndef TICKETFARM_CIFAR_H
#define TICKETFARM_CIFAR_H

#include <stddef.h>
#include <stdint.h>

#include "ticketfarm/data.h"
#include "ticketfarm/error.h"

/* Each of data_batch_1.bin .. data_batch_5.bin (training) and test_batch.bin holds 10,000
 * records of one label byte (0..9) followed by 3,072 pixel bytes: the red, then the green, then
 * the blue 32 x 32 plane, each row-major. An image is therefore (3, 32, 32) channel-major, the
 * NCHW order the convolution layers read, and a file is exactly 30,730,000 bytes. */
#define TF_CIFAR_CLASSES 10
#define TF_CIFAR_DIM 3072
#define TF_CIFAR_RECORD (1 + TF_CIFAR_DIM)
#define TF_CIFAR_PER_FILE 10000
#define TF_CIFAR_TRAIN_FILES 5
#define TF_CIFAR_N_TRAIN (TF_CIFAR_TRAIN_FILES * TF_CIFAR_PER_FILE)
#define TF_CIFAR_N_TEST TF_CIFAR_PER_FILE

/* Reads the file at path, which must be exactly `records` records long, into pixels (records,
 * TF_CIFAR_DIM) and labels (records). Returns 0; TF_EIO if it cannot be opened or read;
 * TF_EFORMAT, naming the file, when its size is not records * TF_CIFAR_RECORD bytes (truncated,
 * or extra bytes) or a label is 10 or more. Rank-local. */
int tf_cifar_read_file(const char *path, int32_t records, uint8_t *pixels, uint8_t *labels,
                       tf_err_t *err);

/* Bytes the dataset occupies in memory: every image and label of both splits (as tf_data_bytes
 * counts them). */
size_t tf_cifar_bytes(void);

/* The directory the six files are read from: dir/cifar10/ if data_batch_1.bin is there, else
 * dir/cifar10/cifar-10-batches-bin/ (where the published archive unpacks them). Writes it into
 * path. Returns 0, or TF_EINPUT when neither holds data_batch_1.bin, saying where to put the
 * files (this program does not download CIFAR-10). */
int tf_cifar_find(const char *dir, char *path, size_t size, tf_err_t *err);

/* Reads the six files from tf_cifar_find(dir) into block (tf_cifar_bytes bytes) in the order
 * tf_dataset_t's block holds a dataset: the 50,000 training images (data_batch_1 first), their
 * labels, the 10,000 test images, their labels. Every file's size is checked before any is
 * read. Rank-local. */
int tf_cifar_load_into(const char *dir, uint8_t *block, tf_err_t *err);

/* tf_cifar_load_into a block of its own, then ds names it: "cifar10", 10 classes, train and test
 * of TF_CIFAR_DIM bytes per image; tf_data_free releases it. */
int tf_cifar_load(tf_dataset_t *ds, const char *dir, tf_err_t *err);

#endif
