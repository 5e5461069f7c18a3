/* Compiler attributes for the hand-vectorised loops (sparse, optim, net). */
#ifndef TICKETFARM_VECTOR_H
#define TICKETFARM_VECTOR_H

/* A function compiled for AVX-512, AVX2 and baseline x86-64, one picked when the program loads
 * (its loops are plain C that gcc vectorises for each); elsewhere an ordinary function. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define TF_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TF_CLONES
#endif

/* A helper inlined into each clone, so it is vectorised for that clone's instruction set. */
#define INLINE static inline __attribute__((always_inline))

#endif
