// Reading the payload for `create` exactly as docker does: "-" is stdin, anything else a file; at most twice the
// server's limit is read (the server gives the real size error); empty data and read failures have docker's texts.
import { closeSync, openSync, readSync } from 'node:fs';
import { CliError } from '../client/errors.js';
import type { ObjectKind } from '../client/objects.js';
import { MAX_CONFIG_SIZE, MAX_SECRET_SIZE } from '../../shared/limits.js';

// Go's syscall error texts for the errors a path can give.
const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  ENXIO: 'no such device or address',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
  EINVAL: 'invalid argument',
};

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code && ERRNO_TEXT[e.code]) return ERRNO_TEXT[e.code]!;
  // "ECODE: text, syscall 'path'" -> "text"
  const m = /^[A-Z]+: ([^,]+)/.exec(e.message ?? '');
  return m ? m[1]! : String(e.message ?? err);
}

export function readCap(kind: ObjectKind): number {
  return 2 * (kind === 'secret' ? MAX_SECRET_SIZE : MAX_CONFIG_SIZE);
}

async function readStdin(cap: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    const c = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    const take = Math.min(c.length, cap - total);
    chunks.push(c.subarray(0, take));
    total += take;
    if (total >= cap) break;
  }
  return Buffer.concat(chunks);
}

function readFileCapped(path: string, cap: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new CliError(`error reading from ${path}: open ${path}: ${errnoText(err)}`);
  }
  try {
    const buf = Buffer.alloc(cap);
    let total = 0;
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, total, cap - total, null);
      } catch (err) {
        throw new CliError(`error reading from ${path}: read ${path}: ${errnoText(err)}`);
      }
      if (n === 0) break;
      total += n;
      if (total >= cap) break;
    }
    return buf.subarray(0, total);
  } finally {
    closeSync(fd);
  }
}

/** docker's readSecretData / readConfigData (without the config wrapping, which the caller adds). */
export async function readObjectData(kind: ObjectKind, file: string): Promise<Buffer> {
  const cap = readCap(kind);
  if (file === '-') {
    let data: Buffer;
    try {
      data = await readStdin(cap);
    } catch (err) {
      throw new CliError(`error reading from STDIN: ${errnoText(err)}`);
    }
    if (data.length === 0) throw new CliError('error reading from STDIN: data is empty');
    return data;
  }
  if (file === '') throw new CliError(`${kind} file is required`);
  const data = readFileCapped(file, cap);
  if (data.length === 0) throw new CliError(`error reading from ${file}: data is empty`);
  return data;
}
