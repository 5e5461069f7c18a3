/* The processor model and OpenBLAS core type of this process, for the results file's /runtime. */
#include "ticketfarm/platform.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>

static void copy_text(char *dst, size_t size, const char *src) {
  snprintf(dst, size, "%s", src != NULL && src[0] != '\0' ? src : "unknown");
  /* trailing blanks and newlines of the library strings */
  size_t n = strlen(dst);
  while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == '\n')) dst[--n] = '\0';
}

static void read_model_name(char *dst, size_t size) {
  copy_text(dst, size, NULL);
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f == NULL) return;
  char line[512];
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "model name", 10) != 0) continue;
    const char *colon = strchr(line, ':');
    if (colon == NULL) continue;
    colon++;
    while (*colon == ' ' || *colon == '\t') colon++;
    copy_text(dst, size, colon);
    break;
  }
  fclose(f);
}

void tf_platform_probe(tf_platform_t *p) {
  memset(p, 0, sizeof *p);
  read_model_name(p->processor, sizeof p->processor);
  copy_text(p->blas_core, sizeof p->blas_core, openblas_get_corename());
  copy_text(p->blas_config, sizeof p->blas_config, openblas_get_config());
}

int tf_platform_differs(const tf_platform_t *a, const tf_platform_t *b) {
  return strcmp(a->processor, b->processor) != 0 || strcmp(a->blas_core, b->blas_core) != 0;
}
