// An assignment as the runtime's spec: what to run, its container identity, where its files are. Pure.
import { join } from 'node:path';
import { taskFolderName, type TaskAssignment } from '../../shared/protocol.js';
import type { RuntimeTaskSpec } from '../runtime/runtime.js';
import { imageAuthOf } from '../images/image-auth.js';
import { containerIdentity } from './container.js';
import { filesFolderName, placeFiles, type ConfigPlace } from './placement.js';

export interface SpecContext {
  /** The secrets mount (absolute). */
  mountPoint: string;
  nodeId: string;
  configs: ConfigPlace;
}

export function runtimeSpec(a: TaskAssignment, ctx: SpecContext): RuntimeTaskSpec {
  const { name, labels, hostname } = containerIdentity(a, ctx.nodeId);
  const placed = placeFiles(a, ctx.configs);
  const filesDir = join(ctx.mountPoint, filesFolderName(a.id));
  const spec: RuntimeTaskSpec = {
    id: a.id,
    name,
    labels,
    hostname,
    secretsDir: join(ctx.mountPoint, taskFolderName(a.id)),
    secretMounts: true, // the whole folder at /run/secrets, so secrets granted later appear too
    absoluteMounts: placed.absoluteMounts.map((m) => ({ source: join(filesDir, m.path), target: m.target })),
    configMounts: placed.configMounts.map((m) => ({ source: join(filesDir, m.path), target: m.target })),
  };
  if (placed.files.length > 0) spec.filesDir = filesDir;
  if (a.image !== undefined) spec.image = a.image;
  const auth = imageAuthOf(a); // never logged
  if (auth) spec.imageAuth = auth;
  if (a.command) spec.command = a.command;
  if (a.args) spec.args = a.args;
  if (a.env) spec.env = a.env;
  if (a.dir) spec.dir = a.dir;
  if (a.user) spec.user = a.user;
  if (a.stopGracePeriodMs !== undefined) spec.stopGracePeriodMs = a.stopGracePeriodMs;
  return spec;
}
