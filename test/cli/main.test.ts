import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { closest } from '../../src/cli/did-you-mean.js';
import { runCli } from '../../src/cli/main.js';
import { captureIo } from './io.js';

const VERSION = (JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;

describe('vfio-sla', () => {
  it.each(['--version', '-V', '-v'])("prints package.json's version for %s", async (flag) => {
    const io = captureIo('/tmp');
    expect(await runCli([flag], io)).toBe(0);
    expect(io.out()).toBe(`${VERSION}\n`);
  });

  it('suggests the command a mistyped one was meant to be', async () => {
    const io = captureIo('/tmp');
    expect(await runCli(['stast'], io)).toBe(2);
    expect(io.err()).toMatch(/^vfio-sla: unknown command 'stast' \(did you mean 'stats'\?\)\n/);
  });

  it.each([
    [['demo', '--seeds', '3'], "Unknown option '--seeds' (did you mean '--seed'?)"],
    [['watch', '--qmp', 'x', '--drvie'], "Unknown option '--drvie' (did you mean '--drive'?)"],
    [['stats', '--sinec', '7d'], "Unknown option '--sinec' (did you mean '--since'?)"],
  ])('suggests the option a mistyped one was meant to be: %j', async (argv, message) => {
    const io = captureIo('/tmp');
    expect(await runCli(argv, io)).toBe(2);
    expect(io.err()).toContain(message);
  });
});

describe('closest', () => {
  it.each([
    ['stast', 'stats'],
    ['improt', 'import'],
    ['rep', 'report'],
    ['xyz', undefined],
    ['w', undefined],
  ])('%s → %s', (word, expected) => {
    expect(closest(word, ['demo', 'eval', 'export', 'fit', 'import', 'report', 'serve', 'stats', 'tune', 'watch'])).toBe(expected);
  });
});
