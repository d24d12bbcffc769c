/**
 * Per-test fake QEMU and client: `const qmpFx = useFakeQmp()` at file level, then
 * `await qmpFx.setup()` in a test. Servers and clients made through it are closed after each test.
 */
import { afterEach } from 'vitest';
import { QmpClient } from '../../src/qemu/qmp-client.js';
import type { QmpConnectionOptions } from '../../src/qemu/qmp-connection.js';
import { FakeQmpServer, type FakeQmpOptions } from './fake-qmp-server.js';

export interface FakeQmpFixture {
  /** Starts a fake QEMU monitor. */
  start(opts?: FakeQmpOptions): Promise<FakeQmpServer>;
  /** Connects a client to the last server started. */
  connect(opts?: Partial<QmpConnectionOptions>): Promise<QmpClient>;
  /** Both at once. */
  setup(serverOpts?: FakeQmpOptions, clientOpts?: Partial<QmpConnectionOptions>): Promise<{ srv: FakeQmpServer; qmp: QmpClient }>;
}

export function useFakeQmp(): FakeQmpFixture {
  const servers: FakeQmpServer[] = [];
  const clients: QmpClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  const start = async (opts: FakeQmpOptions = {}): Promise<FakeQmpServer> => {
    const srv = await FakeQmpServer.start(opts);
    servers.push(srv);
    return srv;
  };
  const connect = async (opts: Partial<QmpConnectionOptions> = {}): Promise<QmpClient> => {
    const srv = servers.at(-1);
    if (srv === undefined) throw new Error('connect() before start()');
    const qmp = await QmpClient.connect({ endpoint: srv.endpoint, ...opts });
    clients.push(qmp);
    return qmp;
  };
  return {
    start,
    connect,
    setup: async (serverOpts = {}, clientOpts = {}) => {
      const srv = await start(serverOpts);
      return { srv, qmp: await connect(clientOpts) };
    },
  };
}
