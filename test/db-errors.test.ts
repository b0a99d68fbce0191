import { createPrismaClient, createPgPool } from '../prisma/client';
import { isDataException, sqlState } from '../prisma/db-errors';

// Unit test over real errors: what pg and Prisma's driver adapter throw for a NUL character, and for a lost connection.
describe('sqlState', () => {
  it('reads the SQLSTATE through pg, the driver adapter, and a Prisma known-request error', async () => {
    const pool = createPgPool(process.env.DATABASE_URL, { max: 1 });
    const prisma = createPrismaClient(process.env.DATABASE_URL, { max: 1 });
    try {
      const viaPg = await pool.query('SELECT $1::text', ['a\u0000b']).catch((e: unknown) => e);
      const viaModel = await prisma.organization.findFirst({ where: { name: 'a\u0000b' } }).catch((e: unknown) => e);
      const viaRaw = await prisma.$executeRaw`SELECT ${'a\u0000b'}::text`.catch((e: unknown) => e);
      const viaJson = await pool.query('SELECT $1::jsonb', [JSON.stringify({ a: 'x\u0000' })]).catch((e: unknown) => e);
      expect([viaPg, viaModel, viaRaw].map(sqlState)).toEqual(['22021', '22021', '22021']);
      expect(sqlState(viaJson)).toBe('22P05');
      expect([viaPg, viaModel, viaRaw, viaJson].every(isDataException)).toBe(true);
      const syntax = await pool.query('SELEC 1').catch((e: unknown) => e);
      expect(sqlState(syntax)).toBe('42601');
      expect(isDataException(syntax)).toBe(false);
    } finally {
      await pool.end();
      await prisma.$disconnect();
    }
  });

  it('finds nothing in errors that did not come from PostgreSQL', () => {
    expect(sqlState(new Error('boom'))).toBeUndefined();
    expect(sqlState({ code: 'P2002' })).toBeUndefined();
    expect(sqlState(null)).toBeUndefined();
    expect(isDataException(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe(false);
  });
});
