/* The copies of the vectorised sparse kernels, one per instruction set (sparse_kernels.c, built
 * once per set); sparse.c dispatches tf_sparse_forward and the others to one of them. */
#ifndef TICKETFARM_SPARSE_KERNELS_H
#define TICKETFARM_SPARSE_KERNELS_H

#include "ticketfarm/sparse.h"

#define TF_SPARSE_NAME2(isa, name) tf__sparse_##isa##_##name
#define TF_SPARSE_NAME(isa, name) TF_SPARSE_NAME2(isa, name)
/* Inside sparse_kernels.c: the name of this copy's kernel. */
#define TF_SPARSE_KERNEL(name) TF_SPARSE_NAME(TF_SPARSE_ISA, name)

#define TF_SPARSE_DECLARE(isa)                                                                 \
  void tf__sparse_##isa##_forward(const tf_sparse_t *sp, const float *a, size_t ld, int nv,     \
                                 const float *bias, int relu, float *z);                       \
  void tf__sparse_##isa##_backward(const tf_sparse_t *sp, const float *dz, const float *act,    \
                                  size_t ld, int nv, float *da);                               \
  void tf__sparse_##isa##_weight_grad(tf_sparse_t *sp, const float *dz, const float *a,         \
                                     size_t ld, int nv, int add_to);                           \
  void tf__sparse_##isa##_row_sums(const float *x, int rows, size_t ld, int nv, int add_to,     \
                                  float *out);

TF_SPARSE_DECLARE(baseline)
#if defined(TF_SPARSE_X86)
TF_SPARSE_DECLARE(avx2)
TF_SPARSE_DECLARE(avx512)
#endif

#endif
