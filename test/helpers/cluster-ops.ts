// Small API steps the reliability tests share: secrets, services pinned to a host, their tasks, secret grants.
import { request, waitFor, type ManagerHandle } from './manager.js';

export interface TaskJson {
  ID: string;
  NodeID: string;
  DesiredState: string;
  Status: { State: string; Err?: string };
}

export interface SecretRef {
  id: string;
  name: string;
  /** File name under /run/secrets (default: name). */
  target?: string;
  uid?: number;
  mode?: number;
}

export async function createSecret(m: ManagerHandle, name: string, data: Buffer): Promise<string> {
  const r = await request(m.socket, 'POST', '/secrets/create', { Name: name, Labels: {}, Data: data.toString('base64') });
  if (r.status !== 201) throw new Error(`secret create ${name}: ${r.status} ${r.text}`);
  return (r.json as { ID: string }).ID;
}

/** A one-task service pinned to a host. Its secrets change in place (the `live` secret-update mode, docs/updates.md):
 * the tests built on it follow one task through grants and revokes. */
export function serviceSpec(name: string, host: string, secrets: SecretRef[], opts: { command?: string[]; user?: string } = {}): Record<string, unknown> {
  return {
    Name: name,
    Labels: { 'com.runsecrets.secret-update': 'live' },
    TaskTemplate: {
      ContainerSpec: {
        Image: 'none',
        Command: opts.command ?? ['sleep', '1d'],
        ...(opts.user ? { User: opts.user } : {}),
        StopGracePeriod: 1_000_000_000,
        Secrets: secrets.map((s) => ({
          SecretID: s.id,
          SecretName: s.name,
          File: { Name: s.target ?? s.name, UID: String(s.uid ?? 0), GID: '0', Mode: s.mode ?? 0o444 },
        })),
      },
      Placement: { Constraints: [`node.hostname==${host}`] },
    },
    Mode: { Replicated: { Replicas: 1 } },
  };
}

export async function createService(m: ManagerHandle, spec: Record<string, unknown>): Promise<string> {
  const r = await request(m.socket, 'POST', '/services/create', spec);
  if (r.status !== 201) throw new Error(`service create: ${r.status} ${r.text}`);
  return (r.json as { ID: string }).ID;
}

/** Replaces a service's spec (same name), at its current version. */
export async function updateService(m: ManagerHandle, name: string, spec: Record<string, unknown>): Promise<void> {
  const cur = await request(m.socket, 'GET', `/services/${name}`);
  const version = (cur.json as { Version: { Index: number } }).Version.Index;
  const r = await request(m.socket, 'POST', `/services/${name}/update?version=${version}`, spec);
  if (r.status !== 200) throw new Error(`service update ${name}: ${r.status} ${r.text}`);
}

export async function tasksOf(m: ManagerHandle, service: string): Promise<TaskJson[]> {
  const r = await request(m.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`);
  return r.json as TaskJson[];
}

export async function runningTask(m: ManagerHandle, service: string, timeoutMs = 30_000): Promise<TaskJson> {
  return waitFor(
    async () => (await tasksOf(m, service)).find((x) => x.Status.State === 'running' && x.DesiredState === 'running'),
    `a running task of ${service}`,
    timeoutMs,
  );
}
