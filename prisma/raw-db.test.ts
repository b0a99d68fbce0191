import { Prisma } from './generated/client';
import type { Queryable } from './pg';
import { MAX_PREPARED_TEXTS, pgRawDb, planPerCall } from './raw-db';

type Sent = { name?: string; text: string; values?: unknown[] };

/** A connection that records what pgRawDb sends it (the naming is what is under test, not PostgreSQL). */
function recordingDb(): { db: Queryable; sent: Sent[] } {
  const sent: Sent[] = [];
  const db: Queryable = {
    query: (config: string | Sent) => {
      sent.push(typeof config === 'string' ? { text: config } : config);
      return Promise.resolve({ rows: [], rowCount: 3, command: 'SELECT', oid: 0, fields: [] });
    },
  };
  return { db, sent };
}

describe('pgRawDb runs its statements as prepared statements', () => {
  it('names one text the same way every time, whatever the values, and another text differently', async () => {
    const { db, sent } = recordingDb();
    const raw = pgRawDb(db);
    await raw.$queryRaw`SELECT * FROM invoices WHERE id = ${'a'}::uuid`;
    await raw.$queryRaw`SELECT * FROM invoices WHERE id = ${'b'}::uuid`;
    expect(await raw.$executeRaw`UPDATE invoices SET total = ${1} WHERE id = ${'c'}::uuid`).toBe(3);

    expect(sent[0]).toEqual({ name: expect.stringMatching(/^raw_[0-9a-f]{40}$/), text: 'SELECT * FROM invoices WHERE id = $1::uuid', values: ['a'] });
    expect(sent[1]).toEqual({ ...sent[0], values: ['b'] });
    expect(sent[2]!.name).toMatch(/^raw_/);
    expect(sent[2]!.name).not.toBe(sent[0]!.name);
  });

  it('runs a statement marked planPerCall unnamed every time, so it is planned for its values, and names the same text unmarked', async () => {
    const { db, sent } = recordingDb();
    const raw = pgRawDb(db);
    const scan = (customer: string) => Prisma.sql`SELECT count(*) FROM usage_events WHERE customer_external_id = ${customer}`;
    await raw.$queryRaw(planPerCall(scan('small-co')));
    await raw.$queryRaw(planPerCall(scan('huge-co')));
    expect(sent.map((s) => s.name)).toEqual([undefined, undefined]);
    expect(sent[1]).toEqual({ text: 'SELECT count(*) FROM usage_events WHERE customer_external_id = $1', values: ['huge-co'] });
    await raw.$queryRaw(scan('other-co'));
    expect(sent[2]!.name).toMatch(/^raw_/);
  });

  it(`runs texts unnamed once a process has named ${MAX_PREPARED_TEXTS}, so a connection never holds more`, async () => {
    const { db, sent } = recordingDb();
    const raw = pgRawDb(db);
    for (let i = 0; i < MAX_PREPARED_TEXTS + 10; i += 1) await raw.$queryRaw(Prisma.sql`SELECT ${Prisma.raw(String(i))} AS n, ${i} AS v`);
    const names = new Set(sent.map((s) => s.name).filter((n) => n !== undefined));
    // (the tests before named three texts in this process already)
    expect(names.size).toBe(MAX_PREPARED_TEXTS - 3);
    expect(sent.at(-1)).toEqual({ text: `SELECT ${MAX_PREPARED_TEXTS + 9} AS n, $1 AS v`, values: [MAX_PREPARED_TEXTS + 9] });
    // a text named before the cap was reached keeps its name
    await raw.$queryRaw(Prisma.sql`SELECT ${Prisma.raw('0')} AS n, ${7} AS v`);
    expect(sent.at(-1)!.name).toBe(sent[0]!.name);
  });
});
