// The comparison suite for one kind (secret or config): the stock docker CLI and runsecrets, same arguments, same
// real manager, same stdout, stderr and exit code. Commands that change state are run twice from the same
// starting state (set through the API between the runs).
import type { Test } from 'tap';
import { startManager } from '../helpers/manager.js';
import { compat, compatSkipReason, idToken, ID_LINE, same, specOf, type Compat, type Kind } from './compat.js';

export function compatSuite(t: Test, kind: Kind): void {
  const skip = compatSkipReason();
  if (skip) {
    process.stderr.write(`# SKIP docker comparison tests: ${skip}\n`);
    t.test(`docker ${kind} commands`, { skip }, async () => undefined);
    return;
  }
  const max = kind === 'secret' ? 512_000 : 1_024_000;

  t.test(`docker ${kind} vs runsecrets ${kind}`, async (t) => {
    const m = await startManager({ t, tcp: true });
    const c = compat(m);
    t.teardown(() => c.cleanup());

    t.test('create from a file and from stdin, with labels', async (t) => {
      const file = c.file('payload.txt', 'file payload\n');
      // Each CLI creates the object from the same empty start; both must print an ID and make the same object.
      const createdByBoth = async (name: string, args: string[], input?: string): Promise<void> => {
        const specs: unknown[] = [];
        const r = await same(t, c, args, {
          input,
          setup: async () => {
            const o = await c.get(kind, name);
            if (o) specs.push(specOf(o));
            await c.remove(kind, name);
          },
          normalize: idToken,
        });
        t.equal(r.stdout, '<ID>\n', `${name}: prints the new ID`);
        specs.push(specOf(await c.get(kind, name)));
        t.equal(specs.length, 2, `${name}: both runs created it`);
        t.same(specs[1], specs[0], `${name}: the same object from both CLIs (name, labels, data, templating)`);
      };
      await createdByBoth('from-file', [kind, 'create', '-l', 'env=prod', '--label', 'flag', '-l', 'x= spaced value ', 'from-file', file]);
      await createdByBoth('from-stdin', [kind, 'create', 'from-stdin', '-'], 'stdin payload');
      await createdByBoth('templated', [kind, 'create', '--template-driver', 'golang', '--label=a=b', 'templated', file]);
      const mine = await c.ours([kind, 'create', 'mine', file]);
      t.match(mine.stdout, ID_LINE);
      t.equal(mine.code, 0);
    });

    t.test('ls: natural order, -q, filters, --format', async (t) => {
      // Created together, so that their relative times tick together; listed with a name-prefix filter.
      await Promise.all([
        ...['10-foo', '2-foo', '1-foo'].map((n) => c.create(kind, `ls-${n}`, `data ${n}`, { env: n === '2-foo' ? 'dev' : 'prod' })),
        c.create(kind, 'ls-labelled', 'x', { 'com.example.my-label': 'v1' }),
      ]);
      const anchors: number[] = [];
      for (const n of ['ls-10-foo', 'ls-2-foo', 'ls-1-foo', 'ls-labelled']) anchors.push(Date.parse(String((await c.get(kind, n))!.CreatedAt)));
      await same(t, c, [kind, 'ls']);
      await same(t, c, [kind, 'ls', '-f', 'name=ls-'], { anchors });
      await same(t, c, [kind, 'list', '-q']);
      await same(t, c, [kind, 'ls', '-f', 'name=ls-', '--format', 'json'], { anchors });
      // .Labels only where there is at most one label: docker joins them in Go's random map order.
      await same(t, c, [kind, 'ls', '-f', 'name=ls-', '--format', '{{.ID}}: {{.Name}} {{.Label "env"}} [{{.Labels}}]']);
      await same(t, c, [kind, 'ls', '--format', '{{.ID}}: {{.Name}} {{.Label "env"}} {{.Label "x"}}|']);
      await same(t, c, [kind, 'ls', '-f', 'name=ls-', '--format', 'table {{.ID}}\t{{.Name}}\t{{.Labels}}\t{{.CreatedAt}}'], { anchors });
      await same(t, c, [kind, 'ls', '--format', 'table {{.Name}}\\t{{.Label "com.example.my-label"}}']);
      await same(t, c, [kind, 'ls', '-f', 'name=LS-', '--format', 'table'], { anchors });
      await same(t, c, [kind, 'ls', '-q', '--format', '{{.Name}}']);
      await same(t, c, [kind, 'ls', '--filter', 'name=ls-1', '-q']);
      await same(t, c, [kind, 'ls', '-f', 'NAME=ls-1-FOO', '-f', 'name=ls-labelled', '-q']);
      await same(t, c, [kind, 'ls', '-f', 'label=env=prod', '--format', '{{.Name}}']);
      await same(t, c, [kind, 'ls', '-f', 'label=env', '-f', 'name=ls-2', '--format', '{{.Name}}']);
      const [someId] = await c.ids(kind);
      await same(t, c, [kind, 'ls', '-f', `id=${someId!.slice(0, 5)}`, '-q']);
      if (kind === 'secret') await same(t, c, [kind, 'ls', '-f', 'names=ls-1-foo', '-q']);
      await same(t, c, [kind, 'ls', '-f', 'name=no-such-thing']);
      await same(t, c, [kind, 'ls', '-f', 'bogus=1']);
      if (kind === 'config') await same(t, c, [kind, 'ls', '-f', 'names=ls-1-foo']);
      await same(t, c, [kind, 'ls', '--format', '{{.Nope}}']);
      await same(t, c, [kind, 'ls', '--format', '{{.Name']);
    });

    t.test('inspect: JSON, -f json, templates, --pretty', async (t) => {
      const id = await c.create(kind, 'insp', 'multi\nline\n', { a: '1', b: '' });
      await c.create(kind, 'insp2', 'second');
      await same(t, c, [kind, 'inspect', 'insp']);
      await same(t, c, [kind, 'inspect', id, 'insp2']);
      await same(t, c, [kind, 'inspect', id.slice(0, 12)]);
      await same(t, c, [kind, 'inspect', 'INSP']);
      await same(t, c, [kind, 'inspect', '-f', 'json', 'insp', 'insp2']);
      await same(t, c, [kind, 'inspect', '--pretty', 'insp', 'insp2']);
      await same(t, c, [kind, 'inspect', '--pretty', '--format', '{{.ID}}', 'insp']);
      await same(t, c, [kind, 'inspect', '--format', 'pretty-ish', 'insp']);
      await same(t, c, [kind, 'inspect', '-f', '{{.ID}} {{.Spec.Name}} {{.CreatedAt}} {{.Version}} {{.Version.Index}}', 'insp']);
      await same(t, c, [kind, 'inspect', '-f', '{{json .Spec.Labels}} {{json .}}', 'insp']);
      await same(t, c, [kind, 'inspect', '-f', '{{.Spec}} | {{.Spec.Data}} | {{.Meta.UpdatedAt}}', 'insp']);
      await same(t, c, [kind, 'inspect', '-f', '{{printf "%s|%q|%v|%5.2s|" .Spec.Data .Spec.Name .Version "abc"}}', 'insp']);
      await same(t, c, [kind, 'inspect', '-f', '{{range $k, $v := .Spec.Labels}}{{$k}}={{$v}};{{end}}', 'insp']);
      await same(t, c, [kind, 'inspect', '-f', '{{.Foo}}', 'insp']);
      await same(t, c, [kind, 'inspect', '-f', '{{.Spec.Foo}}', 'insp', 'nope']);
      await same(t, c, [kind, 'inspect', '-f', '{{.Name', 'insp']);
      await same(t, c, [kind, 'inspect', 'nope', 'insp', 'nope2']);
      await same(t, c, [kind, 'inspect', '--pretty', 'nope', 'insp']);
      await same(t, c, [kind, 'inspect', '-f', '{{.ID}}', 'nope']);
      // docker 28.2.2's client misspells the kind here ("invalid contig name or ID", fixed upstream later).
      await same(t, c, [kind, 'inspect', '', ' '], { normalize: (r) => ({ ...r, stderr: r.stderr.replace(/invalid contig /g, 'invalid config ') }) });
    });

    t.test('rm: several, printed as typed, errors joined', async (t) => {
      const setup = async (): Promise<void> => {
        for (const n of ['rm-a', 'rm-b', 'rm-c']) if (!(await c.get(kind, n))) await c.create(kind, n);
      };
      await same(t, c, [kind, 'rm', 'rm-a', 'rm-b'], { setup });
      await same(t, c, [kind, 'remove', 'RM-A', 'nope', 'rm-c', 'rm-c'], { setup });
      await same(t, c, [kind, 'rm', ' ', 'rm-b'], { setup, normalize: (r) => ({ ...r, stderr: r.stderr.replace(/invalid contig /g, 'invalid config ') }) });
    });

    t.test("docker's errors", async (t) => {
      const exists = async (): Promise<void> => {
        if (!(await c.get(kind, 'taken'))) await c.create(kind, 'taken');
      };
      const file = c.file('small.txt', 'small');
      await same(t, c, [kind, 'create', 'taken', file], { setup: exists });
      await same(t, c, [kind, 'create', 'TAKEN', file], { setup: exists });
      await same(t, c, [kind, 'create', 'bad name', file]);
      await same(t, c, [kind, 'create', 'bad_', file]);
      await same(t, c, [kind, 'create', 'x'.repeat(65), file]);
      await same(t, c, [kind, 'create', 'empty', c.file('empty.txt', '')]);
      await same(t, c, [kind, 'create', 'empty', '-'], { input: '' });
      await same(t, c, [kind, 'create', 'missing', `${c.dir}/no-such-file`]);
      await same(t, c, [kind, 'create', 'isdir', c.dir]);
      await same(t, c, [kind, 'create', 'big', c.file('big.bin', Buffer.alloc(max, 0x61))]);
      await same(t, c, [kind, 'create', 'huge', '-'], { input: Buffer.alloc(2 * max + 4096, 0x62) });
      const largest = c.file('largest.bin', Buffer.alloc(max - 1, 0x63));
      await same(t, c, [kind, 'create', 'largest', largest], { setup: () => c.remove(kind, 'largest'), normalize: idToken });
      await same(t, c, [kind, 'inspect', 'no-such']);
      await same(t, c, [kind, 'rm', 'no-such']);
      // An ambiguous ID prefix: create until two IDs share a first character.
      let prefix = '';
      for (let i = 0; i < 40 && prefix === ''; i++) {
        await c.create(kind, `amb-${i}`);
        const firsts = (await c.ids(kind)).map((x) => x[0]!);
        prefix = firsts.find((ch, j) => firsts.indexOf(ch) !== j) ?? '';
      }
      t.not(prefix, '', 'found two IDs with a common prefix');
      await same(t, c, [kind, 'inspect', prefix]);
      await same(t, c, [kind, 'rm', prefix]);
      if (kind === 'secret') {
        await same(t, c, [kind, 'create', '-d', 'somedriver', 'drv', file]);
        await same(t, c, [kind, 'create', '--driver', 'somedriver', 'drv']);
      }
    });

    t.test('usage errors (docker names itself and exits 125 on flag errors; we exit 1)', async (t) => {
      const file = c.file('u.txt', 'u');
      await same(t, c, [kind, 'create'], { usage: true });
      await same(t, c, [kind, 'create', 'a', file, 'extra'], { usage: true });
      if (kind === 'config') await same(t, c, [kind, 'create', 'only-name'], { usage: true });
      await same(t, c, [kind, 'create', '-l', '=x', 'a', file], { usage: true });
      await same(t, c, [kind, 'create', '-l', ' a b=x', 'a', file], { usage: true });
      await same(t, c, [kind, 'ls', 'extra'], { usage: true });
      await same(t, c, [kind, 'ls', '-f', 'nofilter'], { usage: true });
      await same(t, c, [kind, 'ls', '--bogus'], { usage: true });
      await same(t, c, [kind, 'ls', '-x'], { usage: true });
      await same(t, c, [kind, 'ls', '--format'], { usage: true });
      await same(t, c, [kind, 'inspect'], { usage: true });
      await same(t, c, [kind, 'rm'], { usage: true });
      await same(t, c, [kind, 'bogus'], { usage: true });
    });

    t.test('TCP with mutual TLS: the admin certificate works for both CLIs', async (t) => {
      await c.create(kind, 'over-tls', 'tls');
      const host = `tcp://127.0.0.1:${m.tcpPort}`;
      const certs = m.adminCertDir;
      const d = await dockerTls(c, [kind, 'ls', '-q', '-f', 'name=over-tls'], host, certs);
      const flags = await c.ours([kind, 'ls', '-q', '-f', 'name=over-tls', '-H', host, '--tlscert', `${certs}/cert.pem`, '--tlskey', `${certs}/key.pem`, '--tlscacert', `${certs}/ca.pem`]);
      t.equal(d.code, 0, d.stderr);
      t.same(flags, d, '--host and --tls* flags');
      const plain = await c.ours([kind, '--host', host, 'ls', '-q', '-f', 'name=over-tls']);
      t.equal(plain.code, 1, 'plain TCP (no TLS) to the TLS port fails');
      const noCert = await c.ours([kind, 'ls', '-q', '-H', host, '--tlscacert', `${certs}/ca.pem`]);
      // The TCP port also serves the certificate-less join routes, so a control request without a certificate has
      // its connection dropped right after the handshake (Go's client then says EOF) instead of a TLS alert.
      t.equal(noCert.code, 1);
      t.equal(noCert.stdout, '');
      t.equal(noCert.stderr, `error during connect: Get "https://127.0.0.1:${m.tcpPort}/v1.47/${kind}s": EOF\n`, 'TLS without a client certificate gets no connection, in Go\'s words');
      const untrusted = await c.ours([kind, 'ls', '-q', '-H', host, '--tlscert', `${certs}/cert.pem`, '--tlskey', `${certs}/key.pem`]);
      t.match(untrusted.stderr, /x509: certificate signed by unknown authority\n$/, 'the manager is not trusted without its CA');
      t.equal(untrusted.code, 1);
    });
  });
}

async function dockerTls(c: Compat, args: string[], host: string, certs: string) {
  return c.docker(['--host', host, '--tlsverify', '--tlscacert', `${certs}/ca.pem`, '--tlscert', `${certs}/cert.pem`, '--tlskey', `${certs}/key.pem`, ...args]);
}
