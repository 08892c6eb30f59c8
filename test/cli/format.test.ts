// The formatting pieces against docker's own golden outputs (docker/cli v28.2.2 cli/command/{secret,config}/testdata)
// and Go's documented behaviour: tabwriter, natural sort, HumanDuration, Go templates, JSON indent, Go times.
import t from 'tap';
import { tabwrite, TabWriter } from '../../cli/format/tabwriter.js';
import { naturalCompare, naturalLess } from '../../cli/format/natural-sort.js';
import { humanDuration } from '../../cli/format/human-duration.js';
import { Template, TemplateError } from '../../cli/format/go-template.js';
import { GoMap, GoStruct, JsonNumber, goMarshalJSON, goSprint } from '../../cli/format/go-values.js';
import { compactJSON, indentJSON } from '../../cli/format/json-text.js';
import { GoTime } from '../../cli/format/go-time.js';
import { formatWrite } from '../../cli/format/formatter.js';
import { inspectRefs } from '../../cli/format/inspect.js';
import { goQuote } from '../../cli/format/go-quote.js';
import { decodeObject } from '../../cli/objects/model.js';
import { headerContext, listContext, prettyContext, resolveFormat } from '../../cli/objects/contexts.js';

const HOUR = 3_600_000;

t.test('tabwriter: docker table settings (minwidth 10, padding 3)', async (t) => {
  const rows = [
    'ID\tNAME\tDRIVER\tCREATED\tUPDATED',
    'ID-1-foo\t1-foo\t\t2 hours ago\tAbout an hour ago',
    'ID-2-foo\t2-foo\tdriver\t2 hours ago\tAbout an hour ago',
    'ID-10-foo\t10-foo\tdriver\t2 hours ago\tAbout an hour ago',
  ];
  // secret-list-sort.golden
  t.equal(
    tabwrite(rows.join('\n') + '\n'),
    'ID          NAME      DRIVER    CREATED       UPDATED\n' +
      'ID-1-foo    1-foo               2 hours ago   About an hour ago\n' +
      'ID-2-foo    2-foo     driver    2 hours ago   About an hour ago\n' +
      'ID-10-foo   10-foo    driver    2 hours ago   About an hour ago\n',
  );
  t.equal(tabwrite('a\tb\n'), 'a         b\n', 'short cells pad to minwidth');
  t.equal(tabwrite('abcdefghijk\tb\n'), 'abcdefghijk   b\n', 'long cells get the padding');
  t.equal(tabwrite('no tabs\nat all\n'), 'no tabs\nat all\n', 'one-cell lines pass through');
  // A one-cell line flushes: columns above and below it are sized separately (Go's behaviour).
  t.equal(tabwrite('a\tb\nsingle\nlonger-cell\tc\n'), 'a         b\nsingle\nlonger-cell   c\n');
  // Column blocks: a column's width covers only the consecutive lines that have it.
  t.equal(tabwrite('x\ty\tz\nxx\tyy\n'), 'x         y         z\nxx        yy\n');
  t.equal(tabwrite('a\tb'), 'a         b', 'unterminated last line is still written');
  const w = new TabWriter();
  w.write('ID\tNA');
  w.write('ME\n1\t');
  w.write('x\n');
  t.equal(w.flush(), 'ID        NAME\n1         x\n', 'writes may split cells');
  t.equal(tabwrite('日本\tx\n'), '日本      x\n', 'wide characters count two cells');
});

t.test('natural sort (sortorder.NaturalLess)', async (t) => {
  t.same(['10-foo', '2-foo', '1-foo'].sort(naturalCompare), ['1-foo', '2-foo', '10-foo']);
  t.same(['a10', 'a2', 'a1', 'b', 'A'].sort(naturalCompare), ['A', 'a1', 'a2', 'a10', 'b']);
  t.ok(naturalLess('1', 'a'), 'digits sort before other characters');
  t.ok(naturalLess('a01', 'a001'), 'equal numbers: fewer leading zeros first');
  t.ok(naturalLess('x9', 'x10'));
  t.notOk(naturalLess('x10', 'x9'));
  t.ok(naturalLess('abc', 'abcd'), 'a prefix sorts first');
  t.notOk(naturalLess('same', 'same'));
});

t.test('HumanDuration (docker/go-units) boundaries', async (t) => {
  const s = 1000;
  const m = 60 * s;
  const cases: Array<[number, string]> = [
    [-5 * s, 'Less than a second'],
    [999, 'Less than a second'],
    [1 * s, '1 second'],
    [1999, '1 second'],
    [2 * s, '2 seconds'],
    [59 * s, '59 seconds'],
    [60 * s, 'About a minute'],
    [119 * s, 'About a minute'],
    [2 * m, '2 minutes'],
    [59 * m, '59 minutes'],
    [60 * m, 'About an hour'],
    [89 * m, 'About an hour'],
    [90 * m, '2 hours'], // hours are rounded: int(hours + 0.5)
    [47 * HOUR, '47 hours'],
    [47.5 * HOUR, '2 days'],
    [48 * HOUR, '2 days'],
    [13 * 24 * HOUR, '13 days'],
    [14 * 24 * HOUR, '2 weeks'],
    [59 * 24 * HOUR, '8 weeks'],
    [60 * 24 * HOUR, '2 months'],
    [729 * 24 * HOUR, '24 months'],
    [730 * 24 * HOUR, '2 years'],
    [3650 * 24 * HOUR, '10 years'],
  ];
  for (const [ms, want] of cases) t.equal(humanDuration(ms), want, `${ms} ms`);
});

function run(src: string, dot: Parameters<Template['execute']>[0], opts?: Parameters<Template['execute']>[1]): string {
  try {
    return Template.parse(src).execute(dot, opts);
  } catch (e) {
    if (e instanceof TemplateError) return `ERR ${e.message}`;
    throw e;
  }
}

t.test('Go template subset', async (t) => {
  const labels = GoMap.fromRecord({ b: '2', a: '' });
  const spec = new GoStruct('swarm.SecretSpec', [
    { name: 'Name', value: 'foo' },
    { name: 'Labels', value: labels },
  ]);
  const dot = new GoStruct('swarm.Secret', [{ name: 'ID', value: 'abc' }, { name: 'Spec', value: spec }], {
    Label: (k) => (labels.entries.get(String(k)) as string | undefined) ?? '',
  });
  t.equal(run('{{.ID}} {{.Spec.Name}}', dot), 'abc foo', 'fields and chains');
  t.equal(run('{{.Label "b"}}|{{.Label "zz"}}', dot), '2|', 'methods with arguments');
  t.equal(run('{{json .Spec.Labels}}', dot), '{"a":"","b":"2"}', 'json sorts map keys');
  t.equal(run('{{json .}}', dot), '{"ID":"abc","Spec":{"Name":"foo","Labels":{"a":"","b":"2"}}}', 'json of a struct keeps field order');
  t.equal(run('{{.Spec.Labels}}', dot), 'map[a: b:2]', 'maps print like fmt');
  t.equal(run('{{range $k, $v := .Spec.Labels}}[{{$k}}{{if $v}}={{$v}}{{end}}]{{end}}', dot), '[a][b=2]', 'range over a map, sorted');
  t.equal(run('{{range .Missing}}x{{else}}none{{end}}', new GoMap(new Map())), 'none', 'range else');
  t.equal(run('a {{- " b " -}} c', null), 'a b c', 'trim markers');
  t.equal(run('{{/* comment */}}x', null), 'x', 'comments');
  t.equal(run('{{.ID | upper}} {{lower "ABC"}} {{title "hello world"}}', dot), 'ABC abc Hello World', 'pipelines and docker functions');
  t.equal(run('{{join (split "a,b,c" ",") "-"}}', null), 'a-b-c', 'split and join');
  t.equal(run('{{pad "x" 1 2}}|{{pad "" 1 2}}|{{truncate "abcdef" 3}}', null), ' x  ||abc', 'pad and truncate');
  t.equal(run('{{printf "%s=%d" .ID 3}} {{len .Spec.Labels}} {{index .Spec.Labels "b"}}', dot), 'abc=3 2 2', 'printf, len, index');
  t.equal(run('{{if eq .ID "abc"}}yes{{else if eq .ID "x"}}x{{else}}no{{end}}', dot), 'yes', 'if / else if');
  t.equal(run('{{if and .ID (not .Nope)}}1{{end}}', new GoMap(new Map([['ID', 'x']]))), '1', 'and, not, missing map key is false');
  t.equal(run('{{with .Spec}}{{.Name}}{{end}}', dot), 'foo', 'with');
  t.equal(run('{{$n := .Spec.Name}}{{$n}}-{{$.ID}}', dot), 'foo-abc', 'variables');
  t.equal(run('{{.Nope}}', new GoMap(new Map())), '<no value>', 'missing map key prints <no value>');
  t.equal(run('{{.}}', new JsonNumber('1.50')), '1.50', 'json.Number prints as written');
  t.equal(run('{{.}}', new Uint8Array([104, 105])), '[104 105]', '[]byte prints as numbers');
  // Error texts as Go's text/template words them.
  t.equal(run('{{.Foo}}', dot), 'ERR template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type swarm.Secret');
  t.equal(
    run('{{.Spec.Foo}}', dot),
    'ERR template: :1:7: executing "" at <.Spec.Foo>: can\'t evaluate field Foo in type swarm.SecretSpec',
    'a chain reports the position of its second field, like Go',
  );
  t.equal(run('{{.Foo}}', new GoMap(new Map()), { missingKeyError: true }), 'ERR template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"');
  t.equal(run('{{foo .}}', dot), 'ERR template: :1: function "foo" not defined');
  t.equal(run('{{.ID', dot), 'ERR template: :1: unclosed action');
  t.equal(run('{{end}}', dot), 'ERR template: :1: unexpected {{end}}');
  t.equal(run('{{if .ID}}x', dot), 'ERR template: :1: unexpected EOF');
});

t.test('Go values: fmt and encoding/json', async (t) => {
  t.equal(goSprint(null), '<nil>');
  t.equal(goSprint(undefined), '<no value>');
  t.equal(goSprint([1, 'a', true]), '[1 a true]');
  t.equal(goSprint(1e-7), '1e-07');
  t.equal(goMarshalJSON('<&>'), '"<&>"', 'no HTML escaping (SetEscapeHTML(false))');
  t.equal(goMarshalJSON('<', true), '"\\u003c"', 'HTML escaping when asked');
  t.equal(goMarshalJSON('\u2028\n"\\'), '"\\u2028\\n\\"\\\\"');
  t.equal(goMarshalJSON(GoMap.fromRecord(null)), 'null', 'a nil map is null');
  t.equal(goMarshalJSON(new GoStruct('T', [{ name: 'A', value: '', omitempty: true }, { name: 'B', value: new Uint8Array([1]) }])), '{"B":"AQ=="}');
  t.equal(goQuote('a"b\n\x01é'), '"a\\"b\\n\\x01é"');
});

t.test('json.Indent / json.Compact keep the raw tokens', async (t) => {
  const raw = '{"ID":"ID-foo","Version":{},"CreatedAt":"0001-01-01T00:00:00Z","UpdatedAt":"0001-01-01T00:00:00Z","Spec":{"Name":"foo","Labels":null}}\n';
  // secret-inspect-without-format.single-secret.golden
  t.equal(
    indentJSON('[' + raw + ']'),
    '[\n    {\n        "ID": "ID-foo",\n        "Version": {},\n        "CreatedAt": "0001-01-01T00:00:00Z",\n' +
      '        "UpdatedAt": "0001-01-01T00:00:00Z",\n        "Spec": {\n            "Name": "foo",\n            "Labels": null\n' +
      '        }\n    }\n]',
  );
  t.equal(indentJSON('{"a":[],"b":[1, 2],"c":"x\\"y, {"}'), '{\n    "a": [],\n    "b": [\n        1,\n        2\n    ],\n    "c": "x\\"y, {"\n}');
  t.equal(compactJSON(' [ {"a" : 1.50 , "b":"\\u003c" } ] '), '[{"a":1.50,"b":"\\u003c"}]', 'numbers and escapes kept as sent');
  t.equal(indentJSON('{"1":1,"0":0}'), '{\n    "1": 1,\n    "0": 0\n}', 'key order kept (JS would reorder integer keys)');
});

t.test('Go time', async (t) => {
  const g = GoTime.parse('2017-03-24T08:15:09.735271783Z')!;
  t.equal(g.toGoString(), '2017-03-24 08:15:09.735271783 +0000 UTC');
  t.equal(g.toRFC3339Nano(), '2017-03-24T08:15:09.735271783Z');
  t.equal(GoTime.parse('2017-03-24T08:15:09.100Z')!.toRFC3339Nano(), '2017-03-24T08:15:09.1Z', 'trailing zeros dropped');
  t.equal(GoTime.zero().toGoString(), '0001-01-01 00:00:00 +0000 UTC');
  t.equal(GoTime.zero().toRFC3339Nano(), '0001-01-01T00:00:00Z');
  t.equal(GoTime.parse('2017-03-24T08:15:09+01:30')!.toGoString(), '2017-03-24 08:15:09 +0130 +0130');
  t.equal(GoTime.parse('not a time'), null);
});

// Docker's list tests: created 2 hours ago, updated 1 hour ago.
function apiObject(id: string, name: string, opts: { labels?: Record<string, string>; driver?: string; data?: string } = {}): unknown {
  const now = Date.now();
  return {
    ID: id,
    Version: { Index: 3 },
    CreatedAt: new Date(now - 2 * HOUR).toISOString(),
    UpdatedAt: new Date(now - 1 * HOUR).toISOString(),
    Spec: { Name: name, Labels: opts.labels ?? null, ...(opts.driver ? { Driver: { Name: opts.driver } } : {}), ...(opts.data ? { Data: opts.data } : {}) },
  };
}

function list(kind: 'secret' | 'config', format: string, quiet: boolean, objs: unknown[]): string {
  const views = objs.map((o) => decodeObject(kind, o)).sort((a, b) => naturalCompare(a.name, b.name));
  return formatWrite(resolveFormat(kind, format, quiet), views.map((v) => listContext(kind, v, Date.now())), headerContext(kind));
}

t.test('ls output against docker goldens', async (t) => {
  const sortSet = (withDriver: boolean): unknown[] => [
    apiObject('ID-10-foo', '10-foo', withDriver ? { driver: 'driver' } : {}),
    apiObject('ID-1-foo', '1-foo'),
    apiObject('ID-2-foo', '2-foo', withDriver ? { driver: 'driver' } : {}),
  ];
  t.equal(
    list('secret', 'table', false, sortSet(true)),
    'ID          NAME      DRIVER    CREATED       UPDATED\n' +
      'ID-1-foo    1-foo               2 hours ago   About an hour ago\n' +
      'ID-2-foo    2-foo     driver    2 hours ago   About an hour ago\n' +
      'ID-10-foo   10-foo    driver    2 hours ago   About an hour ago\n',
    'secret-list-sort.golden',
  );
  t.equal(
    list('config', 'table', false, sortSet(false)),
    'ID          NAME      CREATED       UPDATED\n' +
      'ID-1-foo    1-foo     2 hours ago   About an hour ago\n' +
      'ID-2-foo    2-foo     2 hours ago   About an hour ago\n' +
      'ID-10-foo   10-foo    2 hours ago   About an hour ago\n',
    'config-list-sort.golden',
  );
  const fooBar = [apiObject('ID-foo', 'foo'), apiObject('ID-bar', 'bar', { labels: { label: 'label-bar' } })];
  t.equal(list('secret', 'table', true, fooBar), 'ID-bar\nID-foo\n', 'secret-list-with-quiet-option.golden');
  t.equal(list('secret', '{{ .Name }} {{ .Labels }}', false, fooBar), 'bar label=label-bar\nfoo \n', 'secret-list-with-format.golden');
  t.equal(list('config', '{{ .Name }} {{ .Labels }}', false, fooBar), 'bar label=label-bar\nfoo \n', 'config-list-with-format.golden');
  t.equal(
    list('secret', 'table', false, fooBar),
    'ID        NAME      DRIVER    CREATED       UPDATED\nID-bar    bar                 2 hours ago   About an hour ago\n' +
      'ID-foo    foo                 2 hours ago   About an hour ago\n',
    'secret-list-with-filter.golden',
  );
  t.equal(list('secret', 'table', false, []), 'ID        NAME      DRIVER    CREATED   UPDATED\n', 'an empty table still has its header');
  t.equal(
    list('secret', 'json', false, [apiObject('4y7hvwrt1u8e9uxh5ygqj7mzc', 'mysecret')]),
    '{"CreatedAt":"2 hours ago","Driver":"","ID":"4y7hvwrt1u8e9uxh5ygqj7mzc","Labels":"","Name":"mysecret","UpdatedAt":"About an hour ago"}\n',
    'json rows: methods by name, sorted',
  );
  t.equal(list('config', 'json', false, [apiObject('x', 'c')]), '{"CreatedAt":"2 hours ago","ID":"x","Labels":"","Name":"c","UpdatedAt":"About an hour ago"}\n');
  t.equal(
    list('secret', 'table {{.Name}}\\t{{.Label "com.example.my-label"}}', false, [apiObject('x', 'n', { labels: { 'com.example.my-label': 'v' } })]),
    'NAME      my label\nn         v\n',
    'header of a Label column, literal \\t expanded',
  );
  t.equal(list('secret', 'table {{.Nope}}', false, []), '<no value>\n', 'unknown header key: <no value>, as Go prints a missing map key');
  t.throws(() => list('secret', '{{.Nope}}', false, fooBar), {
    message: 'template parsing error: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *secret.secretContext',
  });
  t.throws(() => list('secret', '{{.Name', false, []), { message: 'template parsing error: template: :1: unclosed action' });
});

t.test('inspect: raw JSON, -f json, templates with raw fallback, --pretty', async (t) => {
  const raw = (name: string, labels: Record<string, string> | null): string =>
    JSON.stringify({ ID: `ID-${name}`, Version: {}, CreatedAt: '0001-01-01T00:00:00Z', UpdatedAt: '0001-01-01T00:00:00Z', Spec: { Name: name, Labels: labels } }) + '\n';
  const store: Record<string, string> = { foo: raw('foo', { label1: 'label-foo' }), bar: raw('bar', { label1: 'label-foo' }) };
  const getRef = async (ref: string) => {
    const r = store[ref];
    if (!r) throw new Error(`Error response from daemon: secret ${ref} not found`);
    return { typed: decodeObject('secret', JSON.parse(r)).typed, raw: r };
  };
  const both = await inspectRefs(['foo', 'bar'], '', getRef);
  t.equal(
    both.stdout,
    '[\n    {\n        "ID": "ID-foo",\n        "Version": {},\n        "CreatedAt": "0001-01-01T00:00:00Z",\n        "UpdatedAt": "0001-01-01T00:00:00Z",\n' +
      '        "Spec": {\n            "Name": "foo",\n            "Labels": {\n                "label1": "label-foo"\n            }\n        }\n    },\n' +
      '    {\n        "ID": "ID-bar",\n        "Version": {},\n        "CreatedAt": "0001-01-01T00:00:00Z",\n        "UpdatedAt": "0001-01-01T00:00:00Z",\n' +
      '        "Spec": {\n            "Name": "bar",\n            "Labels": {\n                "label1": "label-foo"\n            }\n        }\n    }\n]\n',
    'secret-inspect-without-format.multiple-secrets-with-labels.golden',
  );
  t.same((await inspectRefs(['nope'], '', getRef)), { stdout: '[]\n', errors: ['Error response from daemon: secret nope not found'] });
  t.equal((await inspectRefs(['foo'], '{{.Spec.Name}}', getRef)).stdout, 'foo\n', 'secret-inspect-with-format.simple-template.golden');
  t.equal((await inspectRefs(['foo'], '{{json .Spec.Labels}}', getRef)).stdout, '{"label1":"label-foo"}\n', 'json-template.golden');
  t.equal((await inspectRefs(['foo', 'bar'], 'json', getRef)).stdout.startsWith('[{"ID":"ID-foo","Version":{},'), true, '-f json is compact');
  t.same(await inspectRefs(['nope'], '{{.ID}}', getRef), { stdout: '\n', errors: ['Error response from daemon: secret nope not found'] }, 'template with nothing found prints an empty line');
  t.same(await inspectRefs(['foo'], '{{.Foo}}', getRef), {
    stdout: '\n',
    errors: ['template parsing error: template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"'],
  }, 'typed failure falls back to the raw map with missingkey=error');
  t.equal((await inspectRefs(['foo'], '{{.Spec.Labels.label1}}', getRef)).stdout, 'label-foo\n');
  await t.rejects(inspectRefs(['foo'], '{{invalid format}}', getRef), { message: 'template parsing error: template: :1: function "invalid" not defined' });

  const secret = decodeObject('secret', { ID: 'secretID', Version: {}, CreatedAt: '0001-01-01T00:00:00Z', UpdatedAt: '0001-01-01T00:00:00Z', Spec: { Name: 'secretName', Labels: { lbl1: 'value1' }, Driver: { Name: 'driver' } } });
  t.equal(
    formatWrite(resolveFormat('secret', 'pretty', false), [prettyContext('secret', secret)], null),
    'ID:              secretID\nName:              secretName\nLabels:\n - lbl1=value1\nDriver:            driver\n' +
      'Created at:        0001-01-01 00:00:00 +0000 utc\nUpdated at:        0001-01-01 00:00:00 +0000 utc\n',
    'secret-inspect-pretty.simple.golden',
  );
  const config = decodeObject('config', { ID: 'configID', Version: {}, CreatedAt: '0001-01-01T00:00:00Z', UpdatedAt: '0001-01-01T00:00:00Z', Spec: { Name: 'configName', Labels: { lbl1: 'value1' }, Data: Buffer.from('payload here').toString('base64') } });
  t.equal(
    formatWrite(resolveFormat('config', 'pretty', false), [prettyContext('config', config)], null),
    'ID:\t\t\tconfigID\nName:\t\t\tconfigName\nLabels:\n - lbl1=value1\nCreated at:            \t0001-01-01 00:00:00 +0000 utc\n' +
      'Updated at:            \t0001-01-01 00:00:00 +0000 utc\nData:\npayload here\n',
    'config-inspect-pretty.simple.golden',
  );
});
