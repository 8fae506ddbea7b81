// The catalog source's reading of Consul's answers, against a scripted Consul whose answers the test
// controls exactly (what a real agent does only by chance): tags whose order changes from one answer
// to the next (Consul 1.8 gathers them through a Go map), one catalog answer that carries a new
// service together with an instance registered for another service, and over HTTP/1.1 the watches
// of the services that changed last, which serve a rolling deploy's next change while the
// detectors' summaries read is held.
import t, { type Test } from 'tap';
import { createLogger } from '../../src/log.js';
import { ConsulCatalogSource, type CatalogReads } from '../../src/sources/consul/catalog-source.js';
import type { BlockingResult } from '../../src/sources/consul/blocking.js';
import type { CatalogSnapshot } from '../../src/sources/types.js';
import { eventually } from '../helpers/net.js';

interface Instance {
  id: string;
  port: number;
}

/** A catalog whose index moves only when the test says, with every read counted by path. */
class ScriptedConsul implements CatalogReads {
  index = 10;
  tags = new Map<string, string[]>();
  instances = new Map<string, Instance[]>();
  readonly reads: string[] = [];
  /** Over HTTP/1.1: services that may have a watch of their own (ConsulClient.recentWatchSlots). */
  recentWatchSlots: number | undefined;
  /** While set, the service summaries never answer (a slow /v1/internal/ui/services at 10 000 services). */
  summariesHeld = false;
  /** Blocking reads of this service fail. */
  failingWatch: string | undefined;
  /** Blocking reads of a service answer when their wait passes, as Consul does (otherwise only on a commit). */
  waitsRunOut = false;
  /** Blocking reads of a service that the router aborted, by service. */
  readonly abortedWatches: string[] = [];
  private waiters: (() => void)[] = [];

  /** Commits a change: a new index, blocked queries answer. */
  commit(change: () => void): void {
    change();
    this.index++;
    for (const wake of this.waiters.splice(0)) wake();
  }

  private async block(index: number, signal?: AbortSignal): Promise<void> {
    if (index === 0 || index < this.index) return;
    await new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  async catalogServices(index: number, _wait: number, signal?: AbortSignal): Promise<BlockingResult<unknown>> {
    await this.block(index, signal);
    this.reads.push('catalog/services');
    return { index: this.index, data: Object.fromEntries(this.tags) };
  }

  async healthState(_state: 'critical' | 'warning', index: number, _wait: number, signal?: AbortSignal): Promise<BlockingResult<unknown>> {
    await this.block(index, signal);
    return { index: this.index, data: [] };
  }

  async healthService(name: string, index: number, wait: number, signal?: AbortSignal): Promise<BlockingResult<unknown>> {
    signal?.addEventListener('abort', () => this.abortedWatches.push(name), { once: true });
    const waitEnds = this.waitsRunOut && index > 0 ? new Promise<void>((r) => setTimeout(r, wait)) : undefined;
    await (waitEnds ? Promise.race([this.block(index, signal), waitEnds]) : this.block(index, signal));
    if (index > 0 && name === this.failingWatch) throw new Error(`watch of ${name} failed`);
    this.reads.push(`${index > 0 ? 'watch ' : ''}health/service/${name}`);
    const data = (this.instances.get(name) ?? []).map((i) => ({
      Node: { Node: 'node-1', Address: '127.0.0.1' },
      Service: { ID: i.id, Service: name, Address: '127.0.0.1', Port: i.port, Tags: this.tags.get(name) ?? [] },
      Checks: [{ CheckID: `service:${i.id}`, Status: 'passing' }],
    }));
    return { index: this.index, data };
  }

  async serviceSummaries(): Promise<BlockingResult<unknown>> {
    if (this.summariesHeld) await new Promise(() => undefined);
    this.reads.push('internal/ui/services');
    const data = [...this.instances].map(([Name, list]) => ({
      Name,
      InstanceCount: list.length,
      ChecksPassing: list.length,
      ChecksWarning: 0,
      ChecksCritical: 0,
    }));
    return { index: this.index, data };
  }
}

function start(t: Test, consul: ScriptedConsul, waitMs = 30_000) {
  const source = new ConsulCatalogSource(consul, { waitMs, minIntervalMs: 1 }, createLogger('silent'));
  const snapshots: CatalogSnapshot[] = [];
  source.start({ snapshot: (s) => snapshots.push(s), status: () => undefined });
  t.teardown(() => source.stop());
  const ports = (name: string) => snapshots.at(-1)?.services[name]?.map((i) => i.port);
  return { source, snapshots, ports };
}

t.test('one catalog answer with a new service and a new instance of another: both are read', async (t) => {
  const consul = new ScriptedConsul();
  consul.tags.set('blog', ['router.sticky']);
  consul.instances.set('blog', [{ id: 'blog-1', port: 31001 }]);
  const w = start(t, consul);
  await eventually('first snapshot', () => w.ports('blog')?.length === 1);
  consul.commit(() => {
    consul.tags.set('shop', []);
    consul.instances.set('shop', [{ id: 'shop-1', port: 31100 }]);
    consul.instances.get('blog')!.push({ id: 'blog-2', port: 31002 });
  });
  await eventually('the new service', () => w.ports('shop')?.length === 1);
  await eventually('the new instance of the other service', () => w.ports('blog')?.length === 2);
  t.same(w.ports('blog'), [31001, 31002]);
});

t.test('tags in another order are no change: nothing is read again', async (t) => {
  const consul = new ScriptedConsul();
  consul.tags.set('forum', ['router.path=/forum', 'router.strip-path=true']);
  consul.instances.set('forum', [{ id: 'forum-1', port: 31200 }]);
  const w = start(t, consul);
  await eventually('first snapshot', () => w.ports('forum')?.length === 1);
  const before = consul.reads.filter((r) => r === 'health/service/forum').length;
  // The index moves for a K/V write elsewhere; the same tags come back reversed.
  consul.commit(() => consul.tags.set('forum', ['router.strip-path=true', 'router.path=/forum']));
  await eventually('the answer read', () => consul.reads.includes('internal/ui/services'));
  t.equal(consul.reads.filter((r) => r === 'health/service/forum').length, before, 'forum not read again');
  t.same(w.snapshots.at(-1)?.services.forum?.[0]?.tags, ['router.path=/forum', 'router.strip-path=true'], "an instance's own tags keep their order");
});

/** Services a, b, c with one instance each, on a source over HTTP/1.1 with `slots` recent watches. */
async function threeServices(t: Test, slots: number | undefined, waitMs?: number) {
  const consul = new ScriptedConsul();
  consul.recentWatchSlots = slots;
  for (const [n, name] of ['a', 'b', 'c'].entries()) {
    consul.tags.set(name, []);
    consul.instances.set(name, [{ id: `${name}-1`, port: 31000 + 100 * n }]);
  }
  const w = start(t, consul, waitMs);
  await eventually('first snapshot', () => w.ports('c')?.length === 1);
  /** A new instance of `name`: found by the detectors, or by the service's own watch. */
  const scale = async (name: string, count: number) => {
    consul.commit(() => consul.instances.get(name)!.push({ id: `${name}-${count}`, port: 31000 + count }));
    await eventually(`${name} with ${count} instances`, () => w.ports(name)?.length === count);
  };
  return { consul, ...w, scale };
}

t.test('over HTTP/1.1 a service that changed gets its own watch: its next change is served without the detectors', async (t) => {
  const w = await threeServices(t, 2);
  t.same(w.source.watchedServices, [], 'no watch before any change');
  await w.scale('a', 2);
  await eventually('a watched', () => w.source.watchedServices.includes('a'));
  // The summaries read (seconds at 10 000 services) no longer answers: only a's watch can tell.
  w.consul.summariesHeld = true;
  const reads = w.consul.reads.length;
  await w.scale('a', 3);
  t.same(
    w.consul.reads.slice(reads).filter((r) => r.startsWith('health/service/')),
    [],
    'no one-off read: the watch answered',
  );
});

t.test('a service that changes while every slot is taken gets no watch, and no watch is cut for it', async (t) => {
  const w = await threeServices(t, 2);
  await w.scale('a', 2);
  await w.scale('b', 2);
  await eventually('a and b watched', () => w.source.watchedServices.length === 2);
  await w.scale('c', 2);
  t.same(w.source.watchedServices, ['a', 'b'], 'c found by the detectors, without a watch');
  t.same(w.consul.abortedWatches, [], "no watch's read was aborted: the agent would hold it, and its connection, until its wait ends");
  await w.scale('c', 3);
  t.same(w.consul.abortedWatches, []);
});

t.test('a recent watch ends after a whole wait with no change: its service is read once, and its slot goes to the next service that changes', async (t) => {
  // A wait of 200 ms: the scripted Consul answers a blocking read when it passes, as Consul does.
  const w = await threeServices(t, 1, 200);
  w.consul.waitsRunOut = true;
  await w.scale('a', 2);
  // The reads log, not watchedServices: a watch can start and end between two looks.
  await eventually('a watched', () => w.consul.reads.includes('watch health/service/a'));
  await eventually("a's watch ended", () => w.source.watchedServices.length === 0);
  const reads = w.consul.reads.lastIndexOf('watch health/service/a');
  await eventually('a read once more', () => w.consul.reads.slice(reads).includes('health/service/a'));
  t.same(w.consul.abortedWatches, [], 'it ended between reads: nothing aborted');
  await w.scale('b', 2);
  await eventually('b watched', () => w.consul.reads.includes('watch health/service/b'));
  await w.scale('a', 3);
  t.same(w.ports('a'), [31000, 31002, 31003], "a's next change is served by the detectors");
});

t.test('with no slot left (consul.max_connections 16) no service gets a watch', async (t) => {
  const w = await threeServices(t, 0);
  await w.scale('a', 2);
  await w.scale('a', 3);
  t.same(w.source.watchedServices, []);
  t.notOk(
    w.consul.reads.some((r) => r.startsWith('watch ')),
    'no blocking read of a service',
  );
});

t.test('a watch that fails hands its service back to the detectors', async (t) => {
  const w = await threeServices(t, 2);
  await w.scale('a', 2);
  await eventually('a watched', () => w.source.watchedServices.includes('a'));
  w.consul.failingWatch = 'a';
  // Any commit wakes the scripted watches: a's fails.
  w.consul.commit(() => undefined);
  await eventually('a no longer watched', () => !w.source.watchedServices.includes('a'));
  w.consul.failingWatch = undefined;
  await w.scale('a', 3);
  t.same(w.ports('a'), [31000, 31002, 31003]);
});
