import { createLogger, logFn } from './log';
import { withLogContext, withRequestId } from './request-id';

function captured(env: NodeJS.ProcessEnv = {}) {
  const lines: string[] = [];
  const logger = createLogger('api', env, { write: (line: string) => void lines.push(line) });
  return { logger, lines, json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test('a line is one JSON object with time, level, service and message', () => {
  const { logger, lines, json } = captured();
  logger.info('api listening on http://127.0.0.1:3000');
  expect(lines).toHaveLength(1);
  expect(lines[0]!.endsWith('\n')).toBe(true);
  const [entry] = json();
  expect(entry).toMatchObject({ level: 'info', service: 'api', msg: 'api listening on http://127.0.0.1:3000' });
  expect(new Date(entry!.time as string).toISOString()).toBe(entry!.time);
});

test('lines name the request, and in the worker the workflow and activity, they were written for', async () => {
  const { logger, json } = captured();
  logger.info('outside');
  await withRequestId('req-1', async () => {
    await Promise.resolve();
    logger.info('inside a request');
    withLogContext({ workflowId: 'billing-run:s:2026-11-01', activity: 'closePeriod' }, () => logger.warn('in an activity'));
  });
  const [outside, request, activity] = json();
  expect(outside).not.toHaveProperty('requestId');
  expect(request).toMatchObject({ requestId: 'req-1' });
  expect(activity).toMatchObject({ level: 'warn', requestId: 'req-1', workflowId: 'billing-run:s:2026-11-01', activity: 'closePeriod' });
});

test('errors keep their type, message, code and stack, not the row values or arguments they carry', () => {
  const { logger, json } = captured();
  logFn(logger)('could not signal the run', new TypeError('boom'));
  const duplicate = Object.assign(new Error('duplicate key value violates unique constraint', { cause: new Error('socket') }), { code: '23505', detail: 'Key (email)=(cfo@acme.example) already exists.' });
  logFn(logger)('insert failed', duplicate);
  const [failure, pg] = json();
  expect(failure).toMatchObject({ level: 'error', msg: 'could not signal the run', err: { type: 'TypeError', message: 'boom' } });
  expect((failure!.err as { stack: string }).stack).toContain('TypeError: boom');
  expect(pg!.err).toMatchObject({ type: 'Error', code: '23505', cause: { message: 'socket' } });
  expect(JSON.stringify(pg)).not.toContain('cfo@acme.example');
});

test('values under keys named like secrets are redacted, in any case and at any depth', () => {
  const { logger, json } = captured();
  logger.info(
    {
      smtp: { password: 'hunter2' },
      headers: { Authorization: 'Bearer lf_live_x', 'x-api-key': 'lf_live_z', Cookie: 'lf_session=abc' },
      apiKey: 'lf_live_y',
      settings: { stripe: { channels: { stripe_secret_key: 'sk_live_deep', slack_bot_token: 'xoxb-deep' } } },
      meta: [{ webhookSecret: 'whsec_in_array' }],
    },
    'settings',
  );
  const [settings] = json();
  expect(JSON.stringify(settings)).not.toMatch(/hunter2|lf_live_|sk_live_deep|xoxb-deep|whsec_in_array|lf_session=/);
  expect(settings).toMatchObject({ smtp: { password: '[redacted]' }, headers: { Authorization: '[redacted]', 'x-api-key': '[redacted]', Cookie: '[redacted]' }, apiKey: '[redacted]' });
});

test('LOG_FORMAT=text writes the message with its fields; LOG_LEVEL filters', () => {
  const { logger, lines } = captured({ LOG_FORMAT: 'text', LOG_LEVEL: 'warn' });
  logger.info('not written');
  withRequestId('r-9', () => logger.warn('slow answer'));
  expect(lines).toEqual(['warn: slow answer requestId=r-9\n']);
});

test('a wrong LOG_LEVEL or LOG_FORMAT stops the process with the variable named', () => {
  expect(() => createLogger('api', { LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL must be one of/);
  expect(() => createLogger('api', { LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT must be json or text/);
});
