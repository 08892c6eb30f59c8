// Where a task's files go (agent/worker/placement.ts): relative secrets alone in the folder bound at /run/secrets;
// absolute targets, and configs where the runtime can place them at /<target>, in the root-only files folder.
import t from 'tap';
import type { FileRef, TaskAssignment } from '../../shared/protocol.js';
import { filesFolderName, filesProblem, placeFiles } from '../../agent/worker/placement.js';

const ref = (kind: 'secret' | 'config', target: string, id = 'o1'): FileRef => ({ kind, id, target, uid: 0, gid: 0, mode: 0o444 });
const task = (files: FileRef[]): TaskAssignment => ({ id: 'task1', version: 1, serviceId: 's', serviceName: 'web', slot: 1, desiredState: 'running', files });

t.test('relative secrets are the only files of the folder bound at /run/secrets (OCI: configs at /<target>)', async (t) => {
  const a = task([ref('secret', 'pw'), ref('secret', 'dir/key'), ref('config', 'app.conf'), ref('config', '/etc/nginx/conf.d/site.conf'), ref('secret', '/etc/ssl/k.pem')]);
  const p = placeFiles(a, 'root');
  t.same(p.folder.map((f) => f.path), ['pw', 'dir/key'], 'secrets only in the task folder');
  t.same(p.files.map((f) => f.path), ['configs/app.conf', 'abs/etc/nginx/conf.d/site.conf', 'abs/etc/ssl/k.pem']);
  t.same(p.configMounts, [{ path: 'configs/app.conf', target: 'app.conf' }]);
  t.same(p.absoluteMounts, [
    { path: 'abs/etc/nginx/conf.d/site.conf', target: '/etc/nginx/conf.d/site.conf' },
    { path: 'abs/etc/ssl/k.pem', target: '/etc/ssl/k.pem' },
  ]);
});

t.test('the process runtime keeps relative configs in the task folder; absolute targets still go to the files folder', async (t) => {
  const p = placeFiles(task([ref('secret', 'pw'), ref('config', 'app.conf'), ref('config', '/etc/app.conf')]), 'secrets-folder');
  t.same(p.folder.map((f) => f.path), ['pw', 'app.conf']);
  t.same(p.configMounts, []);
  t.same(p.absoluteMounts, [{ path: 'abs/etc/app.conf', target: '/etc/app.conf' }]);
  t.same(placeFiles(task([ref('secret', 'pw')]), 'root').files, [], 'no files folder for a task with secrets only');
});

t.test('a target that cannot be placed rejects the task, with its reason', async (t) => {
  t.equal(filesProblem(task([ref('secret', 'pw'), ref('config', '/etc/x')]), 'root'), null);
  t.match(filesProblem(task([ref('secret', '../etc/passwd')]), 'root'), /invalid secret target "\.\.\/etc\/passwd": "\.\." is not allowed/);
  t.match(filesProblem(task([ref('config', 'a//b')]), 'secrets-folder'), /invalid config target "a\/\/b": empty/);
  t.match(filesProblem(task([ref('config', 'etc/x', 'c1'), ref('secret', '/etc/x', 's1')]), 'root'), /invalid mount target "\/etc\/x": used more than once/, 'a config at /etc/x and an absolute target /etc/x');
  t.equal(filesProblem(task([ref('config', 'etc/x', 'c1'), ref('secret', '/etc/x', 's1')]), 'secrets-folder'), null, 'under /run/secrets the config does not collide');
  t.same(placeFiles(task([ref('secret', '../x'), ref('secret', 'ok')]), 'root').folder.map((f) => f.path), ['ok'], 'a bad target is never placed');
});

t.test("the files folder's name never is a task folder's", async (t) => {
  t.equal(filesFolderName('abc123'), 'abc123.files');
  t.notMatch(filesFolderName('abc123'), /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/, 'not a task ID (IDs have no ".")');
});
