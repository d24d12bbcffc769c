import { SimDevice, VirtualClock, type SimArcEvent, type SimDeviceOptions } from '../../src/sim/index.js';

/** A device on a fresh clock, with its arcs collected. */
export function rig(options: Partial<SimDeviceOptions> = {}): { clock: VirtualClock; dev: SimDevice; arcs: SimArcEvent[] } {
  const clock = (options.clock as VirtualClock | undefined) ?? new VirtualClock();
  const dev = new SimDevice({ id: 'dev0', profile: 'mlx5-cx7', rng: 1, ...options, clock });
  const arcs: SimArcEvent[] = [];
  dev.arcs$.subscribe((e) => arcs.push(e));
  return { clock, dev, arcs };
}

/** `"FROM>TO"` keys of recorded arcs. */
export function keys(arcs: readonly SimArcEvent[]): string[] {
  const names = ['ERROR', 'STOP', 'RUNNING', 'STOP_COPY', 'RESUMING', 'RUNNING_P2P', 'PRE_COPY', 'PRE_COPY_P2P'];
  return arcs.map((a) => `${names[a.from]}>${names[a.to]}`);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
