/*
 * dirtier: the guest workload of the vfio-sla real-QEMU harness (test/qemu/guest/harness.ts).
 *
 * Touches every page of a buffer of MIB MiB once (so the whole buffer is resident and non-zero),
 * prints a ready marker on the console, then keeps writing one word into successive 4 KiB pages
 * at RATE MB/s (decimal megabytes of pages dirtied per second), wrapping around the buffer,
 * forever. With RATE below the migration bandwidth pre-copy converges; far above it, it does not.
 * QEMU tracks dirtying per target page (4 KiB on x86), so one store per page dirties the page.
 *
 * Usage: dirtier MIB RATE_MBPS     (RATE 0 = touch once, then idle)
 * Runs as PID 1's child or as PID 1 itself; never exits on success.
 * Built by the harness with `cc -static -O2`.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE_BYTES 4096UL
#define TICK_NS 10000000L /* 10 ms: rate is enforced per tick */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MIB RATE_MBPS\n", argv[0]);
    return 2;
  }
  unsigned long mib = strtoul(argv[1], NULL, 10);
  double rate_mbps = strtod(argv[2], NULL);
  if (mib == 0 || rate_mbps < 0) {
    fprintf(stderr, "dirtier: bad arguments\n");
    return 2;
  }
  unsigned long pages = mib * 1024UL * 1024UL / PAGE_BYTES;
  volatile uint64_t *buf = mmap(NULL, pages * PAGE_BYTES, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (buf == MAP_FAILED) {
    perror("dirtier: mmap");
    return 1;
  }
  uint64_t generation = 1;
  for (unsigned long p = 0; p < pages; p++) buf[p * (PAGE_BYTES / 8)] = generation ^ p;
  printf("dirtier: ready mib=%lu rate_mbps=%.3f\n", mib, rate_mbps);
  fflush(stdout);

  double pages_per_s = rate_mbps * 1e6 / (double)PAGE_BYTES;
  double start_s = now_s();
  double done = 0; /* pages dirtied since start */
  double next_report_s = start_s + 10.0;
  unsigned long cursor = 0;
  struct timespec tick = {0, TICK_NS};
  for (;;) {
    double t = now_s();
    /* Catch up to the schedule, but never burst more than one second's worth after a stall
     * (the guest is paused during migration downtime; a burst then would skew the rate). */
    double due = (t - start_s) * pages_per_s - done;
    if (due > pages_per_s) {
      done += due - pages_per_s;
      due = pages_per_s;
    }
    for (unsigned long n = (unsigned long)due; n > 0; n--) {
      buf[cursor * (PAGE_BYTES / 8)] = ++generation;
      if (++cursor == pages) cursor = 0;
      done += 1;
    }
    if (t >= next_report_s) {
      printf("dirtier: alive pages_dirtied=%.0f\n", done);
      fflush(stdout);
      next_report_s = t + 10.0;
    }
    nanosleep(&tick, NULL);
  }
}
