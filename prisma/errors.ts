import { Prisma } from './client';

/** A unique index refused the insert: two creates with one key raced, or the key was taken. */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';
}
