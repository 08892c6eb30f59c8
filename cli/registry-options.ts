// dockerd's registry settings for the daemons that talk to registries: `manager run` (GET /distribution) and
// `agent run` (image pulls). Same flags, texts and checks on both (shared/registry-rules.ts); repeatable, and lists
// in the config file (`insecure-registry: [a, b]`).
import type { Command } from 'commander';
import { makeRules, type RegistryRules } from '../shared/registry-rules.js';

export interface RegistryFlags {
  insecureRegistry: string[];
  registryMirror: string[];
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function addRegistryOptions(cmd: Command): Command {
  return cmd
    .option('--insecure-registry <host[:port]|cidr>', "a registry spoken to over plain HTTP (dockerd's insecure-registries; 127.0.0.0/8 always is); repeatable", collect, [])
    .option('--registry-mirror <url>', "a mirror tried before Docker Hub for docker.io images (dockerd's registry-mirrors); repeatable", collect, []);
}

/** The rules the flags give; a bad value throws RegistryRuleError with dockerd's text (the command exits 1). */
export function registryRulesOf(o: RegistryFlags): RegistryRules {
  return makeRules(o.insecureRegistry, o.registryMirror);
}
