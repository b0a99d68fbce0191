/**
 * Text PostgreSQL cannot store: the NUL character (U+0000), which neither
 * `text` nor `jsonb` accepts, and unpaired UTF-16 surrogates, which `jsonb`
 * refuses and `text` would silently turn into U+FFFD. Input holding either
 * is refused where it enters (a 400 naming the field) rather than failing
 * later, inside a transaction or a workflow step that would retry it.
 */
// eslint-disable-next-line no-control-regex -- matching NUL is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface UnstorableText {
  /** where: "properties.note", "events[3].customer_external_id", "" for the value itself */
  field: string;
  message: string;
}

function problem(s: string): string | null {
  const match = UNSTORABLE.exec(s);
  if (!match) return null;
  return match[0] === '\u0000' ? 'contains a NUL character (U+0000), which cannot be stored' : 'contains an unpaired UTF-16 surrogate, which is not valid Unicode';
}

const join = (path: string, key: string | number): string => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

/** The first string or object key in `value` that cannot be stored, depth first; null when all can. */
export function findUnstorableText(value: unknown, path = ''): UnstorableText | null {
  if (typeof value === 'string') {
    const why = problem(value);
    return why ? { field: path, message: `${path || 'the value'} ${why}` } : null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableText(value[i], join(path, i));
      if (found) return found;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      const why = problem(key);
      if (why) return { field: path, message: `a key in ${path || 'the object'} ${why}` };
      const found = findUnstorableText(inner, join(path, key));
      if (found) return found;
    }
  }
  return null;
}

/** The text with NUL characters and unpaired surrogates replaced by U+FFFD, for messages that quote input. */
export function storableText(s: string): string {
  return s.replace(new RegExp(UNSTORABLE.source, 'g'), '\uFFFD');
}
