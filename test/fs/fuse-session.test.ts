// Unit tests: what the session writes back for a request as read (respond): handler replies framed with the
// request's unique, malformed requests answered with their errno and logged without a byte of their payload,
// unknown opcodes ENOSYS, and nothing at all for requests nobody waits on.
import t from 'tap';
import pino from 'pino';
import { respond, type Handler } from '../../agent/fs/fuse-session.js';
import { Op, Errno, IN_HEADER_SIZE, OUT_HEADER_SIZE } from '../../agent/fs/fuse-protocol.js';
import type { FuseRequest } from '../../agent/fs/fuse-protocol-parse.js';

function request(opcode: number, body: Buffer, unique: bigint, len = IN_HEADER_SIZE + body.length): Buffer {
  const h = Buffer.alloc(IN_HEADER_SIZE);
  h.writeUInt32LE(len, 0);
  h.writeUInt32LE(opcode, 4);
  h.writeBigUInt64LE(unique, 8);
  h.writeBigUInt64LE(1n, 16);
  return Buffer.concat([h, body]);
}

function capture(): { log: pino.Logger; lines: Array<Record<string, unknown>>; text: () => string } {
  const raw: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void raw.push(s) });
  return { log, get lines() { return raw.map((l) => JSON.parse(l) as Record<string, unknown>); }, text: () => raw.join('') };
}

/** The out header of a reply: total length, error, unique. */
function header(parts: Buffer[] | null): { len: number; error: number; unique: bigint } | null {
  if (!parts) return null;
  const h = parts[0]!;
  return { len: h.readUInt32LE(0), error: h.readInt32LE(4), unique: h.readBigUInt64LE(8) };
}

const seen: FuseRequest[] = [];
const handler: Handler = (req) => {
  seen.push(req);
  if (req.op === 'LOOKUP') return req.name === 'there' ? [Buffer.from('entry')] : -Errno.ENOENT;
  if (req.op === 'FORGET') return null;
  if (req.op === 'GETATTR') throw new Error('handler bug');
  return -Errno.ENOSYS;
};

t.test('a parsed request goes to the handler; its reply is framed with the unique', async (t) => {
  const c = capture();
  const ok = respond(request(Op.LOOKUP, Buffer.from('there\0'), 41n), handler, c.log);
  t.same(header(ok), { len: OUT_HEADER_SIZE + 5, error: 0, unique: 41n });
  t.equal(Buffer.concat(ok!.slice(1)).toString(), 'entry');
  t.same(header(respond(request(Op.LOOKUP, Buffer.from('gone\0'), 42n), handler, c.log)), { len: OUT_HEADER_SIZE, error: -Errno.ENOENT, unique: 42n });
  t.equal(respond(request(Op.FORGET, Buffer.alloc(8), 43n), handler, c.log), null, 'FORGET: no reply');
  t.same(header(respond(request(Op.GETATTR, Buffer.alloc(16), 44n), handler, c.log)), { len: OUT_HEADER_SIZE, error: -Errno.EIO, unique: 44n }, 'a throwing handler gives EIO');
  t.match(c.lines, [{ level: 50, op: 'GETATTR', msg: 'fuse handler threw' }]);
});

t.test('malformed requests are answered with their errno, logged with sizes only, never handed on', async (t) => {
  const c = capture();
  seen.length = 0;
  const payload = 'SECRET-NAME-BYTES';
  const unterminated = respond(request(Op.LOOKUP, Buffer.from(payload), 51n), handler, c.log);
  t.same(header(unterminated), { len: OUT_HEADER_SIZE, error: -Errno.EINVAL, unique: 51n });
  const short = respond(request(Op.LOOKUP, Buffer.from(`${payload}\0`), 52n, 4096), handler, c.log);
  t.same(header(short), { len: OUT_HEADER_SIZE, error: -Errno.EIO, unique: 52n }, 'header claims more than was read');
  const forgets = Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.alloc(16)]);
  t.equal(respond(request(Op.BATCH_FORGET, forgets, 53n), handler, c.log), null, 'a BATCH_FORGET whose count lies: dropped, not answered');
  t.equal(respond(Buffer.from(payload), handler, c.log), null, 'shorter than a header: nobody to answer');
  t.same(seen, [], 'the handler saw none of them');
  t.match(c.lines, [
    { level: 40, msg: 'malformed fuse request refused', opcode: Op.LOOKUP, unique: '51', reason: 'name not NUL-terminated within the body' },
    { level: 40, opcode: Op.LOOKUP, unique: '52', reason: 'shorter than its header says', headerLen: 4096 },
    { level: 40, opcode: Op.BATCH_FORGET, reason: 'forget count does not match the body' },
    { level: 40, reason: 'shorter than the header', readLen: payload.length },
  ]);
  t.notOk(c.text().includes('SECRET'), 'no payload byte in any log line');
});

t.test('unknown opcodes are answered ENOSYS (logged at debug)', async (t) => {
  const c = capture();
  t.same(header(respond(request(4000, Buffer.alloc(0), 61n), handler, c.log)), { len: OUT_HEADER_SIZE, error: -Errno.ENOSYS, unique: 61n });
  t.match(c.lines, [{ level: 20, opcode: 4000, msg: 'fuse opcode not served' }]);
});
