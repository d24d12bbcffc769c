/**
 * A scripted source QEMU for the watch tests, on the fake QMP server: migration capabilities and
 * parameters with QEMU 7.2's rules (capabilities refused while a migration runs), a migration
 * that someone else starts, and QEMU's switchover rule — at each `query-migrate` while active,
 * switch over when `remaining < mbps × 10⁶ / 8 / 1000 × downtime-limit` (`migration/migration.c`,
 * threshold in bytes per ms of bandwidth) — with the events QEMU emits (`MIGRATION_PASS`,
 * `STOP`, `MIGRATION`).
 */
import { FakeQmpServer } from './fake-qmp-server.js';

export interface FakeMigrationOptions {
  /** RAM remaining at the n-th active poll (0-based). */
  readonly remainingBytes: (n: number) => number;
  readonly dirtyPagesPerS?: number;
  readonly mbps?: number;
  /** `downtime` reported at completion, ms. */
  readonly downtimeMs?: number;
  /** `completed` replies without statistics before the one with them (QEMU 7.2 race). */
  readonly racyCompleted?: number;
  /** Fail after this many active polls (`error-desc`). */
  readonly failAfterPolls?: number;
  /** 8.2+: has `avail-switchover-bandwidth` (which then feeds the threshold when non-zero). */
  readonly availSwitchoverBandwidth?: boolean;
  /** `query-kvm` enabled, and `set-vcpu-dirty-limit` accepted. */
  readonly kvmDirtyRing?: boolean;
  /**
   * Each vCPU's own dirty rate, MiB/s (default two vCPUs): `query-cpus-fast` lists one per rate,
   * and once a limit is in service `query-vcpu-dirty-limit` reports each held at most at
   * quota + 25 (QEMU's dead band).
   */
  readonly vcpuDirtyMiBps?: readonly number[];
  /** `cpu-throttle-percentage` reported while active (auto-converge already throttling). */
  readonly cpuThrottlePercentage?: number;
  /** Initial capabilities (QEMU 7.2 defaults: all off). */
  readonly capabilities?: Readonly<Record<string, boolean>>;
}

export class FakeQemu {
  status: 'none' | 'setup' | 'active' | 'completed' | 'failed' | 'cancelling' | 'cancelled' = 'none';
  readonly params: Record<string, number> = {
    'downtime-limit': 300,
    'max-bandwidth': 134217728,
    'throttle-trigger-threshold': 50,
    'cpu-throttle-initial': 20,
    'cpu-throttle-increment': 10,
    'max-cpu-throttle': 99,
  };
  readonly caps: Record<string, boolean> = { xbzrle: false, 'auto-converge': false, events: false, 'pause-before-switchover': false };
  /** `query-migrate` calls answered while active. */
  activePolls = 0;
  /** The `set-vcpu-dirty-limit` quota in service, MiB/s. */
  dirtyLimitMiBps: number | undefined;
  private pass = 0;
  private racyLeft: number;
  private totalTimeMs = 0;

  private constructor(
    readonly srv: FakeQmpServer,
    private readonly o: FakeMigrationOptions,
  ) {
    this.racyLeft = o.racyCompleted ?? 0;
    if (o.availSwitchoverBandwidth === true) this.params['avail-switchover-bandwidth'] = 0;
    Object.assign(this.caps, o.capabilities ?? {});
    this.handlers();
  }

  static async start(o: FakeMigrationOptions): Promise<FakeQemu> {
    return new FakeQemu(await FakeQmpServer.start(), o);
  }

  get path(): string {
    return this.srv.path;
  }

  /** Parameter values each `migrate-set-parameters` sent, in order. */
  get parameterWrites(): Record<string, unknown>[] {
    return this.srv.received.filter((c) => c.execute === 'migrate-set-parameters').map((c) => c.arguments ?? {});
  }

  /** Someone else's `migrate`. */
  startMigration(): void {
    this.status = 'setup';
    this.emit('MIGRATION', { status: 'setup' });
  }

  private running(): boolean {
    return this.status === 'setup' || this.status === 'active' || this.status === 'cancelling';
  }

  private emit(event: string, data?: Record<string, unknown>): void {
    if (event.startsWith('MIGRATION') && this.caps['events'] !== true) return;
    this.srv.event(event, data, Date.now() / 1000);
  }

  private ram(remaining: number): Record<string, number> {
    return {
      total: 134217728,
      transferred: 1e8 + this.activePolls * 1e6,
      remaining,
      'dirty-sync-count': this.pass,
      'dirty-pages-rate': this.o.dirtyPagesPerS ?? 20_000,
      'page-size': 4096,
      mbps: this.o.mbps ?? 1073.7,
      'downtime-bytes': 0,
    };
  }

  private queryMigrate(): unknown {
    switch (this.status) {
      case 'none':
        return {};
      case 'setup':
        this.status = 'active';
        this.pass = 1;
        this.emit('MIGRATION_PASS', { pass: 1 });
        this.emit('MIGRATION', { status: 'active' });
        return { status: 'setup' };
      case 'active':
        return this.activePoll();
      case 'cancelling':
        this.status = 'cancelled';
        this.emit('MIGRATION', { status: 'cancelled' });
        return { status: 'cancelling' };
      case 'completed':
        if (this.racyLeft > 0) {
          this.racyLeft--;
          return { status: 'completed', 'total-time': 0, downtime: 0, ram: this.ram(0) };
        }
        return { status: 'completed', 'total-time': this.totalTimeMs, 'setup-time': 3, downtime: this.o.downtimeMs ?? 25, ram: { ...this.ram(0), 'downtime-bytes': 3e6 } };
      case 'failed':
        return { status: 'failed', 'error-desc': 'Unable to write to socket: Broken pipe' };
      case 'cancelled':
        return { status: 'cancelled' };
    }
  }

  private activePoll(): unknown {
    const n = this.activePolls++;
    this.totalTimeMs = 100 * (n + 1);
    this.pass++;
    this.emit('MIGRATION_PASS', { pass: this.pass });
    if (this.o.failAfterPolls !== undefined && n >= this.o.failAfterPolls) {
      this.status = 'failed';
      this.emit('MIGRATION', { status: 'failed' });
      return { status: 'failed', 'error-desc': 'Unable to write to socket: Broken pipe' };
    }
    const remaining = this.o.remainingBytes(n);
    const avail = this.params['avail-switchover-bandwidth'] ?? 0;
    const bytesPerMs = avail > 0 ? avail / 1000 : ((this.o.mbps ?? 1073.7) * 1e6) / 8 / 1000;
    const threshold = Math.floor(bytesPerMs * (this.params['downtime-limit'] ?? 300));
    if (threshold > 0 && remaining < threshold) {
      this.status = 'completed';
      this.srv.event('STOP', undefined, Date.now() / 1000);
      this.emit('MIGRATION', { status: 'completed' });
      return this.queryMigrate();
    }
    const throttle = this.o.cpuThrottlePercentage === undefined ? {} : { 'cpu-throttle-percentage': this.o.cpuThrottlePercentage };
    return { status: 'active', 'total-time': this.totalTimeMs, 'setup-time': 3, 'expected-downtime': 300, ram: this.ram(remaining), ...throttle };
  }

  private handlers(): void {
    const srv = this.srv;
    const busy = { error: { class: 'GenericError', desc: "There's a migration process in progress" } };
    srv.on('query-migrate', () => ({ return: this.queryMigrate() }));
    srv.on('query-migrate-capabilities', () => ({ return: Object.entries(this.caps).map(([capability, state]) => ({ capability, state })) }));
    srv.on('migrate-set-capabilities', (cmd) => {
      if (this.running()) return busy;
      for (const c of (cmd.arguments?.['capabilities'] ?? []) as { capability: string; state: boolean }[]) this.caps[c.capability] = c.state;
      return { return: {} };
    });
    srv.on('query-migrate-parameters', () => ({ return: { ...this.params } }));
    srv.on('migrate-set-parameters', (cmd) => {
      Object.assign(this.params, cmd.arguments ?? {});
      return { return: {} };
    });
    srv.on('migrate_cancel', () => {
      if (this.running()) {
        this.status = 'cancelling';
        this.emit('MIGRATION', { status: 'cancelling' });
      }
      return { return: {} };
    });
    srv.on('query-kvm', () => ({ return: { enabled: this.o.kvmDirtyRing === true, present: true } }));
    const rates = this.o.vcpuDirtyMiBps ?? [0, 0];
    srv.on('query-cpus-fast', () => ({ return: rates.map((_, i) => ({ 'cpu-index': i })) }));
    srv.on('set-vcpu-dirty-limit', (cmd) => {
      if (this.o.kvmDirtyRing !== true) return { error: { class: 'GenericError', desc: "dirty page limit feature requires KVM with accelerator property 'dirty-ring-size' set'" } };
      this.dirtyLimitMiBps = cmd.arguments?.['dirty-rate'] as number;
      return { return: {} };
    });
    srv.on('cancel-vcpu-dirty-limit', () => {
      this.dirtyLimitMiBps = undefined;
      return { return: {} };
    });
    srv.on('query-vcpu-dirty-limit', () => {
      const quota = this.dirtyLimitMiBps;
      if (quota === undefined) return { return: [] };
      return { return: rates.map((r, i) => ({ 'cpu-index': i, 'limit-rate': quota, 'current-rate': Math.min(r, quota + 25) })) };
    });
  }

  async close(): Promise<void> {
    await this.srv.close();
  }
}
