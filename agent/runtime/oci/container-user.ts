// A container's user ("name|uid[:group|gid]", Docker's User) resolved against the container's own /etc/passwd and
// /etc/group, as runc's libcontainer/user does for Docker: names must exist, numeric ids need not (gid 0 then),
// supplementary groups are the groups that list the user when no group is given.
import { readFileInRoot } from './rootfs-path.js';

export interface ContainerUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

export class ContainerUserError extends Error {
  override name = 'ContainerUserError';
}

interface PasswdEntry { name: string; uid: number; gid: number }
interface GroupEntry { name: string; gid: number; members: string[] }

const ID = /^\d{1,10}$/;

function lines(b: Buffer | null): string[][] {
  if (!b) return [];
  return b.toString('utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(':'));
}

export function parsePasswd(b: Buffer | null): PasswdEntry[] {
  return lines(b).filter((f) => f.length >= 4 && ID.test(f[2]!) && ID.test(f[3]!))
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) }));
}

export function parseGroup(b: Buffer | null): GroupEntry[] {
  return lines(b).filter((f) => f.length >= 3 && ID.test(f[2]!))
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

/** Pure part: resolves spec against parsed files; throws ContainerUserError with runc's texts. */
export function resolveUser(spec: string, passwd: PasswdEntry[], groups: GroupEntry[]): ContainerUser {
  const [userPart = '', groupPart] = spec.split(':', 2);
  const u = userPart === '' ? '0' : userPart;
  const entry = ID.test(u) ? passwd.find((p) => p.uid === Number(u)) : passwd.find((p) => p.name === u);
  if (!entry && !ID.test(u)) throw new ContainerUserError(`unable to find user ${u}: no matching entries in passwd file`);
  const uid = entry?.uid ?? Number(u);
  if (uid > 0xfffffffe) throw new ContainerUserError(`invalid user "${spec}": id out of range`);
  let gid = entry?.gid ?? 0;
  let additionalGids: number[] = [];
  if (groupPart !== undefined && groupPart !== '') {
    const g = ID.test(groupPart) ? { gid: Number(groupPart) } : groups.find((x) => x.name === groupPart);
    if (!g) throw new ContainerUserError(`unable to find group ${groupPart}: no matching entries in group file`);
    gid = g.gid;
  } else if (entry) {
    const name = entry.name;
    additionalGids = [...new Set(groups.filter((x) => x.members.includes(name) && x.gid !== gid).map((x) => x.gid))];
  }
  return { uid, gid, additionalGids };
}

/** Resolves spec against the container's own files under root. */
export async function containerUser(root: string, spec: string): Promise<ContainerUser> {
  const [passwd, group] = await Promise.all([readFileInRoot(root, '/etc/passwd'), readFileInRoot(root, '/etc/group')]);
  return resolveUser(spec, parsePasswd(passwd), parseGroup(group));
}
