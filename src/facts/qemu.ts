/**
 * QEMU's facts — defaults, thresholds, limits and the failed-size rule — written once, each with
 * the source it comes from (`shared/specs/switchover-today.md` §1.2, §1.3, §3.2–3.4; `qemu/qemu`
 * 9.x). The governor, the tuner, the QMP log reader, `watch` and the simulator all read them
 * from here (test/facts/qemu.test.ts fails when a copy appears elsewhere). Defaults are what a
 * migration gets when nobody sets the parameter; ranges are what `migrate-set-parameters`
 * accepts (`migrate_params_check()` in `migration/options.c`).
 */

/** 1 MiB. QEMU's dirty-limit "MB/s" is this unit, see {@link QEMU_DIRTY_RATE_UNIT_BYTES}. */
export const MiB = 1024 * 1024;

/**
 * Bytes in QEMU's dirty-rate unit. The QAPI text of `vcpu-dirty-limit` and `set-vcpu-dirty-limit`
 * says "MB/s", but the rate it is compared with is computed by `do_calculate_dirtyrate()`
 * (`migration/dirtyrate.c`) as pages → `qemu_target_pages_to_MiB()` (earlier `>> 20`) per
 * second: the unit is MiB/s.
 */
export const QEMU_DIRTY_RATE_UNIT_BYTES = MiB;

/**
 * `BUFFER_DELAY` (`migration/migration.c`): the migration thread re-measures bandwidth and
 * re-evaluates the switchover at most once per 100 ms window; one window of pre-copy data is
 * the most that can be sent between two completion checks.
 */
export const QEMU_BUFFER_DELAY_MS = 100;

/**
 * The throttle trigger shared by auto-converge and dirty-limit (`migration_bitmap_sync()` →
 * `migration_trigger_throttle()`, `migration/ram.c`; ST §3.2): at a bitmap sync more than
 * `periodMs` after the last period, the period is "high" when the bytes dirtied in it exceed
 * `throttle-trigger-threshold` % of the bytes sent; the `highPeriods`-th high period (counted
 * cumulatively, the counter resets only when it fires) throttles.
 */
export const QEMU_THROTTLE_TRIGGER = {
  periodMs: 1000,
  highPeriods: 2,
  /** `throttle-trigger-threshold` default (`DEFAULT_MIGRATE_THROTTLE_TRIGGER_THRESHOLD`), %. */
  defaultThresholdPct: 50,
} as const;

/**
 * Auto-converge (`mig_throttle_guest_down()`, `migration/ram.c`; `migration/cpu-throttle.c`;
 * ST §3.3): the first trigger sets `cpu-throttle-initial` %, each later one adds
 * `cpu-throttle-increment`, capped at `max-cpu-throttle`. Every vCPU sleeps pct/(1 − pct) of
 * each 10 ms slice, so the guest's CPU time — and, as `cpu-throttle-tailslow` assumes, its
 * dirty rate — scales by (1 − pct). `migrate_params_check()` accepts 1–99 for all three.
 */
export const QEMU_AUTO_CONVERGE = {
  defaultInitialPct: 20,
  defaultIncrementPct: 10,
  defaultMaxPct: 99,
  minPct: 1,
  maxPct: 99,
} as const;

/**
 * Dirty-limit (`system/dirtylimit.c`, `docs/devel/migration/dirty-limit.rst`; ST §3.4): on the
 * first trigger every vCPU's quota becomes `vcpu-dirty-limit` (MiB/s, default 1, at least 1); the
 * control loop then leaves a vCPU alone while |quota − current| ≤ `DIRTYLIMIT_TOLERANCE_RANGE`
 * = 25, so a throttled vCPU settles anywhere up to quota + 25 MiB/s. Needs the KVM dirty ring
 * (`-accel kvm,dirty-ring-size=N`) and cannot be combined with auto-converge.
 */
export const QEMU_DIRTY_LIMIT = {
  defaultVcpuLimitMiBPerS: 1,
  minVcpuLimitMiBPerS: 1,
  toleranceMiBPerS: 25,
} as const;

/** `downtime-limit` upper bound: `MAX_MIGRATE_DOWNTIME_SECONDS` = 2000 s (`migration/options.c`). */
export const QEMU_MAX_DOWNTIME_LIMIT_MS = 2_000_000;

/**
 * `downtime-limit` default (`DEFAULT_MIGRATE_SET_DOWNTIME`, `migration/options.c`; ST §1.2), ms:
 * also the deadline assumed when a QMP log carries no `query-migrate-parameters` reply.
 */
export const QEMU_DEFAULT_DOWNTIME_LIMIT_MS = 300;

/** `multifd-channels` default (`DEFAULT_MIGRATE_MULTIFD_CHANNELS`, `migration/options.c`; `qapi/migration.json`: "The default value is 2"). */
export const QEMU_DEFAULT_MULTIFD_CHANNELS = 2;

/** Most `multifd-channels` QEMU takes: a `uint8` in `qapi/migration.json`, at least 1 (`migrate_params_check()`, `migration/options.c`). */
export const QEMU_MAX_MULTIFD_CHANNELS = 255;

/** `max-bandwidth` default `MAX_THROTTLE` = 128 MiB/s (`migration/options.c`; ST §1.2), bytes/s. */
export const QEMU_MAX_BANDWIDTH_DEFAULT_BYTES_PER_S = 128 * MiB;

/**
 * `VFIO_MIG_STOP_COPY_SIZE` = 100 GiB (`hw/vfio/migration.c`; ST §1.3): the size
 * `vfio_state_pending_exact()` reports when MIG_DATA_SIZE fails, "so downtime limit won't be
 * violated" — QEMU's switchover rule then never fits.
 */
export const QEMU_FAILED_SIZE_QUERY_BYTES = 100 * 1024 * MiB;

/** A QEMU release, `major.minor.micro`. */
export type QemuRelease = readonly [major: number, minor: number, micro: number];

/**
 * First QEMU whose source moves its VFIO devices `STOP_COPY → STOP` in `vfio_save_cleanup()`,
 * after the migration completed — outside the blackout — instead of at the end of
 * `vfio_save_complete_precopy()`, inside it: "Changing the device state from STOP_COPY to STOP
 * can take time ... Currently, this is done in vfio_save_complete_precopy() and therefore it is
 * counted in the migration downtime" (Avihai Horon, "[PATCH for-8.2 1/6] vfio/migration: Move
 * from STOP_COPY to STOP in vfio_save_cleanup()", qemu-devel, 16 Jul 2023; `hw/vfio/migration.c`
 * from 8.2.0 on; switchover-today.md §1.4, published-numbers.md for the ~6 % it saves).
 */
export const QEMU_STOP_COPY_TO_STOP_AFTER_BLACKOUT_SINCE: QemuRelease = [8, 2, 0];

/**
 * QEMU releases whose `vfio_state_pending_exact()` reports only the stop-copy size. Before,
 * it added the pre-copy initial and dirty bytes on top of `stop_copy_length`, which already
 * holds them: a device in PRE_COPY was counted twice in the pending size QEMU compares with its
 * switchover threshold (commit 3b5948f808e3, Avihai Horon, "vfio/migration: Report only
 * stop-copy size in vfio_state_pending_exact()", pull-vfio-20241024 into 9.2.0; backported to
 * the 9.0.4 and 9.1.2 stable releases, Nov 2024). Each entry: the first fixed release of its
 * `major.minor` line; a line not listed is fixed when newer than the last listed, else not.
 */
export const QEMU_PENDING_EXACT_FIXED_IN: readonly QemuRelease[] = [
  [9, 0, 4],
  [9, 1, 2],
  [9, 2, 0],
];
