import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** One message as the fake SMTP server accepted it. */
export interface RecordedMail {
  envelope: { from: string | null; to: string[] };
  /** the user that authenticated, when the client logged in */
  user: string | null;
  /** the message as transmitted: headers and body */
  raw: string;
}

export interface SmtpFake {
  /** an smtp:// URL for nodemailer, with the credentials when auth is required */
  url: string;
  readonly mails: RecordedMail[];
  close(): Promise<void>;
}

/**
 * A local SMTP server (the smtp-server package) that accepts every message
 * and records it. Plain SMTP on 127.0.0.1, a random port; with `auth` the
 * client must log in with exactly those credentials, without it login is
 * optional.
 */
export async function startSmtpFake(options: { auth?: { user: string; pass: string } } = {}): Promise<SmtpFake> {
  const mails: RecordedMail[] = [];
  const server = new SMTPServer({
    authOptional: !options.auth,
    allowInsecureAuth: true,
    // Loopback only, no certificate to offer: keep the conversation plain.
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, callback) {
      const wanted = options.auth;
      if (!wanted || (auth.username === wanted.user && auth.password === wanted.pass)) callback(null, { user: auth.username });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        mails.push({
          envelope: {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
            to: session.envelope.rcptTo.map((r) => r.address),
          },
          user: typeof session.user === 'string' ? session.user : null,
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  const credentials = options.auth ? `${encodeURIComponent(options.auth.user)}:${encodeURIComponent(options.auth.pass)}@` : '';
  return {
    url: `smtp://${credentials}127.0.0.1:${port}`,
    mails,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A header's value from a raw message (folded lines joined), or null. */
export function mailHeader(mail: RecordedMail, name: string): string | null {
  const head = mail.raw.split(/\r?\n\r?\n/, 1)[0] ?? '';
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const line = unfolded.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line ? line.slice(name.length + 1).trim() : null;
}
