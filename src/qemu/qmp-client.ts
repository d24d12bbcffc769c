/**
 * The QMP client: {@link QmpConnection}'s protocol engine plus typed wrappers of the commands
 * vfio-sla drives during a migration (`qapi/migration.json`, `qapi/run-state.json`,
 * `qapi/misc.json`). Commands a QEMU may lack are feature-detected through `query-commands`
 * and refused with {@link QmpUnsupportedError} instead of a `CommandNotFound` round trip.
 *
 * @example
 * const qmp = await QmpClient.connect({ endpoint: { path: '/run/vm1/qmp.sock' } });
 * qmp.events$.pipe(filter(isMigrationEvent)).subscribe((e) => console.log(e.data.status));
 * await qmp.migrateSetCapabilities({ events: true });
 * await qmp.migrate('tcp:10.0.0.2:4444');
 */
import { QmpConnection, type QmpConnectionOptions } from './qmp-connection.js';
import { QmpProtocolError, QmpUnsupportedError } from './qmp-errors.js';
import { versionInfoString } from './qemu-version.js';
import type {
  DirtyLimitInfo,
  MigrationCapabilities,
  MigrationCapability,
  MigrationInfo,
  MigrationParameters,
  StatusInfo,
} from './qapi-migration.js';
import { isJsonObject, type JsonObject } from '../json/guards.js';

/** A QMP connection with typed migration commands; see the file comment. */
export class QmpClient extends QmpConnection {
  private commandSet: Promise<ReadonlySet<string>> | undefined;

  constructor(options: QmpConnectionOptions) {
    super(options);
    // A reconnect may reach a different QEMU binary: forget what the last one offered.
    this.state$.subscribe((s) => {
      if (s === 'connecting') this.commandSet = undefined;
    });
  }

  /** Creates a client and connects it (retrying per `connectRetry`). */
  static async connect(options: QmpConnectionOptions): Promise<QmpClient> {
    const client = new QmpClient(options);
    try {
      await client.connect();
    } catch (e) {
      await client.close();
      throw e;
    }
    return client;
  }

  /** Names from `query-commands`, fetched once per connection. */
  commands(): Promise<ReadonlySet<string>> {
    if (this.commandSet === undefined) {
      const fetched = this.execute('query-commands').then((v) => {
        const names = expectArray('query-commands', v, this.endpoint)
          .map((c) => (isJsonObject(c) ? c['name'] : undefined))
          .filter((n): n is string => typeof n === 'string');
        return new Set(names) as ReadonlySet<string>;
      });
      fetched.catch(() => {
        if (this.commandSet === fetched) this.commandSet = undefined;
      });
      this.commandSet = fetched;
    }
    return this.commandSet;
  }

  /** Whether this QEMU has the command (by `query-commands`). */
  async hasCommand(name: string): Promise<boolean> {
    return (await this.commands()).has(name);
  }

  /** `query-migrate`: `{}` before any migration; see {@link MigrationInfo}. */
  async queryMigrate(): Promise<MigrationInfo> {
    // QEMU's schema is the authority on the members; only the shape is checked here.
    return expectObject('query-migrate', await this.execute('query-migrate'), this.endpoint) as MigrationInfo;
  }

  /** `query-migrate-parameters`. */
  async queryMigrateParameters(): Promise<MigrationParameters> {
    const v = await this.execute('query-migrate-parameters');
    return expectObject('query-migrate-parameters', v, this.endpoint) as MigrationParameters;
  }

  /** `migrate-set-parameters`: only the members given change. */
  async migrateSetParameters(params: MigrationParameters): Promise<void> {
    await this.execute('migrate-set-parameters', params);
  }

  /** `query-migrate-capabilities`, as capability → enabled. */
  async queryMigrateCapabilities(): Promise<MigrationCapabilities> {
    const list = expectArray('query-migrate-capabilities', await this.execute('query-migrate-capabilities'), this.endpoint);
    const caps: Partial<Record<MigrationCapability, boolean>> = {};
    for (const c of list) {
      if (isJsonObject(c) && typeof c['capability'] === 'string' && typeof c['state'] === 'boolean') {
        caps[c['capability'] as MigrationCapability] = c['state'];
      }
    }
    return caps;
  }

  /**
   * `migrate-set-capabilities` for the capabilities given (others keep their state). QEMU
   * refuses changes while a migration runs, and unknown names with `GenericError`.
   */
  async migrateSetCapabilities(caps: MigrationCapabilities): Promise<void> {
    const capabilities = Object.entries(caps)
      .filter((e): e is [string, boolean] => typeof e[1] === 'boolean')
      .map(([capability, state]) => ({ capability, state }));
    await this.execute('migrate-set-capabilities', { capabilities });
  }

  /** `migrate`: starts an outgoing migration to `uri` (e.g. `tcp:HOST:PORT`) and returns at once. */
  async migrate(uri: string, opts: { readonly resume?: boolean } = {}): Promise<void> {
    await this.execute('migrate', opts.resume === undefined ? { uri } : { uri, resume: opts.resume });
  }

  /**
   * `migrate-incoming` on a QEMU started with `-incoming defer`. With `tcp:HOST:0` QEMU picks
   * the port; read it back from `queryMigrate()['socket-address']` (4.0+).
   */
  async migrateIncoming(uri: string): Promise<void> {
    await this.execute('migrate-incoming', { uri });
  }

  /** `migrate_cancel`: asynchronous; the status goes `cancelling` → `cancelled`. */
  async migrateCancel(): Promise<void> {
    await this.execute('migrate_cancel');
  }

  /** `stop`: pauses the vCPUs. */
  async stop(): Promise<void> {
    await this.execute('stop');
  }

  /** `cont`: resumes the vCPUs (on a destination, after `-S` or a paused incoming migration). */
  async cont(): Promise<void> {
    await this.execute('cont');
  }

  /**
   * `query-version` (`qapi/control.json`): this QEMU's version as `major.minor.micro`. Asked
   * rather than read from the greeting so that the reply is on the wire, in a `watch --qmp-log`.
   */
  async queryVersion(): Promise<string> {
    const v = await this.execute('query-version');
    const version = versionInfoString(v);
    if (version === undefined) throw new QmpProtocolError(this.endpoint, 'query-version returned no qemu major/minor/micro', JSON.stringify(v));
    return version;
  }

  /** `query-status`. */
  async queryStatus(): Promise<StatusInfo> {
    const v = expectObject('query-status', await this.execute('query-status'), this.endpoint);
    if (typeof v['running'] !== 'boolean' || typeof v['status'] !== 'string') {
      throw new QmpProtocolError(this.endpoint, 'query-status returned no running/status', JSON.stringify(v));
    }
    return v as unknown as StatusInfo;
  }

  /** `quit`: QEMU replies, emits `SHUTDOWN`, then exits (the socket closes). */
  async quit(): Promise<void> {
    await this.execute('quit');
  }

  /**
   * `set-vcpu-dirty-limit` (7.1+, `qapi/migration.json`): caps the dirty rate of one vCPU, or
   * all when `cpuIndex` is omitted. QEMU answers `GenericError` unless it runs on KVM with
   * `-accel kvm,dirty-ring-size=N` (never under TCG), and while a `dirty-limit` migration runs.
   * @param dirtyRateMBps megabytes (10^6) per second per vCPU.
   */
  async setVcpuDirtyLimit(dirtyRateMBps: number, opts: { readonly cpuIndex?: number } = {}): Promise<void> {
    await this.requireCommand('set-vcpu-dirty-limit');
    const args: Record<string, unknown> = { 'dirty-rate': dirtyRateMBps };
    if (opts.cpuIndex !== undefined) args['cpu-index'] = opts.cpuIndex;
    await this.execute('set-vcpu-dirty-limit', args);
  }

  /** `cancel-vcpu-dirty-limit` (7.1+). */
  async cancelVcpuDirtyLimit(opts: { readonly cpuIndex?: number } = {}): Promise<void> {
    await this.requireCommand('cancel-vcpu-dirty-limit');
    await this.execute('cancel-vcpu-dirty-limit', opts.cpuIndex === undefined ? undefined : { 'cpu-index': opts.cpuIndex });
  }

  /** `query-vcpu-dirty-limit` (7.1+): per-vCPU limit and current rate, MB/s. */
  async queryVcpuDirtyLimit(): Promise<DirtyLimitInfo[]> {
    await this.requireCommand('query-vcpu-dirty-limit');
    const list = expectArray('query-vcpu-dirty-limit', await this.execute('query-vcpu-dirty-limit'), this.endpoint);
    return list.filter(isJsonObject) as unknown as DirtyLimitInfo[];
  }

  private async requireCommand(name: string): Promise<void> {
    if (!(await this.hasCommand(name))) throw new QmpUnsupportedError(name, this.qemuVersion);
  }
}

function expectObject(command: string, v: unknown, endpoint: string): JsonObject {
  if (!isJsonObject(v)) throw new QmpProtocolError(endpoint, `${command} returned ${JSON.stringify(v)}, not an object`);
  return v;
}

function expectArray(command: string, v: unknown, endpoint: string): readonly unknown[] {
  if (!Array.isArray(v)) throw new QmpProtocolError(endpoint, `${command} returned ${JSON.stringify(v)}, not an array`);
  return v;
}
