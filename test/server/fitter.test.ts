import { describe, expect, it } from 'vitest';
import { workerExecArgv } from '../../src/server/fitter.js';

describe('workerExecArgv', () => {
  it('drops the parent entry flags and their values, in both spellings', () => {
    expect(workerExecArgv(['--input-type=module', '-e', 'import "x"'])).toEqual([]);
    expect(workerExecArgv(['--input-type', 'module', '--eval', 'code', '--enable-source-maps'])).toEqual(['--enable-source-maps']);
    expect(workerExecArgv(['-p', '1 + 1'])).toEqual([]);
    expect(workerExecArgv(['--print=1', '--eval=2'])).toEqual([]);
  });

  it('keeps loaders and other options, in order', () => {
    expect(workerExecArgv(['--import', 'tsx', '--max-old-space-size=512', '--input-type=module', '-e', 's', '--no-warnings'])).toEqual(['--import', 'tsx', '--max-old-space-size=512', '--no-warnings']);
  });
});
