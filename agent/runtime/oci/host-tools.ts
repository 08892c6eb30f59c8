// Absolute paths of the programs the OCI runtime runs as root, found once on a fixed PATH (never the agent's or a
// task's PATH): runc (Debian package runc), mount and umount (util-linux/mount).
import { DEFAULT_PATH } from '../../executor/spec.js';
import { findProgram } from '../../find-program.js';

export interface OciTools {
  runc: string;
  mount: string;
  umount: string;
}

export function findOciTools(runcPath?: string): OciTools {
  const need = (name: string): string => {
    const p = findProgram(name);
    if (!p) throw new Error(`the OCI runtime needs ${name} in ${DEFAULT_PATH} (Debian packages runc, mount)`);
    return p;
  };
  return { runc: runcPath ?? need('runc'), mount: need('mount'), umount: need('umount') };
}
