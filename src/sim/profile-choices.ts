/** Sources of simulator arc costs nobody published, shared by every profile file. */
export const CHOICE_QUIESCE = 'choice: P2P quiesce/unquiesce is a short device command; nobody published its cost';
export const CHOICE_SESSION = 'choice: opening or closing a data session costs a few ms; not published';
export const CHOICE_NO_P2P = 'choice: only with P2P masked off by the flags option; the sum of the two arcs it replaces';
