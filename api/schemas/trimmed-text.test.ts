import { z } from 'zod';
import { CreateApiKeySchema } from './api-keys';
import { AdjustRequestSchema, ApproveRequestSchema, CreditNoteRequestSchema } from './invoices';
import { DismissFindingSchema } from './reconciliations';

/*
 * Free-text fields are trimmed, and their documented maxLength is the length
 * of what the client sends: a value one character over it must be refused
 * even when trimming would bring it under (the API fuzzer found a dismiss
 * reason of 501 characters, the first a vertical tab, accepted against a
 * documented maximum of 500).
 */
const over = (max: number): string => `\u000b${'x'.repeat(max)}`;
type JsonSchemaNode = { $ref?: string; $defs?: Record<string, JsonSchemaNode>; properties?: Record<string, JsonSchemaNode>; items?: JsonSchemaNode; maxLength?: number };
/** The maxLength the OpenAPI document gives the field at `path` ('[]' for an array's items). */
const maxLength = (schema: z.ZodType, path: string[]): number => {
  const root = z.toJSONSchema(schema, { io: 'input' }) as JsonSchemaNode;
  const deref = (node: JsonSchemaNode): JsonSchemaNode => (node.$ref ? root.$defs![node.$ref.replace('#/$defs/', '')]! : node);
  let node = deref(root);
  for (const key of path) node = deref((key === '[]' ? node.items : node.properties?.[key])!);
  return node.maxLength!;
};

const cases: { name: string; schema: z.ZodType; path: string[]; body: (text: string) => unknown }[] = [
  { name: 'dismiss reason', schema: DismissFindingSchema, path: ['reason'], body: (reason) => ({ reason }) },
  { name: 'API key name', schema: CreateApiKeySchema, path: ['name'], body: (name) => ({ name }) },
  { name: 'approval note', schema: ApproveRequestSchema, path: ['note'], body: (note) => ({ note }) },
  { name: 'adjustment line description', schema: AdjustRequestSchema, path: ['lines', '[]', 'description'], body: (description) => ({ reason: 'r', lines: [{ description, amount: '-1.00' }] }) },
  { name: 'credit note request key', schema: CreditNoteRequestSchema, path: ['request_key'], body: (key) => ({ request_key: key, reason: 'r', amount: '1.00' }) },
];

describe.each(cases)('$name', ({ schema, path, body }) => {
  const max = maxLength(schema, path);

  it('refuses one character over the documented maxLength, even when trimming would fit it', () => {
    const result = schema.safeParse(body(over(max)));
    expect(result.success).toBe(false);
    const field = path.map((p) => (p === '[]' ? '0' : p)).join('.');
    expect(result.error!.issues.some((issue) => issue.code === 'too_big' && issue.path.join('.') === field)).toBe(true);
  });

  it('takes the documented maximum and trims it', () => {
    const result = schema.safeParse(body(` ${'x'.repeat(max - 1)}`));
    expect(result.success).toBe(true);
  });
});
