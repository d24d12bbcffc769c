/**
 * `VfioDevice`: a {@link MigrationDevice} over the real kernel uAPI, through `vfio-helper`
 * (vfio-helper-client.ts). `setState` is one `VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE` SET — the
 * kernel may step several arcs inside it (`vfio_mig_get_next_state()` in
 * `drivers/vfio/vfio_main.c`), of which userspace sees only the states before and after; every
 * request is kept as a {@link VfioObservation} with the kernel-side time the helper measured.
 *
 * After a failed SET the state is what the kernel reports (the helper reads it back with a GET
 * right after the SET), never a guess: the uAPI lets a driver stop anywhere along the path. When
 * the helper itself is lost (timeout, closed stream) nothing more is known: `getState()` keeps the
 * last state the kernel reported and the error's code says why (ETIMEDOUT, EUNKNOWN for a broken
 * stream).
 *
 * The migration data stream is the helper's: a SET that returns a `data_fd` replaces the one it
 * holds; a SET that returns none keeps it while the new state still carries data. mtty, for one,
 * continues the `PRE_COPY` stream on `PRE_COPY_P2P → STOP_COPY` without a new fd
 * (`mtty_save_device_data()` in `samples/vfio-mdev/mtty.c` returns NULL when a saving file exists),
 * which the uAPI allows ("the same FD ... may continue", `include/uapi/linux/vfio.h` above
 * `VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE`).
 */
import { isMigState, stateName, type MigFlags, type MigState } from '../fsm/index.js';
import { DeviceError, deviceErrno } from '../device/errors.js';
import type { MigrationDevice, PrecopyInfo } from '../device/types.js';
import { HelperError, replyNumber, replyString, type HelperReply, type VfioHelperClient } from './vfio-helper-client.js';

/** One request as the helper saw it. */
export interface VfioObservation {
  readonly op: 'set' | 'get' | 'size' | 'precopy' | 'read' | 'write' | 'reset';
  /** State before the request (for `set`: the kernel's GET right before). */
  readonly before: MigState;
  /** State after it, as the kernel reports it. */
  readonly after: MigState;
  /** `set`: the requested state. */
  readonly target?: MigState;
  readonly ok: boolean;
  readonly errno?: string;
  /** Time of the kernel call(s) where the helper runs (CLOCK_MONOTONIC), ms. */
  readonly kernelMs: number;
  /** `set`: whether the kernel returned a new data fd. */
  readonly dataFd?: boolean;
  /** `read`/`write`/`size`: bytes. */
  readonly bytes?: number;
}

export interface VfioDeviceOptions {
  /** Device model key for the estimators, e.g. `mtty`. */
  readonly model: string;
  /** Identifier in telemetry (default: the device name given to `open`). */
  readonly id?: string;
  /** Called with every observation as it happens. */
  readonly observe?: (o: VfioObservation) => void;
}

/** Largest single `read()` the adapter asks for, bytes (the helper's limit). */
export const MAX_READ_BYTES = 1 << 20;

export class VfioDevice implements MigrationDevice {
  private state: MigState;

  private constructor(
    private readonly client: VfioHelperClient,
    private readonly handle: number,
    readonly id: string,
    readonly model: string,
    readonly flags: MigFlags,
    initial: MigState,
    private readonly observe: ((o: VfioObservation) => void) | undefined,
  ) {
    this.state = initial;
  }

  /**
   * Opens `dev` (an mdev UUID or the PCI address of a VFIO-bound function) through the group and
   * container API. Changes no device state. Rejects with a {@link HelperError}: EBUSY when the
   * device is in use, ENOTTY/EOPNOTSUPP when it has no migration support, ENOENT when no such
   * device is bound to VFIO.
   */
  static async open(client: VfioHelperClient, dev: string, options: VfioDeviceOptions): Promise<VfioDevice> {
    const id = options.id ?? dev;
    // A failed open is the helper's HelperError (errno and message): there is no device state yet.
    const opened = await client.request('open', { dev });
    const handle = replyNumber(opened, 'open', 'h');
    const flags = replyNumber(opened, 'open', 'flags');
    const got = await client.request('get', { h: handle });
    const state = replyNumber(got, 'get', 'state');
    if (!isMigState(state)) throw new HelperError('EPROTO', 'get', got, `not a migration state: ${state}`);
    return new VfioDevice(client, handle, id, options.model, flags, state, options.observe);
  }

  /** The state the kernel last reported. */
  getState(): MigState {
    return this.state;
  }

  /** MIG_DEVICE_STATE GET now; updates {@link getState}. */
  async refreshState(): Promise<MigState> {
    const r = await this.call('get', {}, 'get');
    this.state = this.stateField(r, 'state');
    this.note({ op: 'get', before: this.state, after: this.state, ok: true, kernelMs: r.ns / 1e6 });
    return this.state;
  }

  async setState(next: MigState): Promise<void> {
    const operation = `SET ${stateName(next)}`;
    try {
      const r = await this.client.request('set', { h: this.handle, state: next });
      const before = this.stateField(r, 'before');
      this.state = this.stateField(r, 'state');
      this.note({ op: 'set', before, after: this.state, target: next, ok: true, kernelMs: r.ns / 1e6, dataFd: r['dataFd'] === true });
    } catch (e) {
      if (e instanceof HelperError && e.reply !== null) {
        const before = this.stateField(e.reply, 'before', this.state);
        this.state = this.stateField(e.reply, 'state', this.state);
        this.note({ op: 'set', before, after: this.state, target: next, ok: false, errno: e.code, kernelMs: e.reply.ns / 1e6 });
      }
      throw asDeviceError(e, this.id, operation, this.state);
    }
  }

  async stopCopyBytes(): Promise<number> {
    const r = await this.call('size', {}, 'MIG_DATA_SIZE');
    const bytes = replyNumber(r, 'size', 'bytes');
    this.note({ op: 'size', before: this.state, after: this.state, ok: true, kernelMs: r.ns / 1e6, bytes });
    return bytes;
  }

  async precopyInfo(): Promise<PrecopyInfo> {
    const r = await this.call('precopy', {}, 'PRECOPY_INFO');
    this.note({ op: 'precopy', before: this.state, after: this.state, ok: true, kernelMs: r.ns / 1e6 });
    return { initialBytes: replyNumber(r, 'precopy', 'initialBytes'), dirtyBytes: replyNumber(r, 'precopy', 'dirtyBytes') };
  }

  /** One `read()` of the migration data fd: up to `maxBytes`; empty at the end of the stream. */
  async readData(maxBytes = 64 * 1024): Promise<Buffer> {
    const r = await this.call('read', { max: Math.min(maxBytes, MAX_READ_BYTES) }, 'read data fd');
    const data = Buffer.from(replyString(r, 'read', 'hex'), 'hex');
    this.note({ op: 'read', before: this.state, after: this.state, ok: true, kernelMs: r.ns / 1e6, bytes: data.length });
    return data;
  }

  /** Reads the data fd until a `read()` returns nothing; the concatenated stream. */
  async readToEnd(chunkBytes = 64 * 1024): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (;;) {
      const b = await this.readData(chunkBytes);
      if (b.length === 0) return Buffer.concat(parts);
      parts.push(b);
    }
  }

  /** Writes `data` to the RESUMING data fd (one `write()` per chunk); bytes written. */
  async writeData(data: Buffer, chunkBytes = 64 * 1024): Promise<number> {
    let written = 0;
    while (written < data.length) {
      const chunk = data.subarray(written, written + chunkBytes);
      const r = await this.call('write', { hex: chunk.toString('hex') }, 'write data fd');
      const n = replyNumber(r, 'write', 'bytes');
      this.note({ op: 'write', before: this.state, after: this.state, ok: true, kernelMs: r.ns / 1e6, bytes: n });
      if (n <= 0) throw new DeviceError('EIO', this.id, 'write data fd', this.state, `write() accepted ${n} bytes`);
      written += n;
    }
    return written;
  }

  /** `VFIO_DEVICE_RESET`: the way out of ERROR (the device returns to RUNNING). */
  async reset(): Promise<MigState> {
    const before = this.state;
    const r = await this.call('reset', {}, 'VFIO_DEVICE_RESET');
    this.state = this.stateField(r, 'state');
    this.note({ op: 'reset', before, after: this.state, ok: true, kernelMs: r.ns / 1e6 });
    return this.state;
  }

  /** BAR0 bytes at `offset` (one access per byte; mtty's UART registers). */
  async readBar0(offset: number, count: number): Promise<Buffer> {
    const r = await this.call('bar0read', { offset, count }, 'BAR0 read');
    return Buffer.from(replyString(r, 'bar0read', 'hex'), 'hex');
  }

  async writeBar0(offset: number, data: Buffer): Promise<void> {
    await this.call('bar0write', { offset, hex: data.toString('hex') }, 'BAR0 write');
  }

  /** Closes the device fd (the kernel then releases the device). */
  async close(): Promise<void> {
    await this.client.request('close', { h: this.handle });
  }

  private async call(op: string, params: Readonly<Record<string, string | number>>, operation: string): Promise<HelperReply> {
    try {
      return await this.client.request(op, { h: this.handle, ...params });
    } catch (e) {
      throw asDeviceError(e, this.id, operation, this.state);
    }
  }

  private stateField(r: HelperReply, key: string, fallback?: MigState): MigState {
    const v = r[key];
    if (isMigState(v)) return v;
    if (fallback !== undefined) return fallback;
    throw new HelperError('EPROTO', 'set', r, `reply without a migration state "${key}"`);
  }

  private note(o: VfioObservation): void {
    this.observe?.(o);
  }
}

function asDeviceError(e: unknown, id: string, operation: string, stateAfter: MigState): Error {
  if (e instanceof DeviceError) return e;
  if (e instanceof HelperError) {
    const err = new DeviceError(deviceErrno(e.code), id, operation, stateAfter, e.message);
    return Object.assign(err, { cause: e });
  }
  return e instanceof Error ? e : new Error(String(e));
}
