// The API's secret/config JSON decoded the way docker's CLI decodes it into swarm.Secret / swarm.Config (field
// names matched case-insensitively, unknown fields dropped, Data base64-decoded, times kept to the nanosecond),
// as typed Go values for templates and `{{json .}}`.
import { GoTime } from '../format/go-time.js';
import { GoMap, GoStruct, type GoValue } from '../format/go-values.js';
import type { ObjectKind } from '../client/objects.js';

type Json = Record<string, unknown>;

/** encoding/json matches keys to field names exactly first, then case-insensitively. */
function get(obj: unknown, name: string): unknown {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const rec = obj as Json;
  if (Object.prototype.hasOwnProperty.call(rec, name)) return rec[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(rec)) if (k.toLowerCase() === lower) return rec[k];
  return undefined;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const time = (v: unknown): GoTime => (typeof v === 'string' ? GoTime.parse(v) : null) ?? GoTime.zero();

function labels(v: unknown): GoMap {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return GoMap.fromRecord(null);
  const rec: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Json)) rec[k] = str(x);
  return GoMap.fromRecord(rec);
}

// A missing Data is a nil []byte: it prints as "[]" and is omitted from JSON, like an empty one.
function bytes(v: unknown): Uint8Array {
  return typeof v === 'string' ? new Uint8Array(Buffer.from(v, 'base64')) : new Uint8Array();
}

function driver(v: unknown): GoStruct | null {
  if (v === null || typeof v !== 'object') return null;
  const opts = get(v, 'Options');
  return new GoStruct('*swarm.Driver', [
    { name: 'Name', value: str(get(v, 'Name')), omitempty: true },
    { name: 'Options', value: opts === undefined || opts === null ? GoMap.fromRecord(null) : labels(opts), omitempty: true },
  ]);
}

/** The fields docker's list and pretty views need, plus the typed value. */
export interface ObjectView {
  id: string;
  name: string;
  labels: GoMap;
  driver: string;
  createdAt: GoTime;
  updatedAt: GoTime;
  data: Uint8Array;
  typed: GoStruct;
}

export function decodeObject(kind: ObjectKind, raw: unknown): ObjectView {
  const meta = raw;
  const spec = get(raw, 'Spec');
  const version = get(meta, 'Version');
  const index = get(version, 'Index');
  const view = {
    id: str(get(raw, 'ID')),
    name: str(get(spec, 'Name')),
    labels: labels(get(spec, 'Labels')),
    driver: kind === 'secret' ? str(get(get(spec, 'Driver'), 'Name')) : '',
    createdAt: time(get(meta, 'CreatedAt')),
    updatedAt: time(get(meta, 'UpdatedAt')),
    data: bytes(get(spec, 'Data')),
  };
  const annotations = new GoStruct('swarm.Annotations', [
    { name: 'Name', value: view.name, omitempty: true },
    { name: 'Labels', value: view.labels },
  ]);
  const specFields = [
    { name: 'Annotations', value: annotations, embedded: true },
    { name: 'Data', value: view.data, omitempty: true },
    ...(kind === 'secret' ? [{ name: 'Driver', value: driver(get(spec, 'Driver')) as GoValue, omitempty: true }] : []),
    { name: 'Templating', value: driver(get(spec, 'Templating')) as GoValue, omitempty: true },
  ];
  const typeBase = kind === 'secret' ? 'Secret' : 'Config';
  const typed = new GoStruct(`swarm.${typeBase}`, [
    { name: 'ID', value: view.id },
    {
      name: 'Meta',
      embedded: true,
      value: new GoStruct('swarm.Meta', [
        {
          name: 'Version',
          // swarm.Version has a String() method: {{.Version}} prints the bare index.
          value: new GoStruct(
            'swarm.Version',
            [{ name: 'Index', value: typeof index === 'number' ? index : 0, omitempty: true }],
            { String: () => String(typeof index === 'number' ? index : 0) },
          ),
        },
        { name: 'CreatedAt', value: view.createdAt, omitempty: true },
        { name: 'UpdatedAt', value: view.updatedAt, omitempty: true },
      ]),
    },
    { name: 'Spec', value: new GoStruct(`swarm.${typeBase}Spec`, specFields) },
  ]);
  return { ...view, typed };
}
