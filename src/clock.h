/* The library's one clock for durations: monotonic, so an NTP step moves no deadline. */
#ifndef TICKETFARM_CLOCK_H
#define TICKETFARM_CLOCK_H

/* Seconds on CLOCK_MONOTONIC from an arbitrary origin: only differences mean anything.
 * Rank-local. Wall-clock times that are stored or shown (the file's /runtime, log lines) use
 * CLOCK_REALTIME where they are taken. */
double tf__clock_now(void);

#endif
