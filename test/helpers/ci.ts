/**
 * Whether the tests run under CI, for real-component tests: under CI a missing tool (QEMU,
 * Chromium, a C compiler, the shared dataset) fails the test; outside CI the test skips with a
 * line saying what to install. `CI` counts when it is set to anything but "", "false" or "0"
 * (CI services set `true` or `1`; `CI=false` and `CI=0` are how people switch it off).
 */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = (env['CI'] ?? '').trim().toLowerCase();
  return ci !== '' && ci !== 'false' && ci !== '0';
}

/**
 * Skip-or-fail for a real-component test: true (skip) when the tool is missing outside CI, in
 * which case it prints `<what> skipped (CI is not set): <missing>` once; false when the tool is
 * there or CI is set (so a missing tool fails the test that needs it).
 */
export function skipWithout(present: boolean, what: string, missing: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const skip = !present && !inCi(env);
  if (skip) console.warn(`${what} skipped (CI is not set): ${missing}`);
  return skip;
}
