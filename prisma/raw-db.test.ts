import { Prisma } from './generated/client';
import type { Queryable } from './pg';
import { MAX_PREPARED_TEXTS, pgRawDb } from './raw-db';

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

  it(`runs texts unnamed once a process has named ${MAX_PREPARED_TEXTS}, so a connection never holds more`, async () => {
    const { db, sent } = recordingDb();
    const raw = pgRawDb(db);
    for (let i = 0; i < MAX_PREPARED_TEXTS + 10; i += 1) await raw.$queryRaw(Prisma.sql`SELECT ${Prisma.raw(String(i))} AS n, ${i} AS v`);
    const names = new Set(sent.map((s) => s.name).filter((n) => n !== undefined));
    // (the first test named two texts in this process already)
    expect(names.size).toBe(MAX_PREPARED_TEXTS - 2);
    expect(sent.at(-1)).toEqual({ text: `SELECT ${MAX_PREPARED_TEXTS + 9} AS n, $1 AS v`, values: [MAX_PREPARED_TEXTS + 9] });
    // a text named before the cap was reached keeps its name
    await raw.$queryRaw(Prisma.sql`SELECT ${Prisma.raw('0')} AS n, ${7} AS v`);
    expect(sent.at(-1)!.name).toBe(sent[0]!.name);
  });
});
