import { KubeErrors } from './errors.js';

/**
 * Media types as the apiserver negotiates them (k8s.io/apiserver/pkg/endpoints/handlers/negotiation
 * with the goautoneg Accept parser). yurthub must pick the representation the apiserver would have
 * picked, both to serve cached bodies in the right encoding and to know whether a response is the
 * plain object at all: `as=Table` or `as=PartialObjectMetadataList` bodies must not be cached as if
 * they were the resource.
 */

export const MediaTypes = {
  json: 'application/json',
  yaml: 'application/yaml',
  protobuf: 'application/vnd.kubernetes.protobuf',
} as const;
export type KubeMediaType = (typeof MediaTypes)[keyof typeof MediaTypes];

/** The apiserver's serializer order: a full wildcard or an absent Accept header gets the first. */
export const SERVER_MEDIA_TYPES: readonly KubeMediaType[] = [MediaTypes.json, MediaTypes.yaml, MediaTypes.protobuf];

/** What a protobuf watch response is labelled; a JSON watch is plain `application/json`. */
export const PROTOBUF_WATCH_CONTENT_TYPE = `${MediaTypes.protobuf};stream=watch`;

export interface MediaType {
  /** Lowercased. */
  type: string;
  /** Lowercased. */
  subtype: string;
  /** Names lowercased, values as written (unquoted). */
  params: Record<string, string>;
}

export interface AcceptClause extends MediaType {
  q: number;
}

const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const TOKEN_RE = new RegExp(`^${TOKEN}$`);
const PARAM_NAME_RE = new RegExp(`^(${TOKEN})\\s*=\\s*`);
const PARAM_TOKEN_RE = new RegExp(`^${TOKEN}`);

/**
 * Strict RFC 9110 parsing, like Go's mime.ParseMediaType, for Content-Type headers: a body whose
 * type cannot be parsed must be refused (415) rather than guessed at.
 */
export function parseMediaType(value: string): MediaType {
  const bad = (why: string) => KubeErrors.KUBE_ERR_BAD_MEDIA_TYPE(value, why);
  const semi = value.indexOf(';');
  const full = (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
  const [type = '', subtype = '', ...extra] = full.split('/');
  if (extra.length > 0 || !TOKEN_RE.test(type) || !TOKEN_RE.test(subtype)) throw bad('expected type/subtype');
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  let rest = semi === -1 ? '' : value.slice(semi + 1);
  for (;;) {
    rest = rest.replace(/^[\s;]+/, '');
    if (rest === '') break;
    const name = PARAM_NAME_RE.exec(rest);
    if (!name) throw bad(`invalid parameter at "${rest}"`);
    rest = rest.slice(name[0].length);
    let paramValue = '';
    if (rest.startsWith('"')) {
      let i = 1;
      for (; i < rest.length && rest[i] !== '"'; i++) {
        if (rest[i] === '\\') i++;
        paramValue += rest[i] ?? '';
      }
      if (i >= rest.length) throw bad('unterminated quoted string');
      rest = rest.slice(i + 1);
    } else {
      const token = PARAM_TOKEN_RE.exec(rest);
      if (!token) throw bad(`invalid value for parameter ${name[1]}`);
      paramValue = token[0];
      rest = rest.slice(token[0].length);
    }
    const key = (name[1] ?? '').toLowerCase();
    if (Object.hasOwn(params, key)) throw bad(`duplicate parameter ${key}`);
    params[key] = paramValue;
    if (!/^\s*(;|$)/.test(rest)) throw bad(`unexpected text after parameter ${key}`);
  }
  return { type, subtype, params };
}

/**
 * goautoneg's ParseAccept: lenient (malformed clauses are dropped, never an error), ordered by q,
 * then concrete before wildcard, keeping the client's order among equals. Unlike goautoneg, names
 * are case-insensitive and q=0 ("not acceptable", RFC 9110) clauses are dropped.
 */
export function parseAccept(header: string | undefined | null): AcceptClause[] {
  const clauses: AcceptClause[] = [];
  for (const part of (header ?? '').split(',')) {
    const [range = '', ...rawParams] = part.trim().split(';');
    const sp = range.split('/');
    const type = (sp[0] ?? '').trim().toLowerCase();
    let subtype: string;
    if (sp.length === 1 && type === '*') subtype = '*';
    else if (sp.length === 2) subtype = (sp[1] ?? '').trim().toLowerCase();
    else continue;
    if (type === '' || subtype === '') continue;
    const clause: AcceptClause = { type, subtype, params: Object.create(null) as Record<string, string>, q: 1 };
    for (const raw of rawParams) {
      const eq = raw.indexOf('=');
      if (eq === -1) continue;
      const key = raw.slice(0, eq).trim().toLowerCase();
      const v = raw.slice(eq + 1).trim();
      if (key === 'q') {
        const q = Number.parseFloat(v);
        clause.q = Number.isFinite(q) ? q : 0;
      } else {
        clause.params[key] = v;
      }
    }
    if (clause.q > 0) clauses.push(clause);
  }
  const rank = (c: AcceptClause) => (c.type === '*' ? 2 : c.subtype === '*' ? 1 : 0);
  return clauses.sort((a, b) => b.q - a.q || rank(a) - rank(b));
}

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface NegotiatedMediaType {
  mediaType: KubeMediaType;
  /** Set when the client asked for a server-side transformation (`as=Table;g=meta.k8s.io;v=v1`). */
  convert?: GroupVersionKind;
  pretty: boolean;
  /** '' or 'watch'. */
  stream: string;
  /** Parameters the apiserver ignores but accepts. */
  unrecognized: string[];
}

export interface NegotiateOptions {
  /**
   * Media types the endpoint serves its objects in; CRDs have no protobuf, so pass
   * `[MediaTypes.json, MediaTypes.yaml]` for them. Default: all three.
   */
  supported?: readonly KubeMediaType[];
  /** A WATCH: the chosen type needs a stream framing, which YAML lacks (406, as in the apiserver). */
  stream?: boolean;
}

const META_GROUP = 'meta.k8s.io';
const META_VERSIONS = new Set(['v1', 'v1beta1']);

/** RequestScope.AllowsMediaTypeTransform for a built-in endpoint with a table convertor. */
function allowsTransform(media: KubeMediaType, convert: GroupVersionKind | undefined, supported: readonly KubeMediaType[]): boolean {
  if (!convert) return supported.includes(media);
  if (convert.group !== META_GROUP || !META_VERSIONS.has(convert.version)) return false;
  switch (convert.kind) {
    case 'Table':
      return media === MediaTypes.json || media === MediaTypes.yaml;
    case 'PartialObjectMetadata':
    case 'PartialObjectMetadataList':
      return true;
    default:
      return false;
  }
}

function acceptOptions(clause: AcceptClause, media: KubeMediaType, supported: readonly KubeMediaType[]): NegotiatedMediaType | undefined {
  const out: NegotiatedMediaType = { mediaType: media, pretty: false, stream: '', unrecognized: [] };
  let convert: GroupVersionKind | undefined;
  for (const [k, v] of Object.entries(clause.params)) {
    switch (k) {
      case 'as': (convert ??= { group: '', version: '', kind: '' }).kind = v; break;
      case 'g': (convert ??= { group: '', version: '', kind: '' }).group = v; break;
      case 'v': (convert ??= { group: '', version: '', kind: '' }).version = v; break;
      case 'stream':
        if (v !== '' && (media === MediaTypes.yaml || v !== 'watch')) return undefined;
        out.stream = v;
        break;
      case 'pretty': out.pretty = v === '1'; break;
      default: out.unrecognized.push(k);
    }
  }
  if (!allowsTransform(media, convert, supported)) return undefined;
  if (convert) out.convert = convert;
  return out;
}

/**
 * Picks the response representation for an Accept header: the first clause (in q order) that one
 * of the server's media types satisfies, the server's types tried in its own order for each
 * wildcard. Undefined means 406 Not Acceptable.
 */
export function negotiateMediaType(accept: string | undefined | null, options: NegotiateOptions = {}): NegotiatedMediaType | undefined {
  const supported = options.supported ?? SERVER_MEDIA_TYPES;
  let chosen: NegotiatedMediaType | undefined;
  if (!accept || accept.trim() === '') {
    const first = SERVER_MEDIA_TYPES.find((m) => supported.includes(m));
    chosen = first && { mediaType: first, pretty: false, stream: '', unrecognized: [] };
  } else {
    outer: for (const clause of parseAccept(accept)) {
      for (const media of SERVER_MEDIA_TYPES) {
        const [type, subtype] = media.split('/');
        const matches =
          (clause.type === '*' && clause.subtype === '*') ||
          (clause.type === type && (clause.subtype === '*' || clause.subtype === subtype));
        if (!matches) continue;
        chosen = acceptOptions(clause, media, supported);
        if (chosen) break outer;
      }
    }
  }
  if (chosen && options.stream && chosen.mediaType === MediaTypes.yaml) return undefined;
  return chosen;
}

/** The Content-Type the apiserver labels a response with. */
export function responseContentType(mediaType: KubeMediaType, watch = false): string {
  return watch && mediaType === MediaTypes.protobuf ? PROTOBUF_WATCH_CONTENT_TYPE : mediaType;
}

export interface BodyFormat {
  /** `type/subtype`, lowercased; `application/json` when the header is absent, as the apiserver assumes. */
  mediaType: string;
  /** json also covers the `+json` patch types. Undefined for anything else or an unparsable header. */
  format: 'json' | 'yaml' | 'protobuf' | undefined;
  /** `stream=watch`. */
  watchStream: boolean;
}

/** Classifies a request's or response's Content-Type, never throwing. */
export function bodyFormat(contentType: string | undefined | null): BodyFormat {
  if (!contentType || contentType.trim() === '') return { mediaType: MediaTypes.json, format: 'json', watchStream: false };
  let mt: MediaType;
  try {
    mt = parseMediaType(contentType);
  } catch {
    return { mediaType: contentType.trim().toLowerCase(), format: undefined, watchStream: false };
  }
  const full = `${mt.type}/${mt.subtype}`;
  let format: BodyFormat['format'];
  if (mt.type === 'application') {
    if (mt.subtype === 'json' || mt.subtype.endsWith('+json')) format = 'json';
    else if (mt.subtype === 'yaml' || mt.subtype.endsWith('+yaml')) format = 'yaml';
    else if (mt.subtype === 'vnd.kubernetes.protobuf') format = 'protobuf';
  }
  return { mediaType: full, format, watchStream: mt.params.stream === 'watch' };
}
