/* Weight initialisers (Glorot, He, LeCun, orthogonal, ...): names, parameters and draws. */
#ifndef TICKETFARM_INIT_H
#define TICKETFARM_INIT_H

#include "ticketfarm/config.h"
#include "ticketfarm/rng.h"

/* The name as written in sweeps ("glorot_normal"); NULL when out of range. */
const char *tf_init_name(tf_init_kind_t kind);

/* The parameter used when a sweep gives none (NaN for initialisers without one). */
double tf_init_default_param(tf_init_kind_t kind);

/* Parses "he_normal", "normal", "normal(0.05)", "orthogonal(1.4)". On an unknown name returns
 * TF_EINPUT with "unknown initialiser 'X'" and, when one is close, "— did you mean 'Y'?"; a
 * parameter given to an initialiser that takes none, or a non-positive one, is TF_EINPUT too. */
int tf_init_parse(const char *text, tf_init_spec_t *spec, tf_err_t *err);

/* Writes the canonical text of spec into buf ("normal(0.1)", "he_normal"). */
void tf_init_format(const tf_init_spec_t *spec, char *buf, size_t size);

/* Fills w (fan_out, fan_in), row-major, from the initialiser with draws from rng. Rank-local.
 * Returns 0, or TF_ENOMEM (orthogonal needs a work matrix). */
int tf_init_fill(float *w, int fan_out, int fan_in, const tf_init_spec_t *spec, tf_rng_t *rng,
                 tf_err_t *err);

/* The same for w (rows, cols) whose fans are fan_out and fan_in: a convolution's flattened kernel
 * (out_c, in_c * k * k) has fan_in = in_c * k * k and fan_out = out_c * k * k (PyTorch's
 * convention); orthogonal works on the (rows, cols) matrix. tf_init_fill(w, o, i) is
 * tf_init_fill_kernel(w, o, i, o, i). */
int tf_init_fill_kernel(float *w, int rows, int cols, int fan_out, int fan_in,
                        const tf_init_spec_t *spec, tf_rng_t *rng, tf_err_t *err);

/* The factor control sparse_reinit multiplies row i of a fresh draw by, the row (unit) keeping
 * `surviving` of its fan_in inputs: sqrt(fan_in / surviving) for the initialisers whose scale
 * comes from fan_in (glorot_*, he_*, lecun_*, signed_constant), so that he_* and lecun_* are
 * their own definitions with the unit's surviving fan-in in place of fan_in, and glorot_* its
 * dense variance scaled by the same ratio (fan_in and fan_out both taken at the unit's
 * density); 1 for the initialisers of a fixed scale (orthogonal, truncated_normal, normal,
 * uniform) and for a unit with no surviving input. Rank-local. */
double tf_init_row_gain(const tf_init_spec_t *spec, int fan_in, long surviving);

#endif
