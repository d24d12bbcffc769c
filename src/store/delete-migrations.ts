/**
 * Deleting the migrations whose id starts with a prefix, and everything recorded about them.
 * For a run that replaces its own earlier output (`vfio-sla demo` re-run with the same seed:
 * its simulated records carry the new run's wall time, so they would not be duplicates of the
 * old ones but a second copy). Device models and rejects stay: they are not per migration.
 */
import type Database from 'better-sqlite3';

/** Tables with a `migration_ref`, children first. */
const PER_MIGRATION_TABLES = ['arcs', 'sizes', 'transfers', 'ram_progress', 'outcomes', 'attempts', 'devices'] as const;

/** Deletes, in one transaction, the migrations whose id starts with `prefix`; returns how many. */
export function deleteMigrationsByPrefix(db: Database.Database, prefix: string): number {
  if (prefix.length === 0) throw new RangeError('deleteMigrationsByPrefix: an empty prefix would delete every migration');
  // substr, not LIKE: a prefix may hold '%' or '_'.
  const match = 'SELECT id FROM migrations WHERE substr(migration_id, 1, length(@prefix)) = @prefix';
  const statements = PER_MIGRATION_TABLES.map((t) => db.prepare(`DELETE FROM ${t} WHERE migration_ref IN (${match})`));
  const migrations = db.prepare(`DELETE FROM migrations WHERE id IN (${match})`);
  return db.transaction((): number => {
    for (const s of statements) s.run({ prefix });
    return migrations.run({ prefix }).changes;
  }).immediate();
}
