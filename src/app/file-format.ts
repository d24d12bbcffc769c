/**
 * Which of the three import formats a file is, from its first bytes:
 * - `qmp-polls`: a JSON array of `query-migrate` polls (QMP form 2 of design.md "QMP logs");
 * - `records`: our JSON-lines telemetry records (lines with `"kind"`);
 * - `qmp-wire`: a QMP wire log, JSON lines of replies `{"return"...}`, events `{"event"...}`
 *   and the greeting `{"QMP"...}` (QMP form 1).
 */

/** The formats `vfio-sla import` reads. */
export type ImportFormat = 'records' | 'qmp-wire' | 'qmp-polls';

/** Lines looked at before defaulting to `records`. */
const SNIFF_LINES = 50;
const RECORD_HINT = /"kind"\s*:/;
const QMP_HINT = /"(return|event|QMP)"\s*:/;

/**
 * Detects the format from the start of a file (a few KiB are enough). The first line with a
 * hint decides; a file without any (say, only bad lines) is read as `records`, so every line
 * is reported with its file:line.
 */
export function detectFormat(head: string): ImportFormat {
  const text = head.trimStart();
  if (text.startsWith('[')) return 'qmp-polls';
  const lines = text.split('\n', SNIFF_LINES);
  for (const line of lines) {
    if (RECORD_HINT.test(line)) return 'records';
    if (QMP_HINT.test(line)) return 'qmp-wire';
  }
  return 'records';
}
