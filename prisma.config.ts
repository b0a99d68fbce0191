import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { PrismaPg } from '@prisma/adapter-pg';
import { connectionFields } from './prisma/connection';

// Engine-free Prisma 6.19: the JavaScript schema engine talks to PostgreSQL
// through the pg driver adapter, so no native engine is ever downloaded.
export default defineConfig({
  experimental: { adapter: true },
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  engine: 'js',
  async adapter() {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error('DATABASE_URL is not set (npm start and the test harness set it for you)');
    return new PrismaPg(connectionFields(url));
  },
});
