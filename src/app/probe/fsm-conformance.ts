/**
 * The FSM against a live kernel: for every (current, target) pair of a device's flag set, put the
 * device in `current`, request `target` once, and compare the kernel's answer (errno and the
 * state it reports afterwards) with what `planPath` predicts — a path ending in `target`, or
 * `EINVAL` with the device left where it was (`vfio_mig_get_next_state()` in
 * `drivers/vfio/vfio_main.c` rejects before any arc runs). Where they differ the kernel is right.
 *
 * A device is brought to `current` from RUNNING (after `VFIO_DEVICE_RESET`, "return the
 * device_state back to RUNNING", `include/uapi/linux/vfio.h`); ERROR cannot be requested, so it
 * is never a `current`. RESUMING gets a complete stream (`resumeStream`) written first, so that
 * arcs leaving it test the FSM and not the driver's refusal of an empty stream (mtty's
 * `mtty_load_state()` fails `RESUMING → STOP` with EINVAL on a short stream).
 */
import { ALL_STATES, FsmError, MigState, isStateSupported, planPath, stateName, type MigFlags } from '../../fsm/index.js';
import { DeviceError } from '../../device/index.js';

/** What a conformance run needs of a device: the uAPI calls plus reset and the data fd. */
export interface ConformanceDevice {
  readonly id: string;
  readonly flags: MigFlags;
  getState(): MigState;
  setState(next: MigState): Promise<void>;
  reset(): Promise<MigState>;
  writeData(data: Buffer): Promise<number>;
}

/** One answer: the request succeeded, or failed with `errno`; `state` is where the device is after it. */
export interface SetAnswer {
  readonly ok: boolean;
  readonly errno?: string;
  readonly state: MigState;
}

export interface ConformanceRow {
  readonly from: MigState;
  readonly target: MigState;
  readonly expected: SetAnswer;
  readonly kernel: SetAnswer;
  readonly agrees: boolean;
}

/** What `planPath` says a request does on a real device: reach the target, or EINVAL in place. */
export function expectedAnswer(from: MigState, target: MigState, flags: MigFlags): SetAnswer {
  try {
    const path = planPath(from, target, flags);
    return { ok: true, state: path.at(-1) ?? from };
  } catch (e) {
    if (e instanceof FsmError) return { ok: false, errno: 'EINVAL', state: from };
    throw e;
  }
}

async function answer(device: ConformanceDevice, target: MigState): Promise<SetAnswer> {
  try {
    await device.setState(target);
    return { ok: true, state: device.getState() };
  } catch (e) {
    if (!(e instanceof DeviceError)) throw e;
    return { ok: false, errno: e.code, state: e.stateAfter };
  }
}

/** Puts the device in `state` from a reset; throws when the kernel does not get it there. */
async function bringTo(device: ConformanceDevice, state: MigState, resumeStream: Buffer): Promise<void> {
  await device.reset();
  if (state === MigState.RESUMING) {
    await device.setState(MigState.STOP);
    await device.setState(MigState.RESUMING);
    await device.writeData(resumeStream);
  } else if (state !== MigState.RUNNING) {
    await device.setState(state);
  }
  if (device.getState() !== state) {
    throw new Error(`conformance: device ${device.id} reports ${stateName(device.getState())} after being set to ${stateName(state)}`);
  }
}

/** Runs every pair; the device ends reset (RUNNING). */
export async function fsmConformance(device: ConformanceDevice, resumeStream: Buffer): Promise<ConformanceRow[]> {
  const states = ALL_STATES.filter((s) => isStateSupported(s, device.flags));
  const rows: ConformanceRow[] = [];
  for (const from of states.filter((s) => s !== MigState.ERROR)) {
    for (const target of ALL_STATES) {
      await bringTo(device, from, resumeStream);
      const expected = expectedAnswer(from, target, device.flags);
      const kernel = await answer(device, target);
      const agrees = expected.ok === kernel.ok && expected.state === kernel.state && (expected.errno ?? '') === (kernel.errno ?? '');
      rows.push({ from, target, expected, kernel, agrees });
    }
  }
  await device.reset();
  return rows;
}

function cell(a: SetAnswer): string {
  return a.ok ? stateName(a.state) : `${a.errno ?? '?'} (${stateName(a.state)})`;
}

/** A matrix, one row per current state, one column per target: the kernel's answer, `!` where the FSM differs. */
export function conformanceTable(rows: readonly ConformanceRow[]): string {
  const targets = [...new Set(rows.map((r) => r.target))];
  const froms = [...new Set(rows.map((r) => r.from))];
  const head = `| from \\ to | ${targets.map((t) => stateName(t)).join(' | ')} |`;
  const rule = `|---|${targets.map(() => '---').join('|')}|`;
  const lines = froms.map((f) => {
    const cells = targets.map((t) => {
      const r = rows.find((x) => x.from === f && x.target === t);
      if (r === undefined) return '';
      return r.agrees ? cell(r.kernel) : `! kernel ${cell(r.kernel)}, FSM ${cell(r.expected)}`;
    });
    return `| ${stateName(f)} | ${cells.join(' | ')} |`;
  });
  return [head, rule, ...lines].join('\n');
}
