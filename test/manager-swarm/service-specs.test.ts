// Golden comparisons of service specs against what Docker (moby v27.5.1 + swarmkit) returns for the same requests,
// field by field and in Go's key order: the expected objects are written from the reference (docker-swarm-wave2.md
// §8.1, §8.2, §8.5) and from moby's types and conversion (api/types/swarm, daemon/cluster/convert). Real manager.
import t from 'tap';
import { isRoot, request, startManager, waitFor, type ApiResponse } from '../helpers/manager.js';

if (!isRoot()) {
  t.plan(0, 'skipped: the manager runs as root (its socket and state are root-only); run the tests as root');
  process.exit(0);
}

const m = await startManager();
t.teardown(() => m.cleanup());
const api = (method: string, path: string, body?: unknown): Promise<ApiResponse> => request(m.socket, method, path, body);
const msg = (r: ApiResponse): string => (r.json as { message?: string } | undefined)?.message ?? r.text;

interface Svc {
  ID: string;
  Version: { Index: number };
  Spec: Record<string, unknown>;
}

async function create(body: unknown): Promise<{ id: string; text: string }> {
  const r = await api('POST', '/v1.47/services/create', body);
  if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text}`);
  return { id: (r.json as { ID: string }).ID, text: r.text };
}
const spec = async (id: string, q = ''): Promise<Record<string, unknown>> => ((await api('GET', `/v1.47/services/${id}${q}`)).json as Svc).Spec;
/** Go's encoding: the same keys in the same order (JSON text compared), not only the same values. */
const goSame = (tt: Pick<typeof t, 'same' | 'equal'>, got: unknown, want: unknown, what: string): void => {
  tt.same(got, want, what);
  tt.equal(JSON.stringify(got), JSON.stringify(want), `${what}: Go's key order`);
};

t.test('the body `docker service create` sends comes back as Docker returns it', async (t) => {
  const sec = await api('POST', '/secrets/create', { Name: 'gold_s', Data: Buffer.from('x').toString('base64') });
  const secId = (sec.json as { ID: string }).ID;
  // cli v27: `docker service create --name gold --secret gold_s alpine sleep 1d`
  const body = {
    Name: 'gold',
    Labels: {},
    TaskTemplate: {
      ContainerSpec: {
        Image: 'alpine',
        Labels: {},
        Args: ['sleep', '1d'],
        Init: false,
        StopGracePeriod: 10_000_000_000,
        DNSConfig: {},
        Secrets: [{ File: { Name: 'gold_s', UID: '0', GID: '0', Mode: 292 }, SecretID: secId, SecretName: 'gold_s' }],
        Isolation: 'default',
      },
      Resources: { Limits: {}, Reservations: {} },
      RestartPolicy: { Condition: 'any', Delay: 5_000_000_000, MaxAttempts: 0 },
      Placement: {},
      ForceUpdate: 0,
      Runtime: 'container',
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Mode: 'vip' },
  };
  const { id, text } = await create(body);
  t.match(text, /^\{"ID":"[0-9a-z]{25}","Warnings":null\}\n?$/, 'create answers ID and Warnings:null');
  goSame(
    t,
    await spec(id),
    {
      Name: 'gold',
      Labels: {},
      TaskTemplate: {
        ContainerSpec: {
          Image: 'alpine',
          Args: ['sleep', '1d'],
          Init: false,
          StopGracePeriod: 10_000_000_000,
          DNSConfig: {},
          Secrets: [{ File: { Name: 'gold_s', UID: '0', GID: '0', Mode: 292 }, SecretID: secId, SecretName: 'gold_s' }],
          Isolation: 'default',
        },
        Resources: { Limits: {}, Reservations: {} },
        RestartPolicy: { Condition: 'any', Delay: 5_000_000_000, MaxAttempts: 0 },
        Placement: {},
        ForceUpdate: 0,
        Runtime: 'container',
      },
      Mode: { Replicated: { Replicas: 1 } },
      EndpointSpec: { Mode: 'vip' },
    },
    'service inspect Spec',
  );

  // docker-py's force_update: GET, ForceUpdate+1, POST; it reads Warnings from the answer.
  const cur = (await api('GET', `/services/${id}`)).json as Svc;
  const next = structuredClone(cur.Spec) as { TaskTemplate: { ForceUpdate: number } };
  next.TaskTemplate.ForceUpdate += 1;
  const r = await api('POST', `/v1.47/services/${id}/update?version=${cur.Version.Index}`, next);
  t.equal(r.status, 200);
  t.equal(r.text.trim(), '{"Warnings":null}', 'update answers {"Warnings":null}');
  t.equal(((await spec(id)).TaskTemplate as { ForceUpdate: number }).ForceUpdate, 1);
});

t.test('unknown keys dropped, keys matched case-insensitively at every depth, empty values omitted', async (t) => {
  const { id } = await create({
    version: 3, // a compose-ish client's stray key: never stored
    name: 'casey',
    taskTemplate: {
      containerSpec: { image: 'alpine', env: [], labels: {}, command: ['true'], bogus: { deep: 1 }, USER: '1000' },
      placement: { constraints: [] },
      restartPolicy: { condition: 'on-failure', maxAttempts: 3 },
      logDriver: { name: 'json-file', options: {} },
    },
    mode: { replicated: { replicas: 2 } },
    RollbackConfig: { order: 'start-first', parallelism: 2, FAILUREACTION: 'continue' },
    updateConfig: { Monitor: 0, delay: 1_000_000_000 },
    endpointSpec: { mode: 'dnsrr', ports: [{ targetPort: 80, publishedPort: 8080 }] },
  });
  goSame(
    t,
    await spec(id),
    {
      Name: 'casey',
      Labels: {},
      TaskTemplate: {
        ContainerSpec: { Image: 'alpine', Command: ['true'], User: '1000', Isolation: 'default' },
        RestartPolicy: { Condition: 'on-failure', MaxAttempts: 3 },
        Placement: {},
        LogDriver: { Name: 'json-file' },
        ForceUpdate: 0,
        Runtime: 'container',
      },
      Mode: { Replicated: { Replicas: 2 } },
      UpdateConfig: { Parallelism: 0, Delay: 1_000_000_000, FailureAction: 'pause', MaxFailureRatio: 0, Order: 'stop-first' },
      RollbackConfig: { Parallelism: 2, FailureAction: 'continue', MaxFailureRatio: 0, Order: 'start-first' },
      EndpointSpec: { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] },
    },
    'stored as moby types, Go-encoded',
  );
  t.notOk('version' in (await spec(id)), 'the stray key is not stored');

  // A bare spec: Mode defaults to one replica, ForceUpdate and Runtime always present, Labels always an object.
  const bare = await create({ Name: 'bare', TaskTemplate: { ContainerSpec: { Image: 'alpine' } } });
  goSame(
    t,
    await spec(bare.id),
    { Name: 'bare', Labels: {}, TaskTemplate: { ContainerSpec: { Image: 'alpine', Isolation: 'default' }, ForceUpdate: 0, Runtime: 'container' }, Mode: { Replicated: { Replicas: 1 } } },
    'bare spec',
  );
});

t.test('?insertDefaults=true fills what swarmkit fills (§8.2)', async (t) => {
  const { id } = await create({ Name: 'defaults', TaskTemplate: { ContainerSpec: { Image: 'alpine' } }, RollbackConfig: { Parallelism: 3 } });
  const s = await api('GET', `/services/${id}?insertDefaults=true`);
  t.equal(s.status, 200);
  goSame(
    t,
    (s.json as Svc).Spec,
    {
      Name: 'defaults',
      Labels: {},
      TaskTemplate: {
        ContainerSpec: { Image: 'alpine', StopGracePeriod: 10_000_000_000, DNSConfig: {}, Isolation: 'default' },
        Resources: {},
        RestartPolicy: { Condition: 'any', Delay: 5_000_000_000, MaxAttempts: 0 },
        Placement: {},
        ForceUpdate: 0,
        Runtime: 'container',
      },
      Mode: { Replicated: { Replicas: 1 } },
      UpdateConfig: { Parallelism: 1, FailureAction: 'pause', Monitor: 5_000_000_000, MaxFailureRatio: 0, Order: 'stop-first' },
      RollbackConfig: { Parallelism: 3, FailureAction: 'pause', Monitor: 5_000_000_000, MaxFailureRatio: 0, Order: 'stop-first' },
    },
    'defaults inserted',
  );
  t.match(s.text, /"UpdateConfig":\{"Parallelism":1,"FailureAction":"pause","Monitor":5000000000,"MaxFailureRatio":0,"Order":"stop-first"\}/, 'no Delay key: zero is omitted');
  t.notOk('UpdateConfig' in (await spec(id)), 'without insertDefaults the spec is as stored');
  t.notOk('UpdateConfig' in (await spec(id, '?insertDefaults=0')), 'insertDefaults=0');
  const bad = await api('GET', `/services/${id}?insertDefaults=maybe`);
  t.equal(bad.status, 400);
  t.equal(msg(bad), 'invalid value for insertDefaults: maybe');
});

t.test("decoding and conversion errors: Go's and moby's texts", async (t) => {
  const base = { Name: 'errs', TaskTemplate: { ContainerSpec: { Image: 'alpine' } } };
  const cases: [unknown, string][] = [
    [[], 'invalid JSON: json: cannot unmarshal array into Go value of type swarm.ServiceSpec'],
    [{ ...base, TaskTemplate: 'x' }, 'invalid JSON: json: cannot unmarshal string into Go struct field ServiceSpec.TaskTemplate of type swarm.TaskSpec'],
    [{ ...base, TaskTemplate: { ContainerSpec: { Image: 5 } } }, 'invalid JSON: json: cannot unmarshal number into Go struct field ContainerSpec.TaskTemplate.ContainerSpec.Image of type string'],
    [{ ...base, Mode: { Replicated: { Replicas: -1 } } }, 'invalid JSON: json: cannot unmarshal number -1 into Go struct field ReplicatedService.Mode.Replicated.Replicas of type uint64'],
    [{ ...base, TaskTemplate: { ContainerSpec: { Image: 'a', StopGracePeriod: 1.5 } } }, 'invalid JSON: json: cannot unmarshal number 1.5 into Go struct field ContainerSpec.TaskTemplate.ContainerSpec.StopGracePeriod of type time.Duration'],
    [{ ...base, Labels: { a: 1 } }, 'invalid JSON: json: cannot unmarshal number into Go struct field ServiceSpec.Labels of type string'],
    [{ ...base, Mode: { Replicated: {}, Global: {} } }, 'must specify only one service mode'],
    [{ ...base, UpdateConfig: { Order: 'sideways' } }, 'unrecognized update order sideways'],
    [{ ...base, UpdateConfig: { FailureAction: 'panic' } }, 'unrecognized update failure action panic'],
    [{ ...base, EndpointSpec: { Mode: 'round-robin' } }, 'invalid resolution mode: "round-robin"'],
    [{ ...base, TaskTemplate: { ContainerSpec: { Image: 'a', Mounts: [{ Type: 'nfs', Target: '/x' }] } } }, 'invalid MountType: "nfs"'],
    [{ ...base, UpdateConfig: { MaxFailureRatio: 2 } }, 'rpc error: code = InvalidArgument desc = TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1'],
    [{ ...base, UpdateConfig: { Delay: -1 } }, 'rpc error: code = InvalidArgument desc = TaskSpec: update-delay cannot be negative'],
    [{ ...base, Mode: { ReplicatedJob: {} }, UpdateConfig: {} }, 'rpc error: code = InvalidArgument desc = Jobs may not have an update config'],
  ];
  for (const [body, text] of cases) {
    const r = await api('POST', '/services/create', body);
    t.equal(r.status, 400, text);
    t.equal(msg(r), text);
  }
});

t.test('_up-to-date lists only the tasks made from the current spec', async (t) => {
  const { id } = await create({ Name: 'fresh', TaskTemplate: { ContainerSpec: { Image: 'alpine' } }, Mode: { Replicated: { Replicas: 1 } } });
  const q = (f: Record<string, unknown>): Promise<{ ID: string; DesiredState: string }[]> =>
    api('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify(f))}`).then((r) => r.json as { ID: string; DesiredState: string }[]);
  const first = await waitFor(async () => {
    const l = await q({ service: [id] });
    return l.length === 1 ? l : null;
  }, 'one task');
  t.same((await q({ service: [id], '_up-to-date': ['true'] })).map((x) => x.ID), [first[0]!.ID]);
  const cur = (await api('GET', `/services/${id}`)).json as Svc;
  const next = structuredClone(cur.Spec) as { TaskTemplate: { ForceUpdate: number } };
  next.TaskTemplate.ForceUpdate = 1;
  t.equal((await api('POST', `/services/${id}/update?version=${cur.Version.Index}`, next)).status, 200);
  const all = await waitFor(async () => {
    const l = await q({ service: [id] });
    return l.length === 2 ? l : null;
  }, 'a replacement task');
  const fresh = await q({ service: [id], '_up-to-date': ['1'] });
  t.equal(fresh.length, 1, 'only the new task');
  t.not(fresh[0]!.ID, first[0]!.ID);
  t.ok(all.some((x) => x.ID === first[0]!.ID), 'the old task is still listed without the filter');
});
