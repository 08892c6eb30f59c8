// Unit tests: secret bytes are owned, wiped to zero, and the tree's versions and notices behave.
import t from 'tap';
import { ownedCopy, wipe, isWiped } from '../../agent/secretstore/bytes.js';
import { SecretTree, ROOT_INO, type KernelNotice } from '../../agent/secretstore/tree.js';

const bytes = (s: string) => ownedCopy(Buffer.from(s));
const file = (target: string, data: string, mode = 0o444) => ({ target, data: bytes(data), uid: 0, gid: 0, mode });

t.test('a wiped Buffer is all zeros', async (t) => {
  const b = bytes('top-secret-value');
  t.notOk(isWiped(b));
  wipe(b);
  t.ok(isWiped(b));
  t.equal(b.length, 16, 'same length, every byte zero');
  t.same([...b], new Array(16).fill(0));
});

t.test('ownedCopy never shares memory with its source or the shared pool', async (t) => {
  const src = Buffer.from('abc');
  const c = ownedCopy(src);
  t.not(c.buffer, src.buffer);
  t.equal(c.byteOffset, 0, 'its own allocation');
  t.equal(c.buffer.byteLength, 3, 'exactly its size: wiping it wipes everything');
});

t.test('tree: replace keeps unchanged files, gives changed bytes a new inode, wipes on forget', async (t) => {
  const tree = new SecretTree();
  tree.setTask('web', { uid: 1000, gid: 1000, files: [file('a', 'one'), file('sub/b', 'two')] });
  const a1 = tree.resolve('/web/a')!;
  const b1 = tree.resolve('/web/sub/b')!;
  t.equal(tree.resolve('/web')!.uid, 1000);
  t.equal(a1.mode & 0o7777, 0o444);
  tree.ref(a1); // the kernel looked it up: it may be open somewhere
  const dup = bytes('two');
  const notices = tree.setTask('web', { uid: 1000, gid: 1000, files: [file('a', 'ONE!'), { ...file('sub/b', ''), data: dup }] });
  t.ok(isWiped(dup), 'an identical copy is wiped, the old one kept');
  t.equal(tree.resolve('/web/sub/b'), b1, 'unchanged file keeps its inode');
  const a2 = tree.resolve('/web/a')!;
  t.not(a2.ino, a1.ino, 'changed bytes: new inode');
  t.ok(a2.mtimeMs > a1.mtimeMs, 'mtime rises');
  t.same(a2.content!.slice(0, 100), Buffer.from('ONE!'));
  t.ok(notices.some((n) => n.kind === 'inval_entry' && n.name === 'a'), 'kernel told to drop the old name');
  t.equal(tree.get(a1.ino)?.attached, false, 'old version detached');
  t.same(a1.content!.slice(0, 100), Buffer.from('one'), 'an open reader still reads the old version whole');
  const oldBuf = a1.content!.bufferForTest;
  tree.forget(a1.ino, 1);
  t.ok(isWiped(oldBuf), 'zeroed when the kernel forgets it');
  t.equal(tree.get(a1.ino), undefined, 'and freed');
});

t.test('tree: a revoked file is zeroed at once, even while open', async (t) => {
  const tree = new SecretTree();
  tree.setTask('web', { uid: 0, gid: 0, files: [file('a', 'one'), file('b', 'two')] });
  const a = tree.resolve('/web/a')!;
  tree.ref(a);
  const buf = a.content!.bufferForTest;
  const notices = tree.setTask('web', { uid: 0, gid: 0, files: [file('b', 'two')] });
  t.ok(isWiped(buf), 'zeroed at once');
  t.equal(a.content!.slice(0, 10), null, 'no more bytes served from it');
  t.ok(notices.some((n: KernelNotice) => n.kind === 'delete' && n.name === 'a'));
  t.equal(tree.resolve('/web/a'), undefined);
});

t.test('tree: removing a task zeroes every byte and drops its folder', async (t) => {
  const tree = new SecretTree();
  tree.setTask('web', { uid: 0, gid: 0, files: [file('a', 'one'), file('x/y/z', 'deep')] });
  tree.setTask('other', { uid: 0, gid: 0, files: [file('a', 'keep')] });
  const bufs = ['/web/a', '/web/x/y/z'].map((p) => tree.resolve(p)!.content!.bufferForTest);
  const notices = tree.removeTask('web');
  t.ok(bufs.every(isWiped));
  t.same(tree.taskNames(), ['other']);
  t.ok(notices.some((n) => n.kind === 'delete' && n.parent === ROOT_INO && n.name === 'web'));
  t.same(tree.resolve('/other/a')!.content!.slice(0, 10), Buffer.from('keep'), 'other tasks untouched');
  tree.wipeAll();
  t.equal(tree.taskNames().length, 0);
});

t.test('tree: mode and owner changes keep the inode and tell the kernel', async (t) => {
  const tree = new SecretTree();
  tree.setTask('web', { uid: 0, gid: 0, files: [file('a', 'one')] });
  const a = tree.resolve('/web/a')!;
  const notices = tree.setTask('web', { uid: 0, gid: 0, files: [file('a', 'one', 0o400)] });
  t.equal(tree.resolve('/web/a'), a);
  t.equal(a.mode & 0o7777, 0o400);
  t.ok(notices.some((n) => n.kind === 'inval_inode' && n.ino === a.ino));
});
