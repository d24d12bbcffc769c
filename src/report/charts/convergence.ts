/**
 * Pre-copy convergence of chosen migrations: guest RAM still to send at each pass, and the
 * convergence ratio ρ = dirty rate / pre-copy bandwidth per pass (ρ ≥ 1: waiting does not help).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { PrecopyRound } from '../../estimators/rounds.js';
import { BYTES_PER_MB } from '../stats-tables.js';

/** The rounds of one migration. */
export interface MigrationRounds {
  readonly migrationId: string;
  readonly rounds: readonly PrecopyRound[];
}

/** The two-panel convergence chart (remaining RAM above, ρ below), one colour per migration. */
export function convergenceSpec(migrations: readonly MigrationRounds[]): TopLevelSpec {
  const rows = migrations.flatMap((m, i) =>
    m.rounds.map((r) => ({
      migration: m.migrationId,
      pass: r.pass,
      remainingMB: r.remainingBytes / BYTES_PER_MB,
      rho: Number.isFinite(r.rho) ? r.rho : null,
      strokePx: [8, 5.5, 3][i] ?? 1.5,
      dash: i < 2 ? [1, 0] : i === 2 ? [7, 3] : [2, 2],
    })),
  );
  const x = { field: 'pass', type: 'quantitative', title: 'pre-copy pass (QEMU dirty-sync-count)', axis: { tickMinStep: 1, format: 'd' } } as const;
  const color = { field: 'migration', type: 'nominal', title: 'migration', legend: { labelLimit: 600 } } as const;
  // Migrations often share their first passes: drawn with the same width, a later line hides an
  // earlier one. Widest first, each narrower, the narrow ones dashed, each with its own point
  // shape: every one shows.
  const ids = migrations.map((m) => m.migrationId);
  const strokeWidth = { field: 'strokePx', type: 'quantitative', scale: null, legend: null } as const;
  const strokeDash = { field: 'dash', type: 'nominal', scale: null, legend: null } as const;
  const shape = { field: 'migration', type: 'nominal', title: 'migration', scale: { domain: ids, range: ['circle', 'square', 'triangle-up', 'diamond', 'cross', 'triangle-down'] } } as const;
  const encoding = { x, color, strokeWidth, strokeDash, shape } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Pre-copy convergence of chosen migrations',
      subtitle: [
        'Guest RAM still to send at the start of each pass (passes with nothing left are not drawn), and',
        'ρ = dirty rate / pre-copy bandwidth per pass (dashed: ρ = 1, the guest dirties as fast as pre-copy sends).',
      ],
    },
    data: { values: rows },
    vconcat: [
      {
        width: 620,
        height: 200,
        mark: { type: 'line', point: { filled: true, size: 40 }, opacity: 0.85 },
        // Log scale: a converging pre-copy (remaining × ρ per pass) is a straight falling line.
        transform: [{ filter: 'datum.remainingMB > 0' }],
        encoding: { ...encoding, y: { field: 'remainingMB', type: 'quantitative', title: 'RAM remaining (MB, log scale)', scale: { type: 'log' } } },
      },
      {
        width: 620,
        height: 150,
        layer: [
          {
            mark: { type: 'line', point: { filled: true, size: 40 }, opacity: 0.85 },
            transform: [{ filter: 'datum.rho !== null' }],
            encoding: { ...encoding, y: { field: 'rho', type: 'quantitative', title: 'ρ = dirty rate / bandwidth' } },
          },
          { data: { values: [{ one: 1 }] }, mark: { type: 'rule', strokeDash: [6, 4], color: '#b00' }, encoding: { y: { field: 'one', type: 'quantitative' } } },
        ],
      },
    ],
  };
}
