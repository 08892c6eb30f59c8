// Docker's merge of image config and ContainerSpec (docker-swarm-wave2.md §2), one test per rule.
import t from 'tap';
import { mergeEnv, mergeImageConfig, NoCommandError } from '../../agent/images/merge.js';
import type { ImageConfig } from '../../agent/images/image-config.js';

function image(over: Partial<ImageConfig> = {}): ImageConfig {
  return { entrypoint: ['/entry.sh'], cmd: ['serve', '--port', '80'], env: ['PATH=/usr/bin:/bin', 'LANG=C'], user: '', workingDir: '', labels: {}, os: 'linux', architecture: 'amd64', ...over };
}

t.test('no Command, no Args: the image ENTRYPOINT and CMD', async (t) => {
  const m = mergeImageConfig(image(), {});
  t.same(m.entrypoint, ['/entry.sh']);
  t.same(m.cmd, ['serve', '--port', '80']);
  t.same(m.argv, ['/entry.sh', 'serve', '--port', '80']);
});

t.test('Args alone replace the image CMD and keep its ENTRYPOINT', async (t) => {
  const m = mergeImageConfig(image(), { args: ['run', 'x'] });
  t.same(m.argv, ['/entry.sh', 'run', 'x']);
  t.same(m.cmd, ['run', 'x']);
});

t.test('Command replaces the ENTRYPOINT and the image CMD is never used, even with no Args', async (t) => {
  t.same(mergeImageConfig(image(), { command: ['/bin/sh'] }).argv, ['/bin/sh']);
  t.same(mergeImageConfig(image(), { command: ['/bin/sh'] }).cmd, null);
  t.same(mergeImageConfig(image(), { command: ['/bin/sh', '-c'], args: ['echo hi'] }).argv, ['/bin/sh', '-c', 'echo hi']);
});

t.test('Command [""] drops the image ENTRYPOINT: Args are the whole command, the image CMD is not used', async (t) => {
  const m = mergeImageConfig(image(), { command: [''], args: ['ls', '/'] });
  t.equal(m.entrypoint, null);
  t.same(m.argv, ['ls', '/']);
  t.throws(() => mergeImageConfig(image(), { command: [''] }), { message: 'no command specified' }, 'Command [""] without Args: nothing to run');
  const err = (() => {
    try {
      mergeImageConfig(image(), { command: [''] });
    } catch (e) {
      return e;
    }
    return null;
  })();
  t.ok(err instanceof NoCommandError, 'a NoCommandError the runtime can tell apart');
});

t.test('an image with only CMD runs it; with neither, create fails with "no command specified"', async (t) => {
  t.same(mergeImageConfig(image({ entrypoint: null }), {}).argv, ['serve', '--port', '80']);
  t.same(mergeImageConfig(image({ entrypoint: null }), { args: ['sh'] }).argv, ['sh']);
  t.throws(() => mergeImageConfig(image({ entrypoint: null, cmd: null }), {}), { message: 'no command specified' });
  t.throws(() => mergeImageConfig(image({ entrypoint: [], cmd: [] }), {}), { message: 'no command specified' });
});

t.test('Env: empty user env is the image env', async (t) => {
  t.same(mergeImageConfig(image(), {}).env, ['PATH=/usr/bin:/bin', 'LANG=C']);
  t.same(mergeEnv([], ['A=1']), ['A=1']);
});

t.test('Env: image entries whose key the user did not set are appended after the user entries', async (t) => {
  t.same(mergeEnv(['LANG=de', 'X=1'], ['PATH=/bin', 'LANG=C']), ['LANG=de', 'X=1', 'PATH=/bin']);
});

t.test('Env: a bare FOO in the user env hides the image FOO; keys compare case-sensitively', async (t) => {
  t.same(mergeEnv(['LANG'], ['LANG=C', 'lang=x']), ['LANG', 'lang=x']);
});

t.test('User: the spec, else the image, else root ("")', async (t) => {
  t.equal(mergeImageConfig(image({ user: 'nobody' }), { user: '1000:1000' }).user, '1000:1000');
  t.equal(mergeImageConfig(image({ user: 'nobody' }), {}).user, 'nobody');
  t.equal(mergeImageConfig(image(), {}).user, '');
});

t.test('WorkingDir: the spec Dir, else the image, else /', async (t) => {
  t.equal(mergeImageConfig(image({ workingDir: '/srv' }), { dir: '/data' }).workingDir, '/data');
  t.equal(mergeImageConfig(image({ workingDir: '/srv' }), {}).workingDir, '/srv');
  t.equal(mergeImageConfig(image(), {}).workingDir, '/');
});

t.test('StopSignal: the spec, else the image', async (t) => {
  t.equal(mergeImageConfig(image({ stopSignal: 'SIGQUIT' }), { stopSignal: 'SIGINT' }).stopSignal, 'SIGINT');
  t.equal(mergeImageConfig(image({ stopSignal: 'SIGQUIT' }), {}).stopSignal, 'SIGQUIT');
  t.equal(mergeImageConfig(image(), {}).stopSignal, undefined);
});

t.test('Labels: image labels only for keys the spec lacks', async (t) => {
  t.same(mergeImageConfig(image({ labels: { a: 'img', b: 'img' } }), { labels: { a: 'spec' } }).labels, { a: 'spec', b: 'img' });
});

t.test('the merge does not alias its inputs', async (t) => {
  const img = image();
  const m = mergeImageConfig(img, {});
  m.cmd!.push('x');
  m.env.push('Y=1');
  t.same(img.cmd, ['serve', '--port', '80']);
  t.same(img.env, ['PATH=/usr/bin:/bin', 'LANG=C']);
});
