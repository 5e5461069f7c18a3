/* The processor and the BLAS a run computes on: dense layers go through OpenBLAS's SGEMM, whose
 * kernels (and so whose bits) differ by processor, so the results file records them per run. */
#ifndef TICKETFARM_PLATFORM_H
#define TICKETFARM_PLATFORM_H

typedef struct tf_platform {
  char processor[128];  /* /proc/cpuinfo's first "model name", "unknown" without one */
  char blas_core[64];   /* openblas_get_corename(): the kernels OpenBLAS picked ("Haswell") */
  char blas_config[256]; /* openblas_get_config(): version and build options */
} tf_platform_t;

/* Rank-local: fills p for the processor this process runs on. Never fails: an unreadable fact
 * reads "unknown". */
void tf_platform_probe(tf_platform_t *p);

/* 1 when a and b differ in processor model or OpenBLAS core type (what changes SGEMM's bits),
 * else 0; the configuration string is informative only. */
int tf_platform_differs(const tf_platform_t *a, const tf_platform_t *b);

#endif
