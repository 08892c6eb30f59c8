// Unit tests: each FUSE request parses into its typed value; every malformed shape becomes a typed failure with the
// errno to answer; random, truncated and mutated requests never make the parser throw or read out of bounds.
import t, { type Test } from 'tap';
import { parseRequest, OPCODES, type ParseResult, type FuseRequest, type ParseFailure } from '../../agent/fs/fuse-protocol-parse.js';
import { Op, Errno, IN_HEADER_SIZE } from '../../agent/fs/fuse-protocol.js';

interface Head { unique?: bigint; nodeid?: bigint; uid?: number; gid?: number; pid?: number; len?: number }

/** A request as the kernel writes it: fuse_in_header, then the body. */
function request(opcode: number, body: Buffer, head: Head = {}): Buffer {
  const h = Buffer.alloc(IN_HEADER_SIZE);
  h.writeUInt32LE(head.len ?? IN_HEADER_SIZE + body.length, 0);
  h.writeUInt32LE(opcode, 4);
  h.writeBigUInt64LE(head.unique ?? 7n, 8);
  h.writeBigUInt64LE(head.nodeid ?? 1n, 16);
  h.writeUInt32LE(head.uid ?? 1000, 24);
  h.writeUInt32LE(head.gid ?? 1001, 28);
  h.writeUInt32LE(head.pid ?? 4242, 32);
  return Buffer.concat([h, body]);
}

/** Little-endian fields into a body: numbers are u32, bigints u64. */
function fields(...vals: Array<number | bigint>): Buffer {
  const parts = vals.map((v) => {
    const b = Buffer.alloc(typeof v === 'bigint' ? 8 : 4);
    if (typeof v === 'bigint') b.writeBigUInt64LE(v);
    else b.writeUInt32LE(v);
    return b;
  });
  return Buffer.concat(parts);
}

const cstr = (s: string | Buffer): Buffer => Buffer.concat([typeof s === 'string' ? Buffer.from(s) : s, Buffer.from([0])]);
const zeros = (n: number): Buffer => Buffer.alloc(n);

function ok(t: Test, r: ParseResult): FuseRequest {
  if (!r.ok) {
    t.fail(`expected a request, got ${r.failure.kind}: ${r.failure.reason}`);
    throw new Error('parse failed');
  }
  return r.req;
}

function failure(t: Test, r: ParseResult): ParseFailure {
  if (r.ok) {
    t.fail(`expected a parse failure, got ${r.req.op}`);
    throw new Error('parse succeeded');
  }
  return r.failure;
}

// A well-formed request for every opcode in the table, with the fields we expect it to parse into.
const readIn = fields(5n, 4096n, 131072, 0, 0n, 0x8000, 0);
const releaseIn = fields(5n, 0x8000, 1, 0n);
const createIn = fields(0o100, 0o644, 0o022, 0);
const VALID: Array<[number, Buffer, Record<string, unknown>]> = [
  [Op.INIT, fields(7, 38, 131072, 0x1234, ...new Array<number>(12).fill(0)), { op: 'INIT', major: 7, minor: 38, maxReadahead: 131072, flags: 0x1234 }],
  [Op.LOOKUP, cstr('db_password'), { op: 'LOOKUP', name: 'db_password' }],
  [Op.FORGET, fields(3n), { op: 'FORGET', nlookup: 3 }],
  [Op.BATCH_FORGET, Buffer.concat([fields(2, 0), fields(10n, 1n, 11n, 2n)]),
    { op: 'BATCH_FORGET', forgets: [{ nodeid: 10, nlookup: 1 }, { nodeid: 11, nlookup: 2 }] }],
  [Op.GETATTR, fields(1, 0, 9n), { op: 'GETATTR', getattrFlags: 1, fh: 9n }],
  [Op.SETATTR, Buffer.concat([fields(1), zeros(84)]), { op: 'SETATTR', valid: 1 }],
  [Op.READLINK, zeros(0), { op: 'READLINK' }],
  [Op.SYMLINK, Buffer.concat([cstr('link'), cstr('/etc/passwd')]), { op: 'SYMLINK', name: 'link', target: '/etc/passwd' }],
  [Op.MKNOD, Buffer.concat([fields(0o100644, 0, 0o022, 0), cstr('n')]), { op: 'MKNOD', mode: 0o100644, rdev: 0, umask: 0o022, name: 'n' }],
  [Op.MKDIR, Buffer.concat([fields(0o755, 0o022), cstr('d')]), { op: 'MKDIR', mode: 0o755, umask: 0o022, name: 'd' }],
  [Op.UNLINK, cstr('f'), { op: 'UNLINK', name: 'f' }],
  [Op.RMDIR, cstr('d'), { op: 'RMDIR', name: 'd' }],
  [Op.RENAME, Buffer.concat([fields(3n), cstr('a'), cstr('b')]), { op: 'RENAME', newParent: 3, name: 'a', newName: 'b' }],
  [Op.RENAME2, Buffer.concat([fields(3n, 1, 0), cstr('a'), cstr('b')]), { op: 'RENAME2', newParent: 3, flags: 1, name: 'a', newName: 'b' }],
  [Op.LINK, Buffer.concat([fields(4n), cstr('l')]), { op: 'LINK', oldNodeid: 4, name: 'l' }],
  [Op.OPEN, fields(0x8000, 0), { op: 'OPEN', flags: 0x8000, openFlags: 0 }],
  [Op.READ, readIn, { op: 'READ', fh: 5n, offset: 4096, size: 131072, readFlags: 0, flags: 0x8000 }],
  [Op.WRITE, Buffer.concat([fields(5n, 0n, 3, 0, 0n, 0, 0), Buffer.from('abc')]), { op: 'WRITE', fh: 5n, offset: 0, size: 3 }],
  [Op.STATFS, zeros(0), { op: 'STATFS' }],
  [Op.RELEASE, releaseIn, { op: 'RELEASE', fh: 5n, flags: 0x8000, releaseFlags: 1 }],
  [Op.FSYNC, fields(5n, 1, 0), { op: 'FSYNC', fh: 5n, fsyncFlags: 1 }],
  [Op.SETXATTR, Buffer.concat([fields(2, 0), cstr('user.x'), Buffer.from('vv')]), { op: 'SETXATTR', size: 2, flags: 0, name: 'user.x' }],
  [Op.GETXATTR, Buffer.concat([fields(64, 0), cstr('security.capability')]), { op: 'GETXATTR', size: 64, name: 'security.capability' }],
  [Op.LISTXATTR, fields(64, 0), { op: 'LISTXATTR', size: 64 }],
  [Op.REMOVEXATTR, cstr('user.x'), { op: 'REMOVEXATTR', name: 'user.x' }],
  [Op.FLUSH, fields(5n, 0, 0, 0n), { op: 'FLUSH', fh: 5n }],
  [Op.OPENDIR, fields(0x10000, 0), { op: 'OPENDIR', flags: 0x10000, openFlags: 0 }],
  [Op.READDIR, readIn, { op: 'READDIR', fh: 5n, offset: 4096, size: 131072 }],
  [Op.RELEASEDIR, releaseIn, { op: 'RELEASEDIR', fh: 5n }],
  [Op.FSYNCDIR, fields(5n, 0, 0), { op: 'FSYNCDIR', fh: 5n, fsyncFlags: 0 }],
  [Op.ACCESS, fields(4, 0), { op: 'ACCESS', mask: 4 }],
  [Op.CREATE, Buffer.concat([createIn, cstr('new')]), { op: 'CREATE', flags: 0o100, mode: 0o644, umask: 0o022, openFlags: 0, name: 'new' }],
  [Op.INTERRUPT, fields(99n), { op: 'INTERRUPT', target: 99n }],
  [Op.DESTROY, zeros(0), { op: 'DESTROY' }],
  [Op.FALLOCATE, fields(5n, 10n, 20n, 1, 0), { op: 'FALLOCATE', fh: 5n, offset: 10, length: 20, mode: 1 }],
  [Op.READDIRPLUS, readIn, { op: 'READDIRPLUS', offset: 4096, size: 131072 }],
  [Op.LSEEK, fields(5n, 100n, 3, 0), { op: 'LSEEK', fh: 5n, offset: 100, whence: 3 }],
  [Op.TMPFILE, Buffer.concat([createIn, cstr('')]), { op: 'TMPFILE', mode: 0o644, name: '' }],
];

t.test('the opcode table and the samples cover each other', async (t) => {
  t.same(new Set(VALID.map(([code]) => code)), new Set(OPCODES.keys()), 'one well-formed sample per served opcode');
  t.same(new Set(OPCODES.keys()), new Set(Object.values(Op)), 'every opcode we name is in the table');
});

t.test('each opcode parses into its typed value, header fields included', async (t) => {
  for (const [code, body, want] of VALID) {
    const req = ok(t, parseRequest(request(code, body, { unique: 77n, nodeid: 12n })));
    t.match(req, { ...want, unique: 77n, nodeid: 12, uid: 1000, gid: 1001, pid: 4242 }, `${String(want.op)} parses`);
  }
});

t.test('INIT: the 16-byte form of older kernels parses; more than 64 bytes does not', async (t) => {
  t.match(ok(t, parseRequest(request(Op.INIT, fields(7, 31, 65536, 1)))), { op: 'INIT', minor: 31, flags: 1 });
  t.match(failure(t, parseRequest(request(Op.INIT, Buffer.concat([fields(7, 38, 0, 0), zeros(49)])))), { kind: 'malformed', errno: Errno.EIO });
});

t.test('a request shorter than the header: nobody to answer', async (t) => {
  for (const n of [0, 1, 16, 39]) {
    const f = failure(t, parseRequest(request(Op.GETATTR, fields(0, 0, 0n)).subarray(0, n)));
    t.match(f, { kind: 'malformed', unique: null, reply: false, errno: Errno.EIO, readLen: n }, `${n} bytes`);
  }
});

t.test('the header length must equal the bytes read: short and oversized requests are EIO', async (t) => {
  const short = failure(t, parseRequest(request(Op.GETATTR, fields(0, 0, 0n), { len: 100, unique: 5n })));
  t.match(short, { kind: 'malformed', unique: 5n, reply: true, errno: Errno.EIO, reason: 'shorter than its header says', headerLen: 100, readLen: 56 });
  const long = failure(t, parseRequest(request(Op.GETATTR, fields(0, 0, 0n), { len: 50 })));
  t.match(long, { errno: Errno.EIO, reason: 'longer than its header says', headerLen: 50, readLen: 56 });
  t.match(failure(t, parseRequest(request(Op.GETATTR, fields(0, 0, 0n), { len: 0 }))), { errno: Errno.EIO });
  t.match(failure(t, parseRequest(request(Op.GETATTR, fields(0, 0, 0n), { len: 0xffffffff }))), { errno: Errno.EIO });
});

t.test('each fixed-size opcode refuses a body one byte short or one byte long', async (t) => {
  for (const [code, spec] of OPCODES) {
    if (spec.fixed > 0) {
      const f = failure(t, parseRequest(request(code, zeros(spec.fixed - 1))));
      t.match(f, { kind: 'malformed', errno: Errno.EIO, reason: 'body shorter than its opcode requires' }, `${spec.name} short`);
    }
    if (spec.tail.kind === 'none') {
      const f = failure(t, parseRequest(request(code, zeros(spec.fixed + 1))));
      t.match(f, { kind: 'malformed', errno: Errno.EIO, reason: 'body longer than its opcode allows' }, `${spec.name} long`);
    }
  }
});

t.test('names must end in a NUL inside the body, and nothing may follow them', async (t) => {
  const noNul = failure(t, parseRequest(request(Op.LOOKUP, Buffer.from('db_password'))));
  t.match(noNul, { kind: 'malformed', errno: Errno.EINVAL, reason: 'name not NUL-terminated within the body' });
  t.match(failure(t, parseRequest(request(Op.LOOKUP, zeros(0)))), { errno: Errno.EINVAL }, 'an empty LOOKUP body');
  t.match(failure(t, parseRequest(request(Op.RENAME, Buffer.concat([fields(3n), cstr('a'), Buffer.from('b')])))),
    { errno: Errno.EINVAL }, 'RENAME whose second name is unterminated');
  t.match(failure(t, parseRequest(request(Op.SYMLINK, cstr('only-one')))), { errno: Errno.EINVAL }, 'SYMLINK without its target');
  t.match(failure(t, parseRequest(request(Op.LOOKUP, Buffer.concat([cstr('a'), Buffer.from('junk')])))),
    { kind: 'malformed', errno: Errno.EIO, reason: 'bytes after the last name' });
  // The kernel's name bytes are reused buffers: a NUL in the header or a name past the body must not be found.
  const lookup = request(Op.LOOKUP, Buffer.from('abc'));
  const inBigger = Buffer.concat([lookup, Buffer.from([0])]).subarray(0, lookup.length);
  t.match(failure(t, parseRequest(inBigger)), { errno: Errno.EINVAL }, 'a NUL just past the message is not seen');
});

t.test('a name that is not UTF-8 is simply not there (ENOENT), never a lossy lookalike', async (t) => {
  const f = failure(t, parseRequest(request(Op.LOOKUP, cstr(Buffer.from([0x64, 0xff, 0x62])))));
  t.match(f, { kind: 'no_such_name', errno: Errno.ENOENT, reply: true });
  t.match(ok(t, parseRequest(request(Op.LOOKUP, cstr('größe-ü')))), { name: 'größe-ü' });
});

t.test("BATCH_FORGET's count must match its entries exactly", async (t) => {
  const entries = fields(10n, 1n, 11n, 2n);
  for (const count of [0, 1, 3, 0xffffffff]) {
    const f = failure(t, parseRequest(request(Op.BATCH_FORGET, Buffer.concat([fields(count, 0), entries]))));
    t.match(f, { kind: 'malformed', reply: false, reason: 'forget count does not match the body' }, `count ${count} with 2 entries`);
  }
  const half = failure(t, parseRequest(request(Op.BATCH_FORGET, Buffer.concat([fields(2, 0), entries.subarray(0, 24)]))));
  t.match(half, { reason: 'forget count does not match the body' }, 'an entry cut in half');
  t.match(ok(t, parseRequest(request(Op.BATCH_FORGET, fields(0, 0)))), { op: 'BATCH_FORGET', forgets: [] }, 'an empty batch');
  t.match(failure(t, parseRequest(request(Op.FORGET, zeros(4)))), { reply: false }, 'FORGET is never answered either');
});

t.test('WRITE and SETXATTR data must be exactly the size announced', async (t) => {
  const w = (size: number, data: number) => request(Op.WRITE, Buffer.concat([fields(5n, 0n, size, 0, 0n, 0, 0), zeros(data)]));
  t.match(failure(t, parseRequest(w(4, 3))), { reason: 'data size does not match the body' });
  t.match(failure(t, parseRequest(w(2, 3))), { reason: 'data size does not match the body' });
  t.match(failure(t, parseRequest(w(0xffffffff, 3))), { reason: 'data size does not match the body' });
  const x = (size: number, value: string) => request(Op.SETXATTR, Buffer.concat([fields(size, 0), cstr('user.x'), Buffer.from(value)]));
  t.match(failure(t, parseRequest(x(3, 'vv'))), { reason: 'data size does not match the body' });
  const f = failure(t, parseRequest(x(1, 'SECRET-VALUE')));
  t.notOk(Object.values(f).some((v) => String(v).includes('SECRET')), 'the failure carries no payload');
});

t.test('unknown opcodes are unsupported (ENOSYS, answered); node ids past 2^53 are refused', async (t) => {
  for (const code of [0, 7, 31, 39, 41, 47, 52, 4096, 0xffffffff]) {
    t.match(failure(t, parseRequest(request(code, zeros(8), { unique: 3n }))), { kind: 'unsupported', errno: Errno.ENOSYS, reply: true, unique: 3n, opcode: code });
  }
  t.match(failure(t, parseRequest(request(Op.GETATTR, fields(0, 0, 0n), { nodeid: 1n << 60n }))), { errno: Errno.EINVAL, reason: 'node id out of range' });
  const big = ok(t, parseRequest(request(Op.READ, fields(5n, 1n << 62n, 4096, 0, 0n, 0, 0))));
  t.equal(big.op === 'READ' && big.offset, Number.MAX_SAFE_INTEGER, 'an offset past 2^53 saturates (reads nothing) instead of rounding');
});

// A small deterministic generator, so that a failing case can be replayed from its seed.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const REASONS = new Set([
  'shorter than the header', 'longer than its header says', 'shorter than its header says', 'node id out of range', 'opcode not served',
  'body shorter than its opcode requires', 'body longer than its opcode allows', 'forget count does not match the body',
  'data size does not match the body', 'name not NUL-terminated within the body', 'name is not UTF-8', 'bytes after the last name',
]);

/** What every parse result must satisfy, whatever the input. */
function checkResult(msg: Buffer, r: ParseResult): string | null {
  if (r.ok) {
    if (msg.length < IN_HEADER_SIZE || msg.readUInt32LE(0) !== msg.length) return 'accepted a request whose length does not match';
    if (!OPCODES.has(msg.readUInt32LE(4))) return 'accepted an unknown opcode';
    if (!Number.isSafeInteger(r.req.nodeid)) return 'nodeid not a safe integer';
    for (const v of Object.values(r.req)) if (typeof v === 'string' && v.includes('\0')) return 'a name holds a NUL';
    return null;
  }
  const f = r.failure;
  if (!REASONS.has(f.reason)) return `unknown reason ${f.reason}`;
  if (![Errno.EIO, Errno.EINVAL, Errno.ENOSYS, Errno.ENOENT].includes(f.errno as never)) return `errno ${f.errno}`;
  if (f.readLen !== msg.length) return 'readLen differs';
  return null;
}

t.test('fuzz: random, truncated and mutated requests never throw and always give a typed result', async (t) => {
  const rand = rng(0x5eed1357);
  const int = (n: number) => Math.floor(rand() * n);
  let cases = 0;
  let accepted = 0;
  const problems: string[] = [];
  const run = (msg: Buffer, what: string) => {
    cases++;
    let r: ParseResult;
    try {
      r = parseRequest(msg);
    } catch (e) {
      problems.push(`${what}: threw ${(e as Error).message}`);
      return;
    }
    if (r.ok) accepted++;
    const p = checkResult(msg, r);
    if (p) problems.push(`${what}: ${p}`);
  };
  for (let i = 0; i < 4000; i++) {
    // Pure noise, sometimes with a plausible header.
    const noise = Buffer.alloc(int(200));
    for (let j = 0; j < noise.length; j++) noise[j] = int(256);
    run(noise, `noise ${i}`);
    if (noise.length >= IN_HEADER_SIZE) {
      noise.writeUInt32LE(noise.length, 0);
      noise.writeUInt32LE([...OPCODES.keys()][int(OPCODES.size)]!, 4);
      run(noise, `noise with a header ${i}`);
    }
  }
  for (const [code, body] of VALID) {
    const good = request(code, body);
    for (let cut = 0; cut < good.length; cut++) run(good.subarray(0, cut), `${code} cut at ${cut}`);
    for (let cut = 0; cut < good.length; cut++) {
      const truncated = Buffer.from(good.subarray(0, cut));
      if (cut >= 4) truncated.writeUInt32LE(cut, 0); // consistent header, short body
      run(truncated, `${code} truncated to ${cut} with its length fixed`);
    }
    for (let i = 0; i < 400; i++) {
      const m = Buffer.from(good);
      const flips = 1 + int(4);
      for (let k = 0; k < flips; k++) {
        const at = int(m.length);
        const how = int(4);
        if (how === 0) m[at] = int(256);
        else if (how === 1) m[at] = 0;
        else if (how === 2 && m.length >= 48) m.writeUInt32LE(int(2) ? 0xffffffff : int(1 << 16), IN_HEADER_SIZE); // first body word: counts, sizes
        else m[at]! ^= 1 << int(8);
      }
      if (int(2)) m.writeUInt32LE(m.length, 0);
      run(m, `${code} mutation ${i}`);
      const grown = Buffer.concat([m, Buffer.alloc(1 + int(24), int(2) ? 0 : 0x41)]);
      if (int(2)) grown.writeUInt32LE(grown.length, 0);
      run(grown, `${code} grown ${i}`);
    }
  }
  t.same(problems.slice(0, 10), [], `no throw and no contract break in ${cases} cases`);
  t.ok(accepted > 0 && accepted < cases, `some mutations still parse (${accepted}), most do not`);
});
