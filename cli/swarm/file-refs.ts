// docker's --secret / --config value parser (opts/swarmopts/secret.go, config.go): short syntax `name`, long
// syntax `source=…,target=…,uid=…,gid=…,mode=…`, defaults uid "0", gid "0", mode 0444, target = source.
import { CsvError, parseCsvRecord } from './csv-record.js';
import { GoParseError, parseUint } from './go-parse.js';

export type RefKind = 'secret' | 'config';

export interface FileRef {
  kind: RefKind;
  /** SecretName or ConfigName. */
  name: string;
  file: { Name: string; UID: string; GID: string; Mode: number };
}

export class RefParseError extends Error {}

export function parseFileRef(kind: RefKind, value: string): FileRef {
  let fields: string[];
  // csv.Reader.Read on empty input returns io.EOF, which docker prints as is.
  if (value === '' || /^\r?\n/.test(value)) throw new RefParseError('EOF');
  try {
    fields = parseCsvRecord(value);
  } catch (e) {
    if (e instanceof CsvError) throw new RefParseError(e.message);
    throw e;
  }
  const ref: FileRef = { kind, name: '', file: { Name: '', UID: '0', GID: '0', Mode: 0o444 } };
  if (fields.length === 1 && !fields[0]!.includes('=')) {
    ref.name = ref.file.Name = fields[0]!;
    return ref;
  }
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq <= 0) throw new RefParseError(`invalid field '${field}' must be a key=value pair`);
    const key = field.slice(0, eq);
    const val = field.slice(eq + 1);
    switch (key.toLowerCase()) {
      case 'source':
      case 'src':
        ref.name = val;
        break;
      case 'target':
        ref.file.Name = val;
        break;
      case 'uid':
        ref.file.UID = val;
        break;
      case 'gid':
        ref.file.GID = val;
        break;
      case 'mode':
        try {
          ref.file.Mode = Number(parseUint(val, 0, 32));
        } catch (e) {
          if (e instanceof GoParseError) throw new RefParseError(`invalid mode specified: ${e.message}`);
          throw e;
        }
        break;
      default:
        throw new RefParseError(`invalid field in ${kind} request: ${key}`);
    }
  }
  if (ref.name === '') throw new RefParseError('source is required');
  if (ref.file.Name === '') ref.file.Name = ref.name;
  return ref;
}

/** The API's reference object: {File, SecretID, SecretName} or {File, ConfigID, ConfigName}, docker's key order. */
export function refToJSON(ref: FileRef, id: string): Record<string, unknown> {
  return ref.kind === 'secret'
    ? { File: { ...ref.file }, SecretID: id, SecretName: ref.name }
    : { File: { ...ref.file }, ConfigID: id, ConfigName: ref.name };
}
