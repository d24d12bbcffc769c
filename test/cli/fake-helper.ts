/**
 * A stand-in for `vfio-helper` on a unix socket, for CLI tests on machines without the VFIO lab:
 * devices with flags STOP_COPY|P2P|PRE_COPY that follow `planPath`, with an mtty-like stream (a
 * 24-byte header in PRE_COPY, 72 more bytes in STOP_COPY, RESUMING → STOP needing all 96), and an
 * optional quirk that answers one state pair unlike the FSM (as a kernel before the 6.12.96 fix
 * accepted STOP_COPY → PRE_COPY).
 */
import { createServer, type Server } from 'node:net';
import { MigState, planPath } from '../../src/fsm/index.js';

interface FakeDevice {
  state: MigState;
  stream: Buffer;
  readAt: number;
  written: Buffer;
}

export interface FakeHelper {
  readonly server: Server;
  close(): Promise<void>;
}

export async function startFakeHelper(path: string, quirk?: { from: MigState; to: MigState }): Promise<FakeHelper> {
  const devices: FakeDevice[] = [];
  const byName = new Map<string, number>();
  const handle = (req: Record<string, unknown>): Record<string, unknown> => {
    const d = typeof req['h'] === 'number' ? devices[req['h']] : undefined;
    const fail = (errno: string, extra: Record<string, unknown> = {}) => ({ ok: false, errno, message: errno, ...extra });
    switch (req['op']) {
      case 'hello':
        return { ok: true, protocol: 1, kernel: 'fake' };
      case 'open': {
        const name = String(req['dev']);
        if (name.startsWith('missing')) return fail('ENOENT');
        if (byName.has(name)) return fail('EBUSY');
        devices.push({ state: MigState.RUNNING, stream: Buffer.alloc(0), readAt: 0, written: Buffer.alloc(0) });
        byName.set(name, devices.length - 1);
        return { ok: true, h: devices.length - 1, flags: 7 };
      }
      case 'close':
        return { ok: true };
      case 'get':
        return d === undefined ? fail('EBADF') : { ok: true, state: d.state };
      case 'size':
        return { ok: true, bytes: 96 };
      case 'precopy':
        if (d === undefined || (d.state !== MigState.PRE_COPY && d.state !== MigState.PRE_COPY_P2P)) return fail('EINVAL');
        return { ok: true, initialBytes: d.stream.length - d.readAt, dirtyBytes: 0 };
      case 'read': {
        if (d === undefined) return fail('EBADF');
        const chunk = d.stream.subarray(d.readAt, d.readAt + Number(req['max']));
        d.readAt += chunk.length;
        return { ok: true, bytes: chunk.length, hex: chunk.toString('hex') };
      }
      case 'write':
        if (d === undefined) return fail('EBADF');
        d.written = Buffer.concat([d.written, Buffer.from(String(req['hex']), 'hex')]);
        return { ok: true, bytes: String(req['hex']).length / 2 };
      case 'reset':
        if (d === undefined) return fail('EBADF');
        d.state = MigState.RUNNING;
        return { ok: true, state: d.state };
      case 'set': {
        if (d === undefined) return fail('EBADF');
        const before = d.state;
        const to = Number(req['state']) as MigState;
        if (quirk !== undefined && before === quirk.from && to === quirk.to) {
          d.state = to;
          return { ok: true, before, state: to, dataFd: false };
        }
        let path: MigState[];
        try {
          path = planPath(before, to, 7);
        } catch {
          return fail('EINVAL', { before, state: before });
        }
        let dataFd = false;
        for (const next of path) {
          if (d.state === MigState.RESUMING && next === MigState.STOP && d.written.length < 96) return fail('EINVAL', { before, state: d.state });
          if (next === MigState.PRE_COPY || next === MigState.PRE_COPY_P2P) {
            if (d.state === MigState.RUNNING || d.state === MigState.RUNNING_P2P) {
              d.stream = Buffer.alloc(24, 1);
              d.readAt = 0;
              dataFd = true;
            }
          } else if (next === MigState.STOP_COPY) {
            if (d.state === MigState.STOP) {
              d.stream = Buffer.alloc(24, 1);
              d.readAt = 0;
              dataFd = true;
            }
            d.stream = Buffer.concat([d.stream, Buffer.alloc(72, 2)]);
          } else if (next === MigState.RESUMING) {
            d.written = Buffer.alloc(0);
            dataFd = true;
          }
          d.state = next;
        }
        return { ok: true, before, state: d.state, dataFd };
      }
      default:
        return fail('EINVAL');
    }
  };
  const server = createServer((socket) => {
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (s: string) => {
      buf += s;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const req = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        buf = buf.slice(nl + 1);
        socket.write(`${JSON.stringify({ id: req['id'], t0Ns: 0, ns: 1000, ...handle(req) })}\n`);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { server, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
