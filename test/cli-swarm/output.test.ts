// Output formatting against docker/cli's golden files (cli/command/task/testdata, service/testdata,
// node/testdata): the same data as docker's tests build, the same text.
import t from 'tap';
import { printTasks, type Resolver } from '../../cli/swarm/task-print.js';
import { printServices, servicePorts } from '../../cli/swarm/service-list.js';
import { printNodes } from '../../cli/swarm/node-list.js';
import { ellipsis, truncateID } from '../../cli/swarm/columns.js';
import { formatWrite } from '../../cli/format/formatter.js';
import { NODE_PRETTY_TEMPLATE, nodePrettyContext } from '../../cli/swarm/node-pretty.js';

const now = Date.now();
const hoursAgo = (h: number): string => new Date(now - h * 3_600_000).toISOString();
const DEFAULT_TIME = '2009-11-10T23:00:00Z';

/** internal/test/builders.Task, with what each test sets. */
function task(o: { id?: string; service?: string; node?: string; slot?: number; image?: string; failed?: boolean }): Record<string, unknown> {
  return {
    ID: o.id ?? 'taskID',
    CreatedAt: DEFAULT_TIME,
    Spec: { ContainerSpec: { Image: o.image ?? '' } },
    ServiceID: o.service ?? 'rl02d5gwz6chzu7il5fhtb8be',
    Slot: o.slot ?? 1,
    NodeID: o.node ?? '',
    Status: o.failed ? { State: 'failed', Timestamp: hoursAgo(2) } : { State: 'running' },
    DesiredState: 'ready',
  };
}

/** idresolver over docker's fake client: names for the services it knows, IDs for the rest. */
function resolver(services: Record<string, string>, nodes: Record<string, string> = {}): Resolver {
  return { service: async (id) => services[id] ?? id, node: async (id) => nodes[id] ?? id };
}

t.test('task print goldens', async (t) => {
  const failed = (id: string, service: string) => task({ id, service, node: 'id-node', image: 'myimage:mytag', failed: true });
  t.equal(
    await printTasks([failed('id-foo', 'service-id-ten'), failed('id-bar', 'service-id-one')], resolver({ 'service-id-one': 'service-name-1', 'service-id-ten': 'service-name-10' }), { trunc: false, quiet: false, format: 'table', now }),
    'ID        NAME                IMAGE           NODE      DESIRED STATE   CURRENT STATE        ERROR     PORTS\n' +
      'id-bar    service-name-1.1    myimage:mytag   id-node   Ready           Failed 2 hours ago             \n' +
      'id-foo    service-name-10.1   myimage:mytag   id-node   Ready           Failed 2 hours ago             \n',
    'task-print-sorted.golden',
  );
  t.equal(
    await printTasks([failed('id-foo', 'service-id-foo'), failed('id-bar', 'service-id-foo')], resolver({ 'service-id-foo': 'service-name-foo' }, { 'id-node': 'node-name-bar' }), { trunc: false, quiet: false, format: 'table', now }),
    'ID        NAME                     IMAGE           NODE            DESIRED STATE   CURRENT STATE        ERROR     PORTS\n' +
      'id-foo    service-name-foo.1       myimage:mytag   node-name-bar   Ready           Failed 2 hours ago             \n' +
      'id-bar     \\_ service-name-foo.1   myimage:mytag   node-name-bar   Ready           Failed 2 hours ago             \n',
    'task-print-with-indentation.golden',
  );
  t.equal(await printTasks([task({ id: 'id-foo' })], resolver({}), { trunc: false, quiet: true, format: 'table', now }), 'id-foo\n', 'task-print-with-quiet-option.golden');
  t.equal(
    await printTasks([task({ id: 'id-foo-yov6omdek8fg3k5stosyp2m50' })], resolver({}), { trunc: false, quiet: false, format: '{{ .ID }}', now }),
    'id-foo-yov6omdek8fg3k5stosyp2m50\n',
    'task-print-with-no-trunc-option.golden',
  );
  t.equal(
    await printTasks([task({ service: 'service-id-foo', node: 'node-id-bar', slot: 0 })], resolver({}), { trunc: false, quiet: false, format: '{{ .Name }}', now }),
    'service-id-foo.node-id-bar\n',
    'task-print-with-global-service.golden',
  );
  t.equal(
    await printTasks([task({ service: 'service-id-foo', slot: 1 })], resolver({}), { trunc: false, quiet: false, format: '{{ .Name }}', now }),
    'service-id-foo.1\n',
    'task-print-with-replicated-service.golden',
  );
  // Not a table: no history indentation; newest first within a slot.
  const older = { ...task({ id: 'old' }), CreatedAt: '2009-11-10T22:00:00Z' };
  t.equal(await printTasks([older, task({ id: 'new' })], resolver({}), { trunc: false, quiet: false, format: '{{.ID}} {{.Name}}', now }), 'new rl02d5gwz6chzu7il5fhtb8be.1\nold rl02d5gwz6chzu7il5fhtb8be.1\n');
});

t.test('truncation rules', async (t) => {
  t.equal(truncateID('id-foo-yov6omdek8fg3k5stosyp2m50'), 'id-foo-yov6o');
  t.equal(truncateID('sha256:0123456789abcdef0123'), '0123456789ab');
  t.equal(ellipsis('task: non-zero exit (137): the process was killed', 30), 'task: non-zero exit (137): th…');
  t.equal(ellipsis('short', 30), 'short');
  t.equal(ellipsis('日本語のエラーメッセージです', 10), '日本語の…', 'wide characters count two columns');
  const t1 = { ...task({ id: 'abcdefghijklmnopqrstuvwxy', image: 'redis:7@sha256:' + 'ab'.repeat(32) }), Status: { State: 'failed', Err: 'x'.repeat(40), Timestamp: hoursAgo(5) } };
  t.equal(
    await printTasks([t1], resolver({ rl02d5gwz6chzu7il5fhtb8be: 'web' }), { trunc: true, quiet: false, format: '{{.ID}}|{{.Image}}|{{.Error}}|{{.CurrentState}}', now }),
    `abcdefghijkl|redis:7|"${'x'.repeat(29)}…"|Failed 5 hours ago\n`,
  );
});

t.test('service ls and node ls goldens', async (t) => {
  const svc = (id: string, name: string) => ({ ID: id, Spec: { Name: name, Mode: { Replicated: {} } } });
  t.equal(
    printServices([svc('a57dbe8', 'service-1-foo'), svc('a57dbdd', 'service-10-foo'), svc('aaaaaaa', 'service-2-foo')], '{{.Name}}', false),
    'service-1-foo\nservice-2-foo\nservice-10-foo\n',
    'service-list-sort.golden',
  );
  const ports = (list: Array<[number, number, string?]>) => ({ Endpoint: { Ports: list.map(([p, tp, proto]) => ({ PublishedPort: p, TargetPort: tp, Protocol: proto ?? 'tcp', PublishMode: 'ingress' })) } });
  t.equal(servicePorts(ports([[80, 80], [81, 81], [82, 82]])), '*:80-82->80-82/tcp');
  t.equal(servicePorts(ports([[80, 80], [81, 80]])), '*:80-81->80/tcp');
  t.equal(servicePorts(ports([[80, 80], [81, 81], [82, 80]])), '*:80-81->80-81/tcp, *:82->80/tcp');
  t.equal(servicePorts(ports([[53, 53, 'udp'], [53, 53, 'tcp']])), '*:53->53/tcp, *:53->53/udp');
  const node = (id: string, hostname: string, engine: string, ms?: Record<string, unknown>) => ({
    ID: id,
    Description: { Hostname: hostname, Engine: { EngineVersion: engine } },
    Status: { State: 'ready' },
    Spec: { Availability: 'active' },
    ...(ms ? { ManagerStatus: ms } : {}),
  });
  const nodes = [
    node('nodeID1', 'node-2-foo', '.', { Leader: true, Reachability: 'reachable' }),
    node('nodeID2', 'node-10-foo', '18.03.0-ce', { Reachability: 'reachable' }),
    node('nodeID3', 'node-1-foo', '1.13.0'),
  ];
  t.equal(
    printNodes(nodes, 'nodeID1', 'table', false),
    'ID          HOSTNAME      STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n' +
      'nodeID3     node-1-foo    Ready     Active                          1.13.0\n' +
      'nodeID1 *   node-2-foo    Ready     Active         Leader           .\n' +
      'nodeID2     node-10-foo   Ready     Active         Reachable        18.03.0-ce\n',
    'node-list-sort.golden',
  );
  const two = [node('nodeID1', 'nodeHostname1', '', { Leader: true }), node('nodeID2', 'nodeHostname2', '', { Reachability: 'reachable' })];
  t.equal(printNodes(two, 'nodeID1', '{{.Hostname}}: {{.ManagerStatus}}', false), 'nodeHostname1: Leader\nnodeHostname2: Reachable\n', 'node-list-format-flag.golden');
  t.equal(printNodes(two, '', 'table', true), 'nodeID1\nnodeID2\n', '-q');
});

t.test('node inspect --pretty golden (manager-leader)', async (t) => {
  const node = {
    ID: 'nodeID',
    CreatedAt: DEFAULT_TIME,
    Description: {
      Hostname: 'defaultNodeHostname',
      Platform: { Architecture: 'x86_64', OS: 'linux' },
      Resources: { NanoCPUs: 4, MemoryBytes: 20 * 1024 * 1024 },
      Engine: {
        EngineVersion: '1.13.0',
        Labels: { engine: 'label' },
        Plugins: [{ Type: 'Volume', Name: 'local' }, { Type: 'Network', Name: 'bridge' }, { Type: 'Network', Name: 'overlay' }],
      },
    },
    Status: { State: 'ready', Addr: '127.0.0.1' },
    Spec: { Name: 'defaultNodeName', Role: 'worker', Availability: 'active' },
    ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: '127.0.0.1' },
  };
  t.equal(
    formatWrite(NODE_PRETTY_TEMPLATE, [nodePrettyContext(node)], null),
    [
      'ID:\t\t\tnodeID',
      'Name:\t\t\tdefaultNodeName',
      'Hostname:              \tdefaultNodeHostname',
      'Joined at:             \t2009-11-10 23:00:00 +0000 utc',
      'Status:',
      ' State:\t\t\tReady',
      ' Availability:         \tActive',
      ' Address:\t\t127.0.0.1',
      'Manager Status:',
      ' Address:\t\t127.0.0.1',
      ' Raft Status:\t\tReachable',
      ' Leader:\t\tYes',
      'Platform:',
      ' Operating System:\tlinux',
      ' Architecture:\t\tx86_64',
      'Resources:',
      ' CPUs:\t\t\t0',
      ' Memory:\t\t20MiB',
      'Plugins:',
      ' Network:\t\tbridge, overlay',
      ' Volume:\t\tlocal',
      'Engine Version:\t\t1.13.0',
      'Engine Labels:',
      ' - engine=label',
      '',
    ].join('\n'),
  );
});

t.test("inspect JSON in Go's layout (go-shape)", async (t) => {
  const { NODE, SERVICE, goJSON, shape } = await import('../../cli/swarm/go-shape.js');
  t.equal(
    goJSON(shape({ Spec: { Availability: 'active', Name: 'n', Extra: 1 }, ID: 'x', CreatedAt: '2024-01-02T03:04:05.500000000Z' }, NODE)),
    '{"ID":"x","Version":{},"CreatedAt":"2024-01-02T03:04:05.5Z","UpdatedAt":"0001-01-01T00:00:00Z","Spec":{"Name":"n","Labels":null,"Availability":"active","Extra":1},' +
      '"Description":{"Platform":{},"Resources":{},"Engine":{},"TLSInfo":{}},"Status":{}}',
    'Go field order, zero structs (time.Time too) written, empty fields omitted, times trimmed, unknown keys kept last',
  );
  const s = shape({ ID: 's', Spec: { TaskTemplate: { ContainerSpec: { Init: false, Env: [], Image: 'a<b' } } } }, SERVICE);
  t.equal(
    goJSON(s),
    '{"ID":"s","Version":{},"CreatedAt":"0001-01-01T00:00:00Z","UpdatedAt":"0001-01-01T00:00:00Z","Spec":{"Labels":null,"TaskTemplate":{"ContainerSpec":{"Image":"a\\u003cb","Init":false},"ForceUpdate":0},"Mode":{}},"Endpoint":{"Spec":{}}}',
    'a *bool false is kept, an empty slice dropped, HTML characters escaped as json.Marshal does',
  );
});
