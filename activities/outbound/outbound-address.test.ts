import { organizationSmtpOptions } from '../channels/email';
import { addressRefusal, outboundPolicyFromEnv, STRICT_OUTBOUND, urlRefusal } from '../../billing/outbound-urls';
import { connectAddress, OutboundRefused } from '../../services/outbound-address';

/*
 * The guard's decisions, judged without connecting anywhere: names are
 * resolved by a fake lookup, so no test sends a packet to any address.
 */

const DEV = { allowDevelopmentTargets: true };
const resolvesTo = (...addresses: string[]) => {
  const asked: string[] = [];
  const lookup = async (hostname: string) => {
    asked.push(hostname);
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(lookup, { asked });
};

describe('addressRefusal', () => {
  it.each([
    ['127.0.0.1', /loopback/],
    ['127.5.6.7', /loopback/],
    ['::1', /loopback/],
    ['10.0.0.8', /private/],
    ['172.16.4.2', /private/],
    ['192.168.1.20', /private/],
    ['fd00:ec2::254', /unique local/], // AWS metadata over IPv6
    ['169.254.169.254', /link-local/], // AWS, GCP, Azure metadata
    ['fe80::1', /link-local/],
    ['100.100.100.200', /carrier-grade NAT/], // Alibaba Cloud metadata
    ['192.0.0.192', /reserved/], // Oracle Cloud metadata
    ['0.0.0.0', /unspecified/],
    ['::', /unspecified/],
    ['255.255.255.255', /broadcast/],
    ['224.0.0.1', /multicast/],
    ['::ffff:127.0.0.1', /127\.0\.0\.1.*loopback|loopback/],
    ['::ffff:169.254.169.254', /link-local/],
    ['64:ff9b::a9fe:a9fe', /rfc6052/], // 169.254.169.254 through NAT64
    ['2002:7f00:1::', /6to4/], // 127.0.0.1 inside 6to4
    ['not-an-ip', /not an IP address/],
  ])('refuses %s', (address, why) => {
    expect(addressRefusal(address)).toMatch(why);
  });

  it.each(['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111', '::ffff:93.184.215.14'])('lets %s through (public unicast)', (address) => {
    expect(addressRefusal(address)).toBeNull();
  });
});

describe('connectAddress', () => {
  it('answers the address a public name resolves to, the one the connection is then made to', async () => {
    await expect(connectAddress('crm.example.com', STRICT_OUTBOUND, resolvesTo('93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'))).resolves.toEqual({ address: '93.184.215.14', family: 4 });
  });

  it.each([
    ['the metadata address', ['169.254.169.254'], /169\.254\.169\.254 is a link-local/],
    ['a private address among public ones', ['93.184.215.14', '10.1.2.3'], /10\.1\.2\.3 is a private/],
    ['loopback over IPv6', ['::1'], /::1 is a loopback/],
  ])('refuses a name that resolves to %s', async (_, addresses, why) => {
    const err = await connectAddress('rebound.example.com', STRICT_OUTBOUND, resolvesTo(...addresses)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutboundRefused);
    expect((err as Error).message).toMatch(why);
    expect((err as Error).message).toMatch(/rebound\.example\.com/);
    expect((err as Error).message).toMatch(/OUTBOUND_DEVELOPMENT=1/);
  });

  it('judges IP literals without a lookup, IPv6 ones with or without brackets', async () => {
    const lookup = resolvesTo('93.184.215.14');
    await expect(connectAddress('[::1]', STRICT_OUTBOUND, lookup)).rejects.toThrow(/::1 is a loopback/);
    await expect(connectAddress('169.254.169.254', STRICT_OUTBOUND, lookup)).rejects.toThrow(/link-local/);
    await expect(connectAddress('8.8.8.8', STRICT_OUTBOUND, lookup)).resolves.toEqual({ address: '8.8.8.8', family: 4 });
    expect(lookup.asked).toEqual([]);
  });

  it('lets loopback and private addresses through when development targets are allowed', async () => {
    await expect(connectAddress('crm.local', DEV, resolvesTo('127.0.0.1'))).resolves.toEqual({ address: '127.0.0.1', family: 4 });
    await expect(connectAddress('10.0.0.8', DEV)).resolves.toEqual({ address: '10.0.0.8', family: 4 });
  });

  it('refuses a name with no address', async () => {
    await expect(connectAddress('empty.example.com', STRICT_OUTBOUND, resolvesTo())).rejects.toThrow(/has no address/);
  });
});

describe('urlRefusal', () => {
  it.each([
    ['http://crm.example.com/hook', 'http', /must be an https URL/],
    ['https://127.0.0.1:8443/hook', 'http', /loopback/],
    ['https://localhost/hook', 'http', /localhost/],
    ['https://api.localhost/hook', 'http', /localhost/],
    ['https://169.254.169.254/latest/meta-data', 'http', /link-local/],
    ['https://[fd00:ec2::254]/latest', 'http', /unique local/],
    ['https://[::ffff:10.0.0.1]/hook', 'http', /private/],
    ['smtps://alerts@10.0.0.5:465', 'smtp', /private/],
    ['smtp://alerts@127.0.0.1:587', 'smtp', /loopback/],
    ['not a url', 'http', /must be a URL/],
  ] as const)('refuses %s', (url, kind, why) => {
    expect(urlRefusal(url, kind, STRICT_OUTBOUND)).toMatch(why);
  });

  it.each([
    ['https://crm.example.com/hook', 'http'],
    ['https://93.184.215.14/hook', 'http'],
    ['smtps://alerts@mail.example.com:465', 'smtp'],
    ['smtp://alerts@mail.example.com:587', 'smtp'],
  ] as const)('accepts %s', (url, kind) => {
    expect(urlRefusal(url, kind, STRICT_OUTBOUND)).toBeNull();
  });

  it('accepts plain http and loopback targets only with development targets allowed', () => {
    expect(urlRefusal('http://127.0.0.1:4000/hook', 'http', DEV)).toBeNull();
    expect(urlRefusal('smtp://me@localhost:2525', 'smtp', DEV)).toBeNull();
    expect(urlRefusal('ftp://files.example.com/', 'http', DEV)).toMatch(/https URL/);
  });
});

describe('outboundPolicyFromEnv', () => {
  it('is strict unless OUTBOUND_DEVELOPMENT=1, and refuses anything else', () => {
    expect(outboundPolicyFromEnv({})).toEqual(STRICT_OUTBOUND);
    expect(outboundPolicyFromEnv({ OUTBOUND_DEVELOPMENT: '0' })).toEqual(STRICT_OUTBOUND);
    expect(outboundPolicyFromEnv({ OUTBOUND_DEVELOPMENT: '1' })).toEqual(DEV);
    expect(() => outboundPolicyFromEnv({ OUTBOUND_DEVELOPMENT: 'yes' })).toThrow(/OUTBOUND_DEVELOPMENT must be 0 or 1/);
  });
});

describe('organizationSmtpOptions', () => {
  it('connects to the checked address, verifies TLS against the name, and requires STARTTLS on smtp://', async () => {
    const lookup = resolvesTo('93.184.215.14');
    expect(await organizationSmtpOptions('smtp://alerts%40acme@mail.example.com', 'pw', STRICT_OUTBOUND, lookup)).toEqual({
      host: '93.184.215.14',
      port: 587,
      secure: false,
      requireTLS: true,
      auth: { user: 'alerts@acme', pass: 'pw' },
      tls: { servername: 'mail.example.com' },
    });
    expect(await organizationSmtpOptions('smtps://mail.example.com', null, STRICT_OUTBOUND, lookup)).toEqual({ host: '93.184.215.14', port: 465, secure: true, requireTLS: false, tls: { servername: 'mail.example.com' } });
    expect(lookup.asked).toEqual(['mail.example.com', 'mail.example.com']);
  });

  it('refuses a server on a private address, and takes nothing from a query string (nodemailer would read a proxy there)', async () => {
    await expect(organizationSmtpOptions('smtps://a@mail.example.com:465', null, STRICT_OUTBOUND, resolvesTo('10.0.0.5'))).rejects.toThrow(/10\.0\.0\.5 is a private/);
    const options = await organizationSmtpOptions('smtp://a@mail.example.com:2525?proxy=http://169.254.169.254&tls.rejectUnauthorized=false', null, DEV, resolvesTo('127.0.0.1'));
    expect(options).toEqual({ host: '127.0.0.1', port: 2525, secure: false, requireTLS: false, auth: { user: 'a', pass: '' }, tls: { servername: 'mail.example.com' } });
  });
});
