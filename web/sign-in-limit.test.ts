import { signInLimitOptions } from './sign-in-limit';

describe('signInLimitOptions', () => {
  it('defaults to 5 attempts per email and 50 per IP in 15 minutes', () => {
    expect(signInLimitOptions({})).toEqual({ perEmail: 5, perIp: 50, windowSeconds: 900 });
  });

  it('reads each limit from its variable, an empty one meaning the default', () => {
    expect(signInLimitOptions({ SIGN_IN_MAX_ATTEMPTS_PER_EMAIL: '2', SIGN_IN_MAX_ATTEMPTS_PER_IP: '', SIGN_IN_LIMIT_WINDOW_SECONDS: '60' })).toEqual({ perEmail: 2, perIp: 50, windowSeconds: 60 });
  });

  it('refuses a value that is not a positive integer, naming the variable', () => {
    expect(() => signInLimitOptions({ SIGN_IN_MAX_ATTEMPTS_PER_IP: '0' })).toThrow('SIGN_IN_MAX_ATTEMPTS_PER_IP must be a positive integer, got "0"');
    expect(() => signInLimitOptions({ SIGN_IN_LIMIT_WINDOW_SECONDS: '1.5' })).toThrow('SIGN_IN_LIMIT_WINDOW_SECONDS must be a positive integer');
  });
});
