/**
 * `vfio-sla probe` without the CLI: reach a `vfio-helper` (a child process on this host, or a
 * unix socket such as a test guest's virtio-serial port), open the device and its loopback
 * destination, refuse what cannot be probed without touching it, run the cycles into the store.
 */
import { connect } from 'node:net';
import { HelperError, VfioHelperClient } from '../../vfio/vfio-helper-client.js';
import { VfioDevice, type VfioObservation } from '../../vfio/vfio-device.js';
import { MigState, flagsName, stateName } from '../../fsm/index.js';
import type { FittedModel } from '../../estimators/types.js';
import { DEFAULT_PRIORS_FILE, loadModel } from '../../files/model-file.js';
import { openStore } from '../../store/store.js';
import { RecordingPipeline } from '../../telemetry/pipeline.js';
import type { CycleResult } from './loopback-migration.js';
import { runProbe, withKernelTimes, type ProbeReport } from './probe.js';
import { fsmConformance, type ConformanceRow } from './fsm-conformance.js';

/** How to reach the helper. */
export type HelperEndpoint = { readonly command: string; readonly args?: readonly string[] } | { readonly socket: string };

export interface ProbeSessionOptions {
  readonly helper: HelperEndpoint;
  /** The device to probe: an mdev UUID or the PCI address of a VFIO-bound function. */
  readonly device: string;
  /** The loopback destination: a second instance of the same device model. */
  readonly destination: string;
  /** Device model key the records and the model use. */
  readonly deviceModel: string;
  readonly cycles: number;
  readonly deadlineMs: number;
  readonly dbPath: string;
  readonly priors: FittedModel;
  readonly priorFrom?: string;
  readonly onCycle?: (r: CycleResult, index: number) => void;
  /** After the cycles, check the kernel's FSM on the device against `planPath` (every pair). */
  readonly conformance?: boolean;
}

/** A probe's report, with the FSM conformance rows when asked for. */
export interface ProbeSessionReport extends ProbeReport {
  readonly conformance?: readonly ConformanceRow[];
}

/**
 * - `E_DEVICE_UNAVAILABLE`: the device cannot be probed (in use: EBUSY; no migration support:
 *   ENOTTY/EOPNOTSUPP; no such device: ENOENT; not RUNNING; flags differ from the destination's).
 *   Nothing was changed.
 * - `E_HELPER`: the helper could not be reached.
 */
export class ProbeError extends Error {
  constructor(
    readonly code: 'E_DEVICE_UNAVAILABLE' | 'E_HELPER',
    message: string,
    readonly errno?: string,
  ) {
    super(message);
    this.name = 'ProbeError';
  }
}

async function reach(endpoint: HelperEndpoint): Promise<VfioHelperClient> {
  if ('socket' in endpoint) {
    const socket = await new Promise<import('node:net').Socket>((resolve, reject) => {
      const s = connect(endpoint.socket);
      s.once('connect', () => resolve(s));
      s.once('error', (e) => reject(new ProbeError('E_HELPER', `cannot connect to the helper at ${endpoint.socket}: ${e.message}`)));
    });
    return new VfioHelperClient(socket);
  }
  const client = VfioHelperClient.spawn(endpoint.command, endpoint.args ?? []);
  try {
    await client.request('hello');
  } catch (e) {
    await client.close();
    throw new ProbeError('E_HELPER', `cannot run the helper '${endpoint.command}': ${(e as Error).message}`);
  }
  return client;
}

function why(errno: string): string {
  switch (errno) {
    case 'EBUSY':
      return 'the device is in use (another process has its VFIO group open)';
    case 'ENOTTY':
    case 'EOPNOTSUPP':
      return 'the device has no VFIO migration support';
    case 'ENOENT':
      return 'no such device bound to VFIO (neither /sys/bus/mdev/devices nor /sys/bus/pci/devices has it with an IOMMU group)';
    default:
      return 'the device could not be opened';
  }
}

async function openChecked(client: VfioHelperClient, dev: string, role: string, model: string, observe: (o: VfioObservation) => void): Promise<VfioDevice> {
  try {
    return await VfioDevice.open(client, dev, { model, id: dev, observe });
  } catch (e) {
    if (e instanceof HelperError) throw new ProbeError('E_DEVICE_UNAVAILABLE', `${role} ${dev}: ${why(e.code)} (${e.message})`, e.code);
    throw e;
  }
}

/** {@link probeSession} with the priors read from a model file (default: the package's priors). */
export function probeDevice(o: Omit<ProbeSessionOptions, 'priors'> & { readonly priors?: string | undefined }): Promise<ProbeSessionReport> {
  const { priors, ...rest } = o;
  return probeSession({ ...rest, priors: loadModel(priors ?? DEFAULT_PRIORS_FILE) });
}

/** Opens both devices, checks them, runs the cycles; closes everything it opened. */
export async function probeSession(o: ProbeSessionOptions): Promise<ProbeSessionReport> {
  const client = await reach(o.helper);
  const opened: VfioDevice[] = [];
  // The governor requests one arc at a time, so a successful SET's kernel time is its arc's.
  const kernelMs = new Map<string, number[]>();
  const observe = (x: VfioObservation): void => {
    if (x.op !== 'set' || !x.ok || x.target === undefined) return;
    const arc = `${stateName(x.before)}>${stateName(x.target)}`;
    kernelMs.set(arc, [...(kernelMs.get(arc) ?? []), x.kernelMs]);
  };
  try {
    const source = await openChecked(client, o.device, 'device', o.deviceModel, observe);
    opened.push(source);
    const destination = await openChecked(client, o.destination, 'destination', o.deviceModel, observe);
    opened.push(destination);
    for (const d of opened) {
      if (d.getState() !== MigState.RUNNING) {
        throw new ProbeError('E_DEVICE_UNAVAILABLE', `${d.id} is in ${stateName(d.getState())}, not RUNNING: something else is migrating it`);
      }
    }
    if (source.flags !== destination.flags) {
      throw new ProbeError('E_DEVICE_UNAVAILABLE', `the destination's migration flags (${flagsName(destination.flags)}) differ from the device's (${flagsName(source.flags)}): not the same device model`);
    }
    const store = openStore(o.dbPath);
    const pipeline = new RecordingPipeline(store);
    try {
      const report = await runProbe(source, destination, {
        cycles: o.cycles,
        deadlineMs: o.deadlineMs,
        store,
        pipeline,
        priors: o.priors,
        ...(o.priorFrom === undefined ? {} : { priorFrom: o.priorFrom }),
        ...(o.onCycle === undefined ? {} : { onCycle: o.onCycle }),
      });
      const withTimes = { ...report, arcs: withKernelTimes(report.arcs, kernelMs) };
      if (o.conformance !== true) return withTimes;
      // A complete stream for the RESUMING rows, from the destination (which holds the device's state now).
      await destination.setState(MigState.STOP_COPY);
      const stream = await destination.readToEnd();
      await destination.setState(MigState.STOP);
      await destination.setState(MigState.RUNNING);
      return { ...withTimes, conformance: await fsmConformance(source, stream) };
    } finally {
      await pipeline.flush();
      await pipeline.close();
      store.close();
    }
  } finally {
    for (const d of opened) await d.close().catch(() => undefined);
    await client.close();
  }
}
