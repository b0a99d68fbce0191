import { apiKeyDecider, deciderActor } from './audit';

describe('who decided', () => {
  it('names an API key as api_key:<id> and reads it back as that key', () => {
    const ref = apiKeyDecider('0191f7a2-0000-7000-8000-000000000001');
    expect(ref).toBe('api_key:0191f7a2-0000-7000-8000-000000000001');
    expect(deciderActor(ref)).toEqual({ type: 'api_key', id: '0191f7a2-0000-7000-8000-000000000001' });
  });

  it('reads anything else as a person (a web app user, or a run recorded before keys were named)', () => {
    expect(deciderActor('cfo@acme.test')).toEqual({ type: 'user', id: 'cfo@acme.test' });
  });
});
