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
  const rows = migrations.flatMap((m) =>
    m.rounds.map((r) => ({ migration: m.migrationId, pass: r.pass, remainingMB: r.remainingBytes / BYTES_PER_MB, rho: Number.isFinite(r.rho) ? r.rho : null })),
  );
  const x = { field: 'pass', type: 'quantitative', title: 'pre-copy pass (QEMU dirty-sync-count)', axis: { tickMinStep: 1, format: 'd' } } as const;
  const color = { field: 'migration', type: 'nominal', title: 'migration', legend: { labelLimit: 600 } } as const;
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
        mark: { type: 'line', point: { filled: true, size: 40 } },
        // Log scale: a converging pre-copy (remaining × ρ per pass) is a straight falling line.
        transform: [{ filter: 'datum.remainingMB > 0' }],
        encoding: { x, y: { field: 'remainingMB', type: 'quantitative', title: 'RAM remaining (MB, log scale)', scale: { type: 'log' } }, color },
      },
      {
        width: 620,
        height: 150,
        layer: [
          {
            mark: { type: 'line', point: { filled: true, size: 40 } },
            transform: [{ filter: 'datum.rho !== null' }],
            encoding: { x, y: { field: 'rho', type: 'quantitative', title: 'ρ = dirty rate / bandwidth' }, color },
          },
          { data: { values: [{ one: 1 }] }, mark: { type: 'rule', strokeDash: [6, 4], color: '#b00' }, encoding: { y: { field: 'one', type: 'quantitative' } } },
        ],
      },
    ],
  };
}
