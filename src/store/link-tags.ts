/**
 * Tagging stored transfers with the link they crossed, after the fact: `vfio-sla import --link`
 * for files whose records do not say (QEMU's QMP logs never name the NIC). Only transfers with
 * no link yet are tagged — a link a record carried itself is never overwritten — so tagging is
 * idempotent and safe to repeat on a re-import.
 */
import type { Store } from './store.js';

/**
 * Sets `link` on every transfer without one of the migrations whose first record came from one
 * of `files` (the `migrations.source_file` the importer stored), in one transaction. Returns the
 * number of transfers tagged.
 */
export function tagTransferLinks(store: Store, files: readonly string[], link: string): number {
  const tag = store.db.prepare(
    `UPDATE transfers SET link = ?
      WHERE link IS NULL AND migration_ref IN (SELECT id FROM migrations WHERE source_file = ?)`,
  );
  return store.db.transaction((): number => {
    let tagged = 0;
    for (const file of files) tagged += tag.run(link, file).changes;
    return tagged;
  }).immediate();
}
