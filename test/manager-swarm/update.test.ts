// The rolling updater (manager/orchestrator/update.ts) through reconcile, in the in-memory world: UpdateConfig's
// order, parallelism, delay and failure actions, UpdateStatus with Docker's texts, rollback, and the secret-update
// label (live keeps tasks; a revoked secret leaves at once in every mode).
import t from 'tap';
import { World, spec } from '../helpers/swarm-world.js';
import { parseSecretUpdateMode } from '../../manager/orchestrator/update.js';
import type { ServiceSpec } from '../../manager/orchestrator/types.js';

const SEC = (id: string, target = 'pw') => ({ SecretID: id, SecretName: id, File: { Name: target, UID: '0', GID: '0', Mode: 292 } });
const S = 1_000_000_000;
const SECOND = 1_000_000_000n;

function svc(o: { replicas?: number; secrets?: unknown[]; image?: string; update?: Record<string, unknown>; rollback?: Record<string, unknown>; labels?: Record<string, string> }): Omit<ServiceSpec, 'Name'> {
  const base = spec({ replicas: o.replicas ?? 3, secrets: o.secrets ?? [SEC('v1')], ...(o.image ? { image: o.image } : {}) });
  return {
    ...base,
    ...(o.update ? { UpdateConfig: o.update } : {}),
    ...(o.rollback ? { RollbackConfig: o.rollback } : {}),
    ...(o.labels ? { Labels: o.labels } : {}),
  };
}

function started(w: World, name: string, o: Parameters<typeof svc>[0]): string[] {
  w.addNode('n1');
  w.setService(name, svc(o));
  w.converge(10);
  return w.live(name).map((x) => x.id).sort();
}

const secretsOf = (w: World, id: string): unknown => (w.tasks.get(id)!.spec.Spec.ContainerSpec as { Secrets: unknown }).Secrets;
const statusOf = (w: World, name: string) => w.services.get(name)!.spec.UpdateStatus;

t.test('default: a secrets change replaces tasks one slot at a time, stop-first, and completes', async (t) => {
  const w = new World();
  const before = started(w, 'db', { update: { Parallelism: 1, Monitor: 2 * S } });
  t.equal(statusOf(w, 'db'), undefined, 'no UpdateStatus on a new service');
  w.setService('db', svc({ secrets: [SEC('v1', 'old'), SEC('v2')], update: { Parallelism: 1, Monitor: 2 * S } }));
  w.settle();
  t.match(statusOf(w, 'db'), { State: 'updating', Message: 'update in progress' });
  const stopping = before.filter((id) => w.tasks.get(id)!.spec.DesiredState === 'shutdown');
  t.same(stopping, [before.find((id) => w.tasks.get(id)!.spec.Slot === 1)], 'slot 1 first, alone');
  const held = w.live('db').filter((x) => !before.includes(x.id));
  t.equal(held.length, 1);
  t.equal(held[0]!.spec.DesiredState, 'ready', 'stop-first: the new task waits for the old one to stop');
  w.agents(); // the old one stops
  w.settle();
  t.equal(w.tasks.get(held[0]!.id)!.spec.DesiredState, 'running', 'released once the old one stopped');

  const order: number[] = [];
  for (let i = 0; i < 40 && statusOf(w, 'db')?.State !== 'completed'; i++) {
    w.settle();
    for (const x of w.of('db')) if (before.includes(x.id) && x.spec.DesiredState === 'shutdown' && !order.includes(x.spec.Slot)) order.push(x.spec.Slot);
    const live = w.live('db').filter((x) => !before.includes(x.id) && x.spec.Status.State !== 'running').length;
    t.ok(live <= 1, 'never more than Parallelism slots in flight');
    if (w.agents() === 0) w.advance(SECOND);
  }
  t.same(order, [1, 2, 3], 'slot order');
  const after = w.live('db').map((x) => x.id);
  t.equal(after.length, 3);
  t.notOk(after.some((id) => before.includes(id)), 'every task replaced');
  for (const id of after) t.same(secretsOf(w, id), [SEC('v1', 'old'), SEC('v2')]);
  t.match(statusOf(w, 'db'), { State: 'completed', Message: 'update completed', StartedAt: String, CompletedAt: String });
});

t.test('Parallelism 0 replaces all at once; start-first stops the old task only once the new one runs', async (t) => {
  const w = new World();
  const before = started(w, 'web', {});
  const cfg = { Parallelism: 0, Order: 'start-first', Monitor: S };
  w.setService('web', svc({ image: 'alpine:3', update: cfg }));
  w.settle();
  t.equal(w.live('web').length, 6, 'three new beside three old');
  t.ok(before.every((id) => w.tasks.get(id)!.spec.DesiredState === 'running'), 'old ones still wanted');
  w.agents(); // new ones run
  w.settle();
  t.ok(before.every((id) => w.tasks.get(id)!.spec.DesiredState === 'shutdown'), 'old ones stop after');
  w.converge(5);
  t.equal(statusOf(w, 'web')?.State, 'completed');
});

t.test('Delay: the next slot starts only Delay after the previous new task ran', async (t) => {
  const w = new World();
  const before = started(w, 'web', { replicas: 2 });
  w.setService('web', svc({ replicas: 2, image: 'alpine:3', update: { Parallelism: 1, Delay: 10 * S } }));
  w.settle();
  w.agents();
  w.settle();
  w.agents(); // slot 1's new task runs
  w.settle();
  const slot2 = before.find((id) => w.tasks.get(id)!.spec.Slot === 2)!;
  w.advance(9n * 1_000_000_000n);
  w.settle();
  t.equal(w.tasks.get(slot2)!.spec.DesiredState, 'running', 'not yet');
  t.ok(w.lastPlan!.wakeAt !== null, 'a wake-up is planned');
  w.advance(2n * 1_000_000_000n);
  w.settle();
  t.equal(w.tasks.get(slot2)!.spec.DesiredState, 'shutdown', 'after the delay');
});

t.test('live label: in place, same tasks, no UpdateStatus; a revoked secret leaves at once in every mode', async (t) => {
  const w = new World();
  const live = { 'com.runsecrets.secret-update': 'live' };
  const before = started(w, 'app', { labels: live });
  w.setService('app', svc({ secrets: [SEC('v2')], labels: live }));
  w.converge(10);
  t.same(w.live('app').map((x) => x.id).sort(), before, 'same task IDs');
  for (const id of before) t.same(secretsOf(w, id), [SEC('v2')]);
  t.equal(statusOf(w, 'app'), undefined, 'nothing replaced: no UpdateStatus');

  const w2 = new World();
  const b2 = started(w2, 'db', { secrets: [SEC('v1'), SEC('keep', 'k')], update: { Parallelism: 1 } });
  w2.setService('db', svc({ secrets: [SEC('keep', 'k')], update: { Parallelism: 1 } }));
  w2.settle();
  for (const id of b2) t.same(secretsOf(w2, id), [SEC('keep', 'k')], 'removed from every running task at once');
  t.equal(w2.live('db').filter((x) => b2.includes(x.id) && x.spec.DesiredState === 'running').length, 2, 'yet replaced one slot at a time');
  w2.converge(40);
  t.notOk(w2.live('db').some((x) => b2.includes(x.id)), 'all replaced in the end (Docker replaces on --secret-rm)');
});

t.test('FailureAction pause: a new task that fails within Monitor pauses with Docker\'s text', async (t) => {
  const w = new World();
  const before = started(w, 'db', { update: { Parallelism: 1, Monitor: 5 * S } });
  w.setService('db', svc({ image: 'broken', update: { Parallelism: 1, Monitor: 5 * S } }));
  w.settle();
  w.agents();
  w.settle();
  const fresh = w.live('db').find((x) => !before.includes(x.id))!;
  w.report(fresh.id, 'failed', 1);
  w.settle();
  t.same(statusOf(w, 'db'), { ...statusOf(w, 'db'), State: 'paused', Message: `update paused due to failure or early termination of task ${fresh.id}` });
  w.converge(20);
  t.equal(w.live('db').filter((x) => before.includes(x.id)).length, 2, 'no further slot updated while paused');
  t.equal(statusOf(w, 'db')?.State, 'paused');
});

t.test('FailureAction rollback: back to the previous spec with RollbackConfig, then rollback_completed', async (t) => {
  const w = new World();
  started(w, 'db', { update: { Parallelism: 1 } });
  const cfg = { Parallelism: 1, FailureAction: 'rollback' };
  w.setService('db', svc({ image: 'broken', update: cfg, rollback: { Parallelism: 0 } }));
  w.settle();
  w.agents();
  w.settle();
  const fresh = w.live('db').find((x) => (x.spec.Spec.ContainerSpec as { Image: string }).Image === 'broken')!;
  w.report(fresh.id, 'failed', 1);
  w.settle();
  const st = statusOf(w, 'db');
  t.equal(st?.State, 'rollback_started');
  t.equal(st?.Message, `update rolled back due to failure or early termination of task ${fresh.id}`);
  t.equal((w.services.get('db')!.spec.Spec.TaskTemplate as { ContainerSpec: { Image: string } }).ContainerSpec.Image, 'alpine', 'previous spec back');
  t.equal(w.services.get('db')!.spec.PreviousSpec, undefined, 'no previous spec after an automatic rollback');
  w.converge(20);
  t.match(statusOf(w, 'db'), { State: 'rollback_completed', Message: 'rollback completed' });
  t.ok(w.live('db').every((x) => (x.spec.Spec.ContainerSpec as { Image: string }).Image === 'alpine'));
});

t.test('manual rollback uses RollbackConfig; continue and MaxFailureRatio let failures pass', async (t) => {
  const w = new World();
  // swarmkit reads RollbackConfig from the spec rolled back to (the swap makes it the service's Spec).
  const rb = { Parallelism: 0, Order: 'start-first' };
  started(w, 'web', { rollback: rb });
  w.setService('web', svc({ image: 'alpine:3', rollback: rb }));
  w.converge(30);
  t.equal(statusOf(w, 'web')?.State, 'completed');
  w.rollback('web');
  w.settle();
  t.equal(w.live('web').length, 6, 'Parallelism 0, start-first: all new tasks at once beside the old');
  w.converge(20);
  t.match(statusOf(w, 'web'), { State: 'rollback_completed', Message: 'rollback completed' });

  const w2 = new World();
  const b2 = started(w2, 'api', { replicas: 4 });
  w2.setService('api', svc({ replicas: 4, image: 'x', update: { Parallelism: 1, MaxFailureRatio: 0.5 } }));
  w2.settle();
  w2.agents();
  w2.settle();
  w2.report(w2.live('api').find((x) => !b2.includes(x.id))!.id, 'failed', 1);
  w2.converge(40);
  t.equal(statusOf(w2, 'api')?.State, 'completed', '1 failure of 4 slots is within a 0.5 ratio');
});

t.test('the label: values and errors', async (t) => {
  t.same(parseSecretUpdateMode(undefined), { kind: 'replace' });
  t.same(parseSecretUpdateMode({ 'com.runsecrets.secret-update': 'live' }), { kind: 'live' });
  t.same(parseSecretUpdateMode({ 'com.runsecrets.secret-update': 'signal:SIGHUP' }), { kind: 'signal', signal: 'SIGHUP' });
  t.same(parseSecretUpdateMode({ 'com.runsecrets.secret-update': 'signal:usr1' }), { kind: 'signal', signal: 'SIGUSR1' });
  t.match(parseSecretUpdateMode({ 'com.runsecrets.secret-update': 'signal:SIGKILL' }), /^invalid label com.runsecrets.secret-update=signal:SIGKILL/);
  t.match(parseSecretUpdateMode({ 'com.runsecrets.secret-update': 'restart' }), /want replace, live or signal:SIGNAME/);
});
