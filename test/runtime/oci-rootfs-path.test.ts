// Mount points inside a container's root: every component resolved inside the root (a symlink of the image is read
// as the container reads it), parents and the empty mount point made there, never on the host; a path that climbs
// above the root is refused. Plain folders stand in for the overlay; no processes.
import t from 'tap';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ensureMountpoint, readFileInRoot, resolveInRoot, RootfsPathError } from '../../agent/runtime/oci/rootfs-path.js';

function dirs(): { root: string; outside: string } {
  const base = mkdtempSync(join(tmpdir(), 'rs-rootfs-path-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(outside);
  return { root, outside };
}

t.test('missing parents and the empty file are made inside the root', async (t) => {
  const { root } = dirs();
  t.equal(await ensureMountpoint(root, '/etc/nginx/conf.d/site.conf', 'file'), '/etc/nginx/conf.d/site.conf');
  t.ok(lstatSync(join(root, 'etc/nginx/conf.d')).isDirectory());
  const f = lstatSync(join(root, 'etc/nginx/conf.d/site.conf'));
  t.ok(f.isFile());
  t.equal(f.size, 0, 'an empty file');
  t.equal(await ensureMountpoint(root, '/etc/nginx/conf.d/site.conf', 'file'), '/etc/nginx/conf.d/site.conf', 'an existing one is used as is');
  t.equal(await ensureMountpoint(root, '/run/secrets', 'dir'), '/run/secrets');
  t.ok(lstatSync(join(root, 'run/secrets')).isDirectory());
  await t.rejects(ensureMountpoint(root, '/etc', 'file'), new RootfsPathError('it is a folder in the image, a file is needed'));
  await t.rejects(ensureMountpoint(root, '/etc/nginx/conf.d/site.conf', 'dir'), new RootfsPathError('it is not a folder in the image'));
  await t.rejects(ensureMountpoint(root, '/', 'dir'), RootfsPathError);
});

t.test('absolute symlinks of the image point inside the root, never at the host', async (t) => {
  const { root, outside } = dirs();
  // An image's /etc/app -> <the host's folder>: read as the container reads it, i.e. <root><outside>.
  symlinkSync(outside, join(root, 'etc/app'));
  const got = await ensureMountpoint(root, '/etc/app/conf.d/x.conf', 'file');
  t.equal(got, `${outside}/conf.d/x.conf`, 'the container path the link names');
  t.same(readdirSync(outside), [], 'nothing made on the host');
  t.ok(existsSync(join(root, outside, 'conf.d/x.conf')), 'made under the root instead');

  // A dangling link as the last component: the file is made where it points, inside the root.
  symlinkSync('/var/run/site.conf', join(root, 'etc/site.conf'));
  t.equal(await ensureMountpoint(root, '/etc/site.conf', 'file'), '/var/run/site.conf');
  t.ok(lstatSync(join(root, 'var/run/site.conf')).isFile());
});

t.test('relative links that climb above the root are refused', async (t) => {
  const { root, outside } = dirs();
  symlinkSync('../../outside', join(root, 'etc/up'));
  await t.rejects(ensureMountpoint(root, '/etc/up/x', 'file'), new RootfsPathError("it leads outside the container's root"));
  t.same(readdirSync(outside), [], 'nothing made outside');
  symlinkSync('../../../../../../../../../../../etc', join(root, 'etc/deep'));
  await t.rejects(resolveInRoot(root, '/etc/deep/passwd'), RootfsPathError);
  symlinkSync('loop2', join(root, 'etc/loop1'));
  symlinkSync('loop1', join(root, 'etc/loop2'));
  await t.rejects(ensureMountpoint(root, '/etc/loop1/x', 'file'), new RootfsPathError('too many levels of symbolic links'));
  writeFileSync(join(root, 'etc/file'), 'x');
  await t.rejects(ensureMountpoint(root, '/etc/file/x', 'file'), new RootfsPathError('"/etc/file" is not a folder'));
});

t.test('files of the container are read inside its root', async (t) => {
  const { root, outside } = dirs();
  writeFileSync(join(outside, 'passwd'), 'host-passwd');
  symlinkSync(join(outside, 'passwd'), join(root, 'etc/passwd'));
  t.equal(await readFileInRoot(root, '/etc/passwd'), null, "a link to the host's file is a missing file inside the root");
  writeFileSync(join(root, 'etc/group'), 'g');
  t.same(await readFileInRoot(root, '/etc/group'), Buffer.from('g'));
});
