import { createLogger } from './log';
import { temporalSdkLogger, temporalLogLevel } from './runtime';

test("the SDK's lines reach the process log as its own, from the level asked for; its warning that the margin queue's activity-only worker registers no workflows does not", () => {
  const lines: Record<string, unknown>[] = [];
  const sdk = temporalSdkLogger(createLogger('worker', {}, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }), 'WARN');
  sdk.info('Worker state changed', { state: 'RUNNING' });
  sdk.warn('No workflows registered, not polling for workflow tasks', { sdkComponent: 'worker', taskQueue: 'ledgerflow-margins' });
  sdk.warn('Activity failed', { activityType: 'closePeriod' });
  // Of the main queue it means a worker built without its workflows.
  sdk.warn('No workflows registered, not polling for workflow tasks', { sdkComponent: 'worker', taskQueue: 'ledgerflow' });
  expect(lines).toEqual([
    expect.objectContaining({ level: 'warn', component: 'temporal-sdk', msg: 'Activity failed', activityType: 'closePeriod' }),
    expect.objectContaining({ level: 'warn', msg: 'No workflows registered, not polling for workflow tasks', taskQueue: 'ledgerflow' }),
  ]);
});

test('TEMPORAL_LOG_LEVEL defaults to WARN and names the levels it takes', () => {
  expect(temporalLogLevel({})).toBe('WARN');
  expect(temporalLogLevel({ TEMPORAL_LOG_LEVEL: ' info ' })).toBe('INFO');
  expect(() => temporalLogLevel({ TEMPORAL_LOG_LEVEL: 'loud' })).toThrow('TEMPORAL_LOG_LEVEL must be one of TRACE, DEBUG, INFO, WARN, ERROR (got "loud")');
});
