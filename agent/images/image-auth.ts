// A task's registry credentials as the runtime takes them (RuntimeTaskSpec.imageAuth), from its assignment: the
// service's `--with-registry-auth` credentials, present only when the manager sent some. Never logged.
import type { TaskAssignment } from '../../shared/protocol.js';
import type { RuntimeTaskSpec } from '../runtime/runtime.js';

export function imageAuthOf(a: TaskAssignment): RuntimeTaskSpec['imageAuth'] {
  const r = a.registryAuth;
  if (!r) return undefined;
  const out: NonNullable<RuntimeTaskSpec['imageAuth']> = {};
  if (r.username !== undefined) out.username = r.username;
  if (r.password !== undefined) out.password = r.password;
  if (r.identitytoken !== undefined) out.identitytoken = r.identitytoken;
  return Object.keys(out).length > 0 ? out : undefined;
}
