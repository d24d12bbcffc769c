/**
 * A one-line progress bar on stderr, for long CLI commands (import, report, export). It draws
 * only on a terminal: when stderr is not a TTY, or `CI` is set to `true`/`1`, it stays silent
 * so logs and pipes get no control characters.
 */

/** A progress display; all methods are no-ops when quiet. */
export interface Progress {
  /** Sets the amount done (same unit as `total`). Redraws at most every `intervalMs`. */
  update(done: number, total?: number): void;
  /** Erases the bar (call before printing the result). */
  finish(): void;
  /** Whether anything is drawn at all. */
  readonly active: boolean;
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  readonly label: string;
  readonly total: number;
  /** `bytes` shows MB, `items` plain counts. Default `items`. */
  readonly unit?: 'bytes' | 'items';
  /** Minimum time between redraws, ms. Default 100. */
  readonly intervalMs?: number;
  /** Clock for throttling (ms). Default `Date.now`. */
  readonly now?: () => number;
}

const BAR_WIDTH = 24;

/** True when a progress bar may be drawn on `stream` in `env`. */
export function progressAllowed(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  const ci = env['CI'];
  return stream.isTTY === true && ci !== 'true' && ci !== '1';
}

function amount(n: number, unit: 'bytes' | 'items'): string {
  return unit === 'bytes' ? `${(n / 1e6).toFixed(1)} MB` : n.toLocaleString('en-US');
}

/** Renders one frame: `label [#######.....]  42% 12.0/28.6 MB`. Pure, for tests. */
export function renderProgress(label: string, done: number, total: number, unit: 'bytes' | 'items' = 'items'): string {
  const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const filled = Math.round(fraction * BAR_WIDTH);
  const pct = `${Math.floor(fraction * 100)}%`.padStart(4);
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${pct} ${amount(done, unit)}/${amount(total, unit)}`;
}

/** A progress bar on `stream` (normally stderr), silent unless {@link progressAllowed}. */
export function createProgress(stream: NodeJS.WritableStream & { isTTY?: boolean }, env: NodeJS.ProcessEnv, options: ProgressOptions): Progress {
  const active = progressAllowed(stream, env);
  const now = options.now ?? Date.now;
  const interval = options.intervalMs ?? 100;
  const unit = options.unit ?? 'items';
  let total = options.total;
  let last = Number.NEGATIVE_INFINITY;
  let drawn = false;
  return {
    active,
    update(done, newTotal) {
      if (!active) return;
      if (newTotal !== undefined) total = newTotal;
      const t = now();
      if (t - last < interval && done < total) return;
      last = t;
      drawn = true;
      stream.write(`\r\x1b[2K${renderProgress(options.label, done, total, unit)}`);
    },
    finish() {
      if (active && drawn) stream.write('\r\x1b[2K');
      drawn = false;
    },
  };
}
