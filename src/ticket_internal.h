/* Internal to the task's sources (ticket.c trains, ticket_plan.c prices): constants both use. */
#ifndef TICKETFARM_TICKET_INTERNAL_H
#define TICKETFARM_TICKET_INTERNAL_H

/* Evaluation runs through the net in chunks of this many images; part of the results'
 * definition (float sums depend on it), so it is a constant, not a tuning knob. */
#define EVAL_CHUNK 1000
/* The same for a net with convolutions, whose activations for a chunk take memory in proportion:
 * Conv-6's first layers hold 64 x 32 x 32 floats per image, 26 MB per buffer for 100 images. */
#define CONV_EVAL_CHUNK 100

#endif
