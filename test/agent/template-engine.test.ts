// The Go text/template engine (agent/template/): Go's semantics and error texts, as `go run` prints them for the
// same templates under template.New("expansion").Option("missingkey=error").
import t from 'tap';
import { compile, execute } from '../../agent/template/exec.js';
import { stringArg, type TemplateFunc } from '../../agent/template/funcs.js';
import { GoBytes, GoMap, GoStruct, type Value } from '../../agent/template/values.js';

const labels = new GoMap('map[string]string', new Map<string, Value>([['zeta', 'z'], ['alpha', 'a'], ['mid', 'm']]));
const ctx = new GoStruct('*template.PayloadContext', new Map<string, Value>([
  ['Service', new GoStruct('struct { ID string; Name string; Labels map[string]string }', new Map<string, Value>([['ID', 'svc1'], ['Name', 'web'], ['Labels', labels]]))],
  ['Task', new GoStruct('struct { ID string; Name string; Slot string }', new Map<string, Value>([['ID', 't1'], ['Name', 'web.2.t1'], ['Slot', '2']]))],
]));

const secretBytes = Buffer.from('s3cr3t');
const funcs = new Map<string, TemplateFunc>([
  ['secret', { params: 1, strings: true, call: (a) => {
    if (a[0] === 'pw') return new GoBytes(secretBytes, true);
    throw new Error(`secret target ${String(a[0])} not found`);
  } }],
  ['env', { params: 1, strings: true, call: (a) => (stringArg(a[0]!, 'env') === 'HOME' ? '/root' : '') }],
  ['join', { params: 1, variadic: true, strings: true, call: (a) => (a.slice(1) as string[]).join(a[0] as string) }],
]);

const run = (src: string, data: Value = ctx): string => execute(compile('expansion', Buffer.from(src), funcs), data).toString();
const fails = (src: string): string => {
  try {
    run(src);
  } catch (err) {
    return (err as Error).message;
  }
  return 'no error';
};

t.test('text, fields, map keys, pipelines, variables', async (t) => {
  t.equal(run('plain text'), 'plain text');
  t.equal(run('{{.Service.Name}}-{{.Task.Slot}}'), 'web-2');
  t.equal(run('{{.Service.Labels.alpha}}'), 'a');
  t.equal(run('{{.Service.Name | printf "%s!"}}'), 'web!');
  t.equal(run('{{"x" | printf "%s-%s" "a"}}'), 'a-x', 'the piped value is the last argument');
  t.equal(run('{{printf "%s" (printf "%d" (len .Service.Labels))}}'), '3', 'nested parenthesized pipelines');
  t.equal(run('{{$x := .Task.Slot}}{{$x}}{{$x = "9"}}{{$x}}'), '29');
  t.equal(run('{{with .Service}}{{.ID}} {{$.Task.ID}}{{end}}'), 'svc1 t1');
  t.equal(run('{{(.Service).Name}}'), 'web');
  t.equal(run('{{/* a comment */}}a{{- /* trimmed */ -}}  b'), 'ab');
  t.equal(run('{{.Service}}'), '{svc1 web map[alpha:a mid:m zeta:z]}', "a struct prints as Go's %v");
  t.equal(run('{{-3}}'), '-3', '"{{-3" is a number, not a trim marker');
});

t.test('trimming', async (t) => {
  t.equal(run('a  \n\t{{- "b" -}} \n c'), 'abc');
  t.equal(run('a {{- "b"}} c'), 'ab c');
  t.equal(run('a {{"b" -}} c'), 'a bc');
  t.equal(run('{{range $k, $v := .Service.Labels}}\n  {{- $k}}={{$v}},{{end}}'), 'alpha=a,mid=m,zeta=z,');
});

t.test('if / else if / else, range, with', async (t) => {
  t.equal(run('{{if eq .Task.Slot "1"}}one{{else if eq .Task.Slot "2"}}two{{else}}other{{end}}'), 'two');
  t.equal(run('{{if and .Service.Name (not "")}}y{{end}}'), 'y');
  t.equal(run('{{or "" "b"}} {{and "a" ""}}|'), 'b |', 'and/or return the deciding value');
  t.equal(run('{{range .Service.Labels}}{{.}}{{end}}'), 'amz', 'a map ranges in key order, dot is the value');
  t.equal(run('{{range $v := .Service.Labels}}{{$v}}{{end}}'), 'amz', 'one variable: the element');
  t.equal(run('{{range $i, $c := .Service.Labels}}{{if eq $c "m"}}{{break}}{{end}}{{$i}}{{end}}'), 'alpha');
  t.equal(run('{{range $k, $c := .Service.Labels}}{{if eq $c "a"}}{{continue}}{{end}}{{$k}}{{end}}'), 'midzeta');
  t.equal(run('{{range 3}}{{.}}{{end}}'), '012', 'range over an integer (Go 1.22)');
  t.equal(run('{{with .Service.Labels.alpha}}[{{.}}]{{else}}none{{end}}'), '[a]');
  t.equal(run('{{with ""}}x{{else with "w"}}{{.}}{{end}}'), 'w');
  t.equal(run('{{range $k, $v := .}}x{{else}}empty{{end}}', new GoMap('map[string]string', new Map())), 'empty', 'an empty map: the else branch');
});

t.test('builtins', async (t) => {
  t.equal(run('{{printf "%s|%d|%v|%q|%5s|%-3d|%03d|%x|%t|%.2f" "a" 42 "v" "q\\n" "r" 7 5 255 true 1.5}}'), 'a|42|v|"q\\n"|    r|7  |005|ff|true|1.50');
  t.equal(run('{{printf "%d" "x"}} {{printf "%s"}} {{printf "%s" "a" 3}}'), '%!d(string=x) %!s(MISSING) a%!(EXTRA int=3)');
  t.equal(run('{{print "a" 1 2 "b"}}|{{println "a" 1}}'), 'a1 2b|a 1\n');
  t.equal(run('{{len "héllo"}} {{len .Service.Labels}}'), '6 3', 'len of a string counts bytes');
  t.equal(run('{{index .Service.Labels "mid"}}[{{index .Service.Labels "nope"}}]'), 'm[]', 'index gives "" for a missing key');
  t.equal(run('{{eq 1 2 1}} {{ne "a" "b"}} {{lt 1 2}} {{le "b" "a"}} {{gt 2.5 1.5}} {{ge 2 2}}'), 'true true true false true true');
  t.equal(run('{{join ", " "a" "b"}}'), 'a, b');
  t.equal(run('{{env "HOME"}}[{{env "NOPE"}}]'), '/root[]');
});

t.test('secret bytes stay Buffers', async (t) => {
  t.equal(run('pw={{secret "pw"}};'), 'pw=s3cr3t;');
  t.equal(run('{{printf "%s:%v" "u" (secret "pw")}}'), 'u:s3cr3t', 'printf %s of secret data keeps the bytes');
  t.equal(run('{{print "u=" (secret "pw")}}'), 'u=s3cr3t');
  t.equal(run('{{len (secret "pw")}} {{eq (secret "pw") "s3cr3t"}}'), '6 true', 'compared as bytes');
  t.equal(run('{{with $p := secret "pw"}}[{{$p}}]{{end}}'), '[s3cr3t]');
  t.match(fails('{{printf "%q" (secret "pw")}}'), /template: expansion:1:2: executing "expansion" at <printf "%q" \(secret ...>: %q of secret data is not supported/);
  t.match(fails('{{env (secret "pw")}}'), /secret data as an argument of env is not supported/);
  const out = execute(compile('expansion', Buffer.from('{{secret "pw"}}'), funcs), ctx);
  t.not(out.buffer, secretBytes.buffer, 'the output is a Buffer of its own');
});

t.test("Go's error texts", async (t) => {
  t.equal(fails('{{.Foo}}'), 'template: expansion:1:2: executing "expansion" at <.Foo>: can\'t evaluate field Foo in type *template.PayloadContext');
  t.equal(fails('{{.Service.Labels.nope}}'), 'template: expansion:1:2: executing "expansion" at <.Service.Labels.nope>: map has no entry for key "nope"');
  t.equal(fails('x\n  {{.Service.Foo}}'), 'template: expansion:2:4: executing "expansion" at <.Service.Foo>: can\'t evaluate field Foo in type struct { ID string; Name string; Labels map[string]string }');
  t.equal(fails('{{secret "x"}}'), 'template: expansion:1:2: executing "expansion" at <secret "x">: error calling secret: secret target x not found');
  t.equal(fails('{{secret}}'), 'template: expansion:1:2: executing "expansion" at <secret>: wrong number of args for secret: want 1 got 0');
  t.equal(fails('{{secret 3}}'), 'template: expansion:1:9: executing "expansion" at <3>: wrong type for value; expected string; got int');
  t.equal(fails('{{len 3}}'), 'template: expansion:1:2: executing "expansion" at <len 3>: error calling len: len of type int');
  t.equal(fails('{{lt true false}}'), 'template: expansion:1:2: executing "expansion" at <lt true false>: error calling lt: invalid type for comparison');
  t.equal(fails('{{eq "a" 1}}'), 'template: expansion:1:2: executing "expansion" at <eq "a" 1>: error calling eq: incompatible types for comparison');
  t.equal(fails('{{.Task.ID 1}}'), 'template: expansion:1:2: executing "expansion" at <.Task.ID>: ID has arguments but cannot be invoked as function');
  t.equal(fails('{{range .Task.ID}}{{end}}'), 'template: expansion:1:8: executing "expansion" at <.Task.ID>: range can\'t iterate over t1');
  t.equal(fails('{{nope}}'), 'template: expansion:1: function "nope" not defined');
  t.equal(fails('{{$x}}'), 'template: expansion:1: undefined variable "$x"');
  t.equal(fails('{{.A'), 'template: expansion:1: unclosed action');
  t.equal(fails('{{if .A}}x'), 'template: expansion:1: unexpected EOF');
  t.equal(fails('{{end}}'), 'template: expansion:1: unexpected {{end}}');
  t.equal(fails('{{else}}'), 'template: expansion:1: unexpected {{else}}');
  t.equal(fails('{{}}'), 'template: expansion:1: missing value for command');
  t.equal(fails('{{#}}'), "template: expansion:1: bad character U+0023 '#'");
  t.equal(fails('{{"abc}}'), 'template: expansion:1: unterminated quoted string');
  t.equal(fails('{{/* x }}'), 'template: expansion:1: unclosed comment');
  t.equal(fails('{{/* x */ }}'), 'template: expansion:1: comment ends before closing delimiter');
  t.equal(fails('a\n{{break}}'), 'template: expansion:2: {{break}} outside {{range}}');
  t.equal(fails('{{.A | "x"}}'), 'template: expansion:1: non executable command in pipeline stage 2');
  t.equal(fails('{{3x}}'), 'template: expansion:1: bad number syntax: "3x"');
  t.match(fails('{{range 100000000}}{{end}}'), /at <100000000>: template execution exceeds 1000000 steps \(runsecrets' limit\)$/);
  t.match(fails('{{range 900000}}{{range 900000}}{{end}}{{end}}'), /template execution exceeds 1000000 steps/);
  t.match(fails('{{range 900000}}{{printf "%0500d" 1}}{{end}}'), /template output exceeds 4194304 bytes/);
  t.equal(fails('{{template "x"}}'), "template: expansion:1: {{template}} is not supported by runsecrets' template engine");
});
