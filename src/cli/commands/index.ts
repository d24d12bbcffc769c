import type { Command } from '../command.js';
import { evalCommand } from './eval.js';
import { fitCommand } from './fit.js';
import { importCommand } from './import.js';
import { serveCommand } from './serve.js';

/** Every sub-command, in the order `vfio-sla --help` lists them. */
export const COMMANDS: readonly Command[] = [importCommand, fitCommand, evalCommand, serveCommand];
