// Absolute paths of the programs the OCI runtime runs as root, found once on a fixed PATH (never the agent's or a
// task's PATH): runc (Debian package runc), mount and umount (util-linux/mount).
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PATH } from '../../executor/spec.js';

export interface OciTools {
  runc: string;
  mount: string;
  umount: string;
}

export function findProgram(name: string): string | null {
  for (const dir of DEFAULT_PATH.split(':')) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next folder */
    }
  }
  return null;
}

export function findOciTools(runcPath?: string): OciTools {
  const need = (name: string): string => {
    const p = findProgram(name);
    if (!p) throw new Error(`the OCI runtime needs ${name} in ${DEFAULT_PATH} (Debian packages runc, mount)`);
    return p;
  };
  return { runc: runcPath ?? need('runc'), mount: need('mount'), umount: need('umount') };
}
