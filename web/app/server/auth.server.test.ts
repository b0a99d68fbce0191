import { loginCsrf, loginCsrfMatches, readCookie } from './auth.server';

const request = (url: string, cookie?: string) => new Request(url, { headers: cookie ? { cookie } : {} });

describe('sign-in CSRF (double-submit cookie)', () => {
  it('sets an HttpOnly, SameSite=Lax cookie, Secure only over https', () => {
    const plain = loginCsrf(request('http://127.0.0.1:3001/login'));
    expect(plain.setCookie).toMatch(/^lf_login_csrf=[A-Za-z0-9_-]{32}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=3600$/);
    const tls = loginCsrf(request('https://ledgerflow.example/login'));
    expect(tls.setCookie).toMatch(/; Secure$/);
  });

  it('reuses the token the browser already has', () => {
    const again = loginCsrf(request('http://x/login', 'other=1; lf_login_csrf=abc123'));
    expect(again).toEqual({ token: 'abc123', setCookie: null });
  });

  it('accepts the form only when its token equals the cookie', () => {
    const withCookie = request('http://x/login', 'lf_login_csrf=abc123');
    expect(loginCsrfMatches(withCookie, 'abc123')).toBe(true);
    expect(loginCsrfMatches(withCookie, 'abc124')).toBe(false);
    expect(loginCsrfMatches(withCookie, null)).toBe(false);
    expect(loginCsrfMatches(request('http://x/login'), 'abc123')).toBe(false);
  });
});

describe('readCookie', () => {
  it('finds a cookie by exact name among others and decodes it', () => {
    const r = request('http://x/', 'lf_session_old=1; lf_session=a%2Bb; theme=dark');
    expect(readCookie(r, 'lf_session')).toBe('a+b');
    expect(readCookie(r, 'missing')).toBeNull();
  });
});
