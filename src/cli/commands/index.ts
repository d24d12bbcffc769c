import type { Command } from '../command.js';

/** Every sub-command, in the order `vfio-sla --help` lists them. */
export const COMMANDS: readonly Command[] = [];
