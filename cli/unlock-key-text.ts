// The block Docker prints with an unlock key (swarm init --autolock, swarm update --autolock=true, unlock-key), in
// our CLI's words.
export const UNLOCK_KEY_TEXT = (key: string): string =>
  'To unlock a swarm manager after it restarts, run the `runsecrets manager unlock`\n' +
  'command and provide the following key:\n\n' +
  `    ${key}\n\n` +
  'Please remember to store this key in a password manager, since without it you\n' +
  'will not be able to restart the manager.\n';
