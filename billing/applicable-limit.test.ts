import { applicableLimit, type LimitScope } from './applicable-limit';

const row = (eventType: string, customerExternalId: string | null, mode: LimitScope['mode'], id: string) => ({ id, eventType, customerExternalId, mode });

describe('applicableLimit', () => {
  const limits = [
    row('api_call', null, 'SOFT', 'default-api'),
    row('api_call', 'acme', 'HARD', 'acme-api'),
    row('api_call', 'globex', 'DISABLED', 'globex-off'),
    row('tokens', 'acme', 'SOFT', 'acme-tokens'),
  ];

  it('uses the customer-specific row over the organization default', () => {
    expect(applicableLimit(limits, 'api_call', 'acme')?.id).toBe('acme-api');
  });

  it('falls back to the organization default for other customers', () => {
    expect(applicableLimit(limits, 'api_call', 'initech')?.id).toBe('default-api');
  });

  it('treats a DISABLED customer row as no limit, not as a reason to use the default', () => {
    expect(applicableLimit(limits, 'api_call', 'globex')).toBeUndefined();
  });

  it('treats a DISABLED default as no limit', () => {
    expect(applicableLimit([row('api_call', null, 'DISABLED', 'off')], 'api_call', 'acme')).toBeUndefined();
  });

  it('only considers rows of the same event type', () => {
    expect(applicableLimit(limits, 'tokens', 'initech')).toBeUndefined();
    expect(applicableLimit(limits, 'tokens', 'acme')?.id).toBe('acme-tokens');
    expect(applicableLimit(limits, 'storage', 'acme')).toBeUndefined();
  });

  it('does not depend on the order of the rows', () => {
    expect(applicableLimit([...limits].reverse(), 'api_call', 'acme')?.id).toBe('acme-api');
  });
});
