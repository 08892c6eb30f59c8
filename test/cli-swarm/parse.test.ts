// Parsing docker's service flags (secret/config references in short and long syntax, durations, unsigned
// numbers, env, --args, image names) with docker's exact error texts, and the request bodies built from them,
// compared byte for byte with the bodies docker 28.2.2 sent for the same flags (captured from the stock CLI).
import t from 'tap';
import { parseFileRef, refToJSON, RefParseError } from '../../cli/swarm/file-refs.js';
import { parseCsvRecord } from '../../cli/swarm/csv-record.js';
import { formatDuration, parseDuration, parseUint } from '../../cli/swarm/go-parse.js';
import { displayImage, imageWithLatest } from '../../cli/swarm/image-ref.js';
import { expandEnv, shellSplit, type ServiceOpts } from '../../cli/service/options.js';
import { createSpec, updateSpec } from '../../cli/service/spec.js';
import { SERVICE_SPEC, shape } from '../../cli/swarm/go-shape.js';

t.test('--secret/--config: short and long syntax with docker defaults', async (t) => {
  t.same(parseFileRef('secret', 'db_pw'), { kind: 'secret', name: 'db_pw', file: { Name: 'db_pw', UID: '0', GID: '0', Mode: 0o444 } });
  t.same(parseFileRef('secret', 'source=app-key,target=app,uid=1000,gid=1001,mode=0400').file, { Name: 'app', UID: '1000', GID: '1001', Mode: 0o400 });
  t.same(parseFileRef('config', 'src=c').file.Name, 'c', 'target defaults to the source name');
  t.equal(parseFileRef('secret', 'SOURCE=a,Target=/etc/a').file.Name, '/etc/a', 'keys are case-insensitive');
  t.equal(parseFileRef('secret', 'source=a,mode=0o400').file.Mode, 0o400, '0o prefix is octal');
  t.equal(parseFileRef('secret', 'source=a,mode=0x1ff').file.Mode, 0o777, '0x prefix is hex');
  t.equal(parseFileRef('secret', 'source=a,mode=400').file.Mode, 400, 'no prefix is decimal (0620)');
  t.equal(parseFileRef('secret', 'source=a,"target=x,y"').file.Name, 'x,y', 'a quoted CSV field keeps its comma');
  t.same(refToJSON(parseFileRef('secret', 'a'), 'ID1'), { File: { Name: 'a', UID: '0', GID: '0', Mode: 292 }, SecretID: 'ID1', SecretName: 'a' });
  t.same(Object.keys(refToJSON(parseFileRef('config', 'a'), 'ID2')), ['File', 'ConfigID', 'ConfigName']);
  const errors: Array<[string, string, string]> = [
    ['secret', 'source=', 'source is required'],
    ['secret', 'target=x', 'source is required'],
    ['secret', 'foo,bar', "invalid field 'foo' must be a key=value pair"],
    ['secret', '=x', "invalid field '=x' must be a key=value pair"],
    ['secret', 'source=a,bogus=1', 'invalid field in secret request: bogus'],
    ['config', 'source=a,Bogus=1', 'invalid field in config request: Bogus'],
    ['secret', 'source=a,mode=abc', 'invalid mode specified: strconv.ParseUint: parsing "abc": invalid syntax'],
    ['secret', 'source=a,mode=99999999999', 'invalid mode specified: strconv.ParseUint: parsing "99999999999": value out of range'],
    ['secret', '"a,b', 'parse error on line 1, column 5: extraneous or missing " in quoted-field'],
    ['secret', 'a"b', 'parse error on line 1, column 2: bare " in non-quoted-field'],
    ['secret', '', 'EOF'],
  ];
  for (const [kind, value, msg] of errors) {
    t.throws(() => parseFileRef(kind as 'secret' | 'config', value), new RefParseError(msg), `${kind} ${value}`);
  }
  t.same(parseCsvRecord('a,,b'), ['a', '', 'b']);
  t.same(parseCsvRecord('"x""y",z'), ['x"y', 'z']);
});

t.test('durations and unsigned numbers as Go parses and prints them', async (t) => {
  t.equal(parseDuration('10s'), 10e9);
  t.equal(parseDuration('1m30s'), 90e9);
  t.equal(parseDuration('1h2m3.5s'), 3723.5e9);
  t.equal(parseDuration('1.5s'), 1.5e9);
  t.equal(parseDuration('500ms'), 5e8);
  t.equal(parseDuration('0'), 0);
  t.equal(parseDuration('-2m'), -120e9);
  t.throws(() => parseDuration('10'), { message: 'time: missing unit in duration "10"' });
  t.throws(() => parseDuration('abc'), { message: 'time: invalid duration "abc"' });
  t.throws(() => parseDuration('1x'), { message: 'time: unknown unit "x" in duration "1x"' });
  t.throws(() => parseDuration(''), { message: 'time: invalid duration ""' });
  for (const [ns, text] of [[0, '0s'], [5e9, '5s'], [90e9, '1m30s'], [3723.5e9, '1h2m3.5s'], [1.5e6, '1.5ms'], [2500, '2.5µs'], [7, '7ns']] as const) {
    t.equal(formatDuration(ns), text);
  }
  t.equal(parseUint('12', 10, 64), 12n);
  t.equal(parseUint('0x10', 0, 64), 16n);
  t.equal(parseUint('010', 0, 64), 8n);
  t.throws(() => parseUint('x', 10, 64), { message: 'strconv.ParseUint: parsing "x": invalid syntax' });
  t.throws(() => parseUint('-1', 0, 64), { message: 'strconv.ParseUint: parsing "-1": invalid syntax' });
  t.throws(() => parseUint('4294967296', 0, 32), { message: 'strconv.ParseUint: parsing "4294967296": value out of range' });
});

t.test('env, --args and image names', async (t) => {
  t.equal(expandEnv('A=1', {}), 'A=1');
  t.equal(expandEnv('B', { B: 'from-env' }), 'B=from-env', 'a bare name takes our environment value');
  t.equal(expandEnv('C', {}), 'C', 'unset stays a bare name');
  t.same(shellSplit(`sh -c 'sleep 1' "a b" c\\ d`), ['sh', '-c', 'sleep 1', 'a b', 'c d']);
  t.equal(imageWithLatest('alpine'), 'alpine:latest');
  t.equal(imageWithLatest('docker.io/library/nginx'), 'nginx:latest');
  t.equal(imageWithLatest('docker.io/library/memcached:1.6'), 'memcached:1.6');
  t.equal(imageWithLatest('localhost:5000/team/app'), 'localhost:5000/team/app:latest');
  t.equal(imageWithLatest('busybox:1.36'), 'busybox:1.36');
  const digest = 'sha256:' + 'ab'.repeat(32);
  t.equal(imageWithLatest(`redis@${digest}`), `redis@${digest}`, 'a digest needs no tag');
  t.equal(imageWithLatest('Not/Valid'), 'Not/Valid', 'an invalid reference is left alone');
  t.equal(displayImage(`redis:7.4.1@${digest}`), 'redis:7.4.1', 'lists drop the digest');
  t.equal(displayImage(`redis@${digest}`), `redis@${digest}`);
});

function opts(o: Partial<ServiceOpts>): ServiceOpts {
  return { labels: [], labelRm: [], env: [], envRm: [], constraints: [], constraintRm: [], secrets: [], secretRm: [], configs: [], configRm: [], force: false, ...o };
}

t.test('service create bodies are the ones docker sends', async (t) => {
  // docker 28.2.2: service create -d --no-resolve-image alpine
  t.equal(
    JSON.stringify(createSpec(opts({}), 'alpine', [], [], [])),
    '{"Labels":{},"TaskTemplate":{"ContainerSpec":{"Image":"alpine:latest","Init":false,"DNSConfig":{}},"Resources":{"Limits":{},"Reservations":{}},"Placement":{},"ForceUpdate":0},"Mode":{"Replicated":{}},"EndpointSpec":{"Mode":"vip"}}',
  );
  // docker 28.2.2: service create -d --mode global --restart-condition any busybox:1.36 echo a b
  t.equal(
    JSON.stringify(createSpec(opts({ mode: 'global', restartCondition: 'any' }), 'busybox:1.36', ['echo', 'a', 'b'], [], [])),
    '{"Labels":{},"TaskTemplate":{"ContainerSpec":{"Image":"busybox:1.36","Args":["echo","a","b"],"Init":false,"DNSConfig":{}},"Resources":{"Limits":{},"Reservations":{}},"RestartPolicy":{"Condition":"any","Delay":5000000000,"MaxAttempts":0},"Placement":{},"ForceUpdate":0},"Mode":{"Global":{}},"EndpointSpec":{"Mode":"vip"}}',
  );
  // docker 28.2.2: service create -d --name web --secret my_secret --secret source=other,target=/etc/o,uid=100,gid=101,mode=0400
  //   --config my_config -e A=1 --env B -w /w -u 1000:1000 --replicas 2 --constraint node.role==worker --restart-condition on-failure
  //   --restart-delay 10s --restart-max-attempts 3 --stop-grace-period 1m30s -l x=y alpine sleep 1d
  const o = opts({
    name: 'web',
    labels: ['x=y'],
    env: ['A=1', 'B'],
    workdir: '/w',
    user: '1000:1000',
    replicas: 2,
    constraints: ['node.role==worker'],
    restartCondition: 'on-failure',
    restartDelay: parseDuration('10s'),
    restartMaxAttempts: 3,
    stopGracePeriod: parseDuration('1m30s'),
  });
  const secrets = [refToJSON(parseFileRef('secret', 'my_secret'), 'sec1id'), refToJSON(parseFileRef('secret', 'source=other,target=/etc/o,uid=100,gid=101,mode=0400'), 'sec2id')];
  const configs = [refToJSON(parseFileRef('config', 'my_config'), 'cfg1id')];
  t.equal(
    JSON.stringify(createSpec(o, 'alpine', ['sleep', '1d'], secrets, configs)),
    '{"Name":"web","Labels":{"x":"y"},"TaskTemplate":{"ContainerSpec":{"Image":"alpine:latest","Args":["sleep","1d"],"Env":["A=1","B"],"Dir":"/w","User":"1000:1000","Init":false,"StopGracePeriod":90000000000,"DNSConfig":{},"Secrets":[{"File":{"Name":"my_secret","UID":"0","GID":"0","Mode":292},"SecretID":"sec1id","SecretName":"my_secret"},{"File":{"Name":"/etc/o","UID":"100","GID":"101","Mode":256},"SecretID":"sec2id","SecretName":"other"}],"Configs":[{"File":{"Name":"my_config","UID":"0","GID":"0","Mode":292},"ConfigID":"cfg1id","ConfigName":"my_config"}]},"Resources":{"Limits":{},"Reservations":{}},"RestartPolicy":{"Condition":"on-failure","Delay":10000000000,"MaxAttempts":3},"Placement":{"Constraints":["node.role==worker"]},"ForceUpdate":0},"Mode":{"Replicated":{"Replicas":2}},"EndpointSpec":{"Mode":"vip"}}',
  );
  t.throws(() => createSpec(opts({ mode: 'foo' }), 'a', [], [], []), { message: 'Unknown mode: foo, only replicated and global supported' });
  t.throws(() => createSpec(opts({ mode: 'global', replicas: 2 }), 'a', [], [], []), { message: 'replicas can only be used with replicated or replicated-job mode' });
});

t.test('service update: read-modify-write as docker does it', async (t) => {
  const current = {
    Name: 'web',
    Labels: { a: 'b' },
    TaskTemplate: {
      ContainerSpec: {
        Image: 'alpine:latest',
        Args: ['sleep', '1d'],
        Secrets: [{ File: { Name: 'my_secret', UID: '0', GID: '0', Mode: 292 }, SecretID: 'sec1id', SecretName: 'my_secret' }],
        Isolation: 'default',
      },
      ForceUpdate: 0,
      Runtime: 'container',
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Mode: 'vip' },
  };
  // docker 28.2.2: service update -d --secret-rm my_secret --secret-add source=other,target=o2 --env-add C=3 --replicas 3 --force web
  const spec = structuredClone(current);
  const add = [refToJSON(parseFileRef('secret', 'source=other,target=o2'), 'sec2id')];
  updateSpec(spec, opts({ secretRm: ['my_secret'], env: ['C=3'], replicas: 3, force: true }), add, []);
  t.equal(
    JSON.stringify(shape(spec, SERVICE_SPEC)),
    '{"Name":"web","Labels":{"a":"b"},"TaskTemplate":{"ContainerSpec":{"Image":"alpine:latest","Args":["sleep","1d"],"Env":["C=3"],"Secrets":[{"File":{"Name":"o2","UID":"0","GID":"0","Mode":292},"SecretID":"sec2id","SecretName":"other"}],"Isolation":"default"},"ForceUpdate":1,"Runtime":"container"},"Mode":{"Replicated":{"Replicas":3}},"EndpointSpec":{"Mode":"vip"}}',
  );
  const s2 = structuredClone(current) as Record<string, unknown>;
  updateSpec(s2, opts({ constraints: ['b==1', 'a==1'], restartDelay: 2e9, labelRm: ['a'], labels: ['c=d'] }), [], []);
  const task = s2.TaskTemplate as Record<string, Record<string, unknown>>;
  t.same(task.Placement, { Constraints: ['a==1', 'b==1'] }, 'constraints are sorted, as docker sorts them');
  t.same(task.RestartPolicy, { Condition: 'any', Delay: 2e9, MaxAttempts: 0 }, 'restart defaults filled in');
  t.same(s2.Labels, { c: 'd' });
  t.throws(() => updateSpec({ Mode: { Global: {} } }, opts({ replicas: 2 }), [], []), { message: 'replicas can only be used with replicated mode' });
});
