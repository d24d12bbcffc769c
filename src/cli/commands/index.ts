import type { Command } from '../command.js';
import { demoCommand } from './demo.js';
import { evalCommand } from './eval.js';
import { exportCommand } from './export.js';
import { fitCommand } from './fit.js';
import { importCommand } from './import.js';
import { probeCommand } from './probe.js';
import { reportCommand } from './report.js';
import { serveCommand } from './serve.js';
import { statsCommand } from './stats.js';
import { tuneCommand } from './tune.js';
import { watchCommand } from './watch.js';

/** Every sub-command, in the order `vfio-sla --help` lists them. */
export const COMMANDS: readonly Command[] = [demoCommand, importCommand, fitCommand, evalCommand, statsCommand, reportCommand, exportCommand, serveCommand, watchCommand, tuneCommand, probeCommand];
