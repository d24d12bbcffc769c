import { PassThrough, Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DeviceError } from '../../src/device/index.js';
import { VfioDevice } from '../../src/vfio/vfio-device.js';
import { HelperError, VfioHelperClient } from '../../src/vfio/vfio-helper-client.js';
import { MigState } from '../../src/fsm/index.js';

/** A fake helper: `answer(request)` returns the reply object (or undefined: no reply). */
function fakeHelper(answer: (req: Record<string, unknown>) => Record<string, unknown> | undefined): Duplex {
  const toHelper = new PassThrough();
  const fromHelper = new PassThrough();
  let buf = '';
  toHelper.setEncoding('utf8');
  toHelper.on('data', (s: string) => {
    buf += s;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const req = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
      buf = buf.slice(nl + 1);
      const r = answer(req);
      if (r !== undefined) fromHelper.write(`${JSON.stringify({ id: req['id'], t0Ns: 1, ns: 2_000_000, ...r })}\n`);
    }
  });
  return Duplex.from({ readable: fromHelper, writable: toHelper });
}

describe('VfioHelperClient', () => {
  it('matches replies to requests and turns ok:false into a HelperError with the errno', async () => {
    const client = new VfioHelperClient(fakeHelper((req) => (req['op'] === 'hello' ? { ok: true, protocol: 1 } : { ok: false, errno: 'EINVAL', message: 'no' })));
    expect((await client.request('hello'))['protocol']).toBe(1);
    const e = await client.request('x').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HelperError);
    expect((e as HelperError).code).toBe('EINVAL');
    await client.close();
  });

  it('fails a request the helper never answers with ETIMEDOUT', async () => {
    const client = new VfioHelperClient(fakeHelper(() => undefined), { timeoutMs: 50 });
    const e = await client.request('hello').catch((x: unknown) => x);
    expect((e as HelperError).code).toBe('ETIMEDOUT');
    await client.close();
  });

  it('reads a reply split across chunks and one with a multi-byte character cut between them', async () => {
    const toHelper = new PassThrough();
    const fromHelper = new PassThrough();
    const client = new VfioHelperClient(Duplex.from({ readable: fromHelper, writable: toHelper }));
    const reply = client.request('hello');
    const bytes = Buffer.from(`${JSON.stringify({ id: 1, ok: true, t0Ns: 1, ns: 2, name: 'mtty-é' })}\r\n`, 'utf8');
    const cut = bytes.indexOf(0xc3) + 1; // inside 'é'
    fromHelper.write(bytes.subarray(0, cut));
    fromHelper.write(bytes.subarray(cut));
    expect((await reply)['name']).toBe('mtty-é');
    await client.close();
  });

  it('fails pending requests with E2BIG on a reply line over 4 MiB, without holding it', async () => {
    const fromHelper = new PassThrough();
    const client = new VfioHelperClient(Duplex.from({ readable: fromHelper, writable: new PassThrough() }));
    const pending = client.request('hello').catch((x: unknown) => x);
    fromHelper.write(Buffer.alloc(4 * 1024 * 1024 + 1, 0x61));
    expect(((await pending) as HelperError).code).toBe('E2BIG');
    await client.close();
  });

  it('fails pending requests when the helper goes away', async () => {
    const stream = fakeHelper(() => undefined);
    const client = new VfioHelperClient(stream);
    const pending = client.request('hello').catch((x: unknown) => x);
    stream.destroy();
    expect((await pending as HelperError).code).toBe('EPIPE');
  });
});

describe('VfioHelperClient.spawn', () => {
  it('a helper that cannot be run fails its requests with the spawn errno', async () => {
    const client = VfioHelperClient.spawn('/nonexistent/vfio-helper');
    const e = await client.request('hello').catch((x: unknown) => x);
    expect((e as HelperError).code).toBe('ENOENT');
    await client.close();
  });

  it('a helper that exits fails what is pending', async () => {
    const client = VfioHelperClient.spawn('sh', ['-c', 'read line; exit 3']);
    const e = await client.request('hello').catch((x: unknown) => x);
    expect((e as HelperError).code).toBe('EPIPE');
    await client.close();
  });
});

describe('VfioDevice over a helper', () => {
  it('after a failed SET reports the state the kernel reported, and the error carries its errno', async () => {
    let state: number = MigState.RUNNING;
    const client = new VfioHelperClient(
      fakeHelper((req) => {
        if (req['op'] === 'open') return { ok: true, h: 0, flags: 7 };
        if (req['op'] === 'get') return { ok: true, state };
        if (req['op'] === 'set') {
          // The driver got one arc along the way, then failed.
          const before = state;
          state = MigState.RUNNING_P2P;
          return { ok: false, errno: 'EIO', message: 'firmware', before, state };
        }
        return { ok: false, errno: 'EINVAL', message: '?' };
      }),
    );
    const observed: string[] = [];
    const dev = await VfioDevice.open(client, 'uuid', { model: 'm', observe: (o) => observed.push(`${o.op}:${o.before}>${o.after}:${o.errno ?? 'ok'}`) });
    const e = await dev.setState(MigState.STOP).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DeviceError);
    expect((e as DeviceError).code).toBe('EIO');
    expect((e as DeviceError).stateAfter).toBe(MigState.RUNNING_P2P);
    expect(dev.getState()).toBe(MigState.RUNNING_P2P);
    expect(observed).toEqual([`set:${MigState.RUNNING}>${MigState.RUNNING_P2P}:EIO`]);
    await client.close();
  });

  it('maps an errno it does not know to EUNKNOWN', async () => {
    const client = new VfioHelperClient(
      fakeHelper((req) => (req['op'] === 'open' ? { ok: true, h: 0, flags: 7 } : req['op'] === 'get' ? { ok: true, state: 2 } : { ok: false, errno: 'EXDEV', message: 'x' })),
    );
    const dev = await VfioDevice.open(client, 'uuid', { model: 'm' });
    const e = await dev.stopCopyBytes().catch((x: unknown) => x);
    expect((e as DeviceError).code).toBe('EUNKNOWN');
    await client.close();
  });
});
