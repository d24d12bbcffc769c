/**
 * One QEMU child process of the harness: its serial console (stdout) and stderr kept in memory,
 * a wait for a console marker that fails fast if QEMU exits, and a kill that escalates from
 * SIGTERM to SIGKILL. Every live QEMU is also SIGKILLed when the test process exits, so a
 * crashed test leaves no guest behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** Keeps the last `maxChars` of a stream. */
const MAX_LOG_CHARS = 256 * 1024;

export interface QemuExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class QemuProcess {
  readonly startedAtMs = performance.now();
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<QemuExit>;
  private consoleText = '';
  private stderrText = '';
  private exitInfo: QemuExit | undefined;
  private readonly consoleListeners = new Set<() => void>();

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    live.add(child);
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (s: string) => {
      this.consoleText = (this.consoleText + s).slice(-MAX_LOG_CHARS);
      for (const l of this.consoleListeners) l();
    });
    child.stderr?.on('data', (s: string) => {
      this.stderrText = (this.stderrText + s).slice(-MAX_LOG_CHARS);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        this.exitInfo = { code, signal };
        for (const l of this.consoleListeners) l();
        resolve(this.exitInfo);
      });
      child.once('error', (e) => {
        live.delete(child);
        this.stderrText += `\nspawn failed: ${e.message}`;
        this.exitInfo = { code: null, signal: null };
        for (const l of this.consoleListeners) l();
        resolve(this.exitInfo);
      });
    });
  }

  static spawn(name: string, binary: string, args: readonly string[]): QemuProcess {
    installExitHook();
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    return new QemuProcess(name, child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get console(): string {
    return this.consoleText;
  }

  get stderr(): string {
    return this.stderrText;
  }

  get exit(): QemuExit | undefined {
    return this.exitInfo;
  }

  /** A short account for error messages: exit status, stderr tail, console tail. */
  describe(): string {
    const exit = this.exitInfo === undefined ? 'running' : `exited (code ${this.exitInfo.code}, signal ${this.exitInfo.signal})`;
    return `${this.name} QEMU pid ${this.pid} ${exit}\n--- stderr ---\n${this.stderrText.slice(-2000)}\n--- console ---\n${this.consoleText.slice(-2000)}`;
  }

  /**
   * Resolves with the ms from spawn to the first console output containing `marker`; rejects
   * if QEMU exits first or `timeoutMs` passes.
   */
  waitForConsole(marker: string, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.consoleText.includes(marker)) {
          done();
          resolve(performance.now() - this.startedAtMs);
        } else if (this.exitInfo !== undefined) {
          done();
          reject(new Error(`waiting for "${marker}": ${this.describe()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no "${marker}" within ${timeoutMs} ms: ${this.describe()}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.consoleListeners.delete(check);
      };
      this.consoleListeners.add(check);
      check();
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async kill(graceMs = 3000): Promise<QemuExit> {
    if (this.exitInfo !== undefined) return this.exitInfo;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}
