const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export interface DocumentedPath {
  /** as the OpenAPI document writes it, e.g. /api/v1/invoices/{id} */
  template: string;
  pattern: RegExp;
  /** its methods, upper case; HEAD with GET, as Express serves it */
  methods: string[];
}

/** `/api/v1/invoices/{id}` as a pattern for one path segment per parameter, case-insensitive like the router. */
function pathPattern(template: string): RegExp {
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}/?$`, 'i');
}

/**
 * The paths of the OpenAPI document, to answer "which documented path is
 * this request for" (405s for methods a path lacks, and the route label of
 * the request metrics, so their cardinality is the document's, not the
 * callers').
 */
export class DocumentedPaths {
  private paths?: DocumentedPath[];

  constructor(private readonly document: () => { paths?: Record<string, unknown> }) {}

  private all(): DocumentedPath[] {
    return (this.paths ??= Object.entries(this.document().paths ?? {}).map(([template, item]) => {
      const methods = METHODS.filter((m) => typeof item === 'object' && item !== null && m in item).map((m) => m.toUpperCase());
      if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
      return { template, pattern: pathPattern(template), methods };
    }));
  }

  /** Every documented path `path` matches (a literal and a template can both match, e.g. /invoices/{id} and /invoices/x). */
  matching(path: string): DocumentedPath[] {
    return this.all().filter((p) => p.pattern.test(path));
  }

  /** The template a request for `path` is counted under: a literal path before a templated one, else "other". */
  routeOf(path: string): string {
    const matches = this.matching(path);
    if (matches.length === 0) return 'other';
    return (matches.find((m) => !m.template.includes('{')) ?? matches[0]!).template;
  }
}
