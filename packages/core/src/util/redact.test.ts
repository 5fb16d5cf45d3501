import { inspect } from 'node:util';
import { AuthenticationError, ConfigError, DStreamError, OffsetStoreError, StaleOffsetError } from '../errors';
import { consoleLogger, redactingLogger, type Logger } from './Logger';
import { driverError, isSecretKey, printable, redact, redactedView, redactText } from './redact';

describe('isSecretKey', () => {
  it.each([
    'sasl.password',
    'ssl.key.password',
    'ssl.keystore.password',
    'ssl.truststore.password',
    'ssl.key.pem',
    'ssl.key.location',
    'ssl.keystore.location',
    'ssl_key',
    'sasl.oauthbearer.client.secret',
    'sasl.oauthbearer.assertion.private.key.passphrase',
    'sasl.oauthbearer.config',
    'sasl.oauthbearer.extensions',
    'sasl.jaas.config',
    'sasl.kerberos.keytab',
    'password',
    'PASSWORD',
    'clientSecret',
    'access_token',
    'accessToken',
    'token',
    'credentials',
    'auth',
    'Authorization',
  ])('treats %s as secret', (key) => expect(isSecretKey(key)).toBe(true));

  it.each([
    'key.deserializer',
    'keyDeserializer',
    'keyPrefix',
    'key',
    'sasl.username',
    'sasl.mechanisms',
    'security.protocol',
    'bootstrap.servers',
    'group.id',
    'group.instance.id',
    'ssl.ca.location',
    'ssl.certificate.location',
    'sasl.oauthbearer.token.endpoint.url',
    'user',
    'host',
  ])('shows %s', (key) => expect(isSecretKey(key)).toBe(false));
});

describe('redactText', () => {
  it('replaces the user-info of any URL, up to the last @ of its authority', () => {
    expect(redactText('connect to redis://:Pw-1@127.0.0.1:6379/0 failed')).toBe('connect to redis://***@127.0.0.1:6379/0 failed');
    expect(redactText('postgres://app:p@ss@db:5432/x and rediss://user:pw@h')).toBe('postgres://***@db:5432/x and rediss://***@h');
    expect(redactText('redis://127.0.0.1:6379 and http://host/path@x')).toBe('redis://127.0.0.1:6379 and http://host/path@x');
  });

  it('replaces the values of secret keys written as "key":"value" or key=value, and only those', () => {
    expect(redactText('{"password":"Pw-1","user":"app"}')).toBe('{"password":"***","user":"app"}');
    expect(redactText('{"sasl.password": "Pw-1", "port": 5432}')).toBe('{"sasl.password": "***", "port": 5432}');
    expect(redactText('https://h/token?access_token=T-1&user=app#x')).toBe('https://h/token?access_token=***&user=app#x');
    expect(redactText('config sasl.password=Pw-1 sasl.username=app key.deserializer=x')).toBe(
      'config sasl.password=*** sasl.username=app key.deserializer=x',
    );
  });
});

describe('redact', () => {
  it('copies plain objects, arrays and maps with secret values and URL user-info replaced', () => {
    const original = {
      'sasl.password': 'Pw-1',
      nested: [{ password: { any: 'shape' }, url: 'redis://u:Pw-2@h:1' }],
      map: new Map([['token', 'T-1'], ['user', 'app']]),
      port: 1,
    };
    expect(redact(original)).toEqual({
      'sasl.password': '***',
      nested: [{ password: '***', url: 'redis://***@h:1' }],
      map: new Map([['token', '***'], ['user', 'app']]),
      port: 1,
    });
    expect(original['sasl.password']).toBe('Pw-1');
  });

  it('cuts cycles and shows class instances by their own fields', () => {
    class Options {
      password = 'Pw-1';
      self: unknown = this;
    }
    expect(redact(new Options())).toEqual({ password: '***', self: '[Circular]' });
  });
});

describe('driverError', () => {
  it('keeps the class, message, code and cause, and drops what the driver attached', () => {
    class ReplyError extends Error {
      command = { name: 'auth', args: ['Pw-1'] };
      code = 'WRONGPASS';
    }
    const inner = Object.assign(new Error('socket closed'), { client: { options: { password: 'Pw-2' } } });
    const error = new ReplyError('WRONGPASS invalid username-password pair', { cause: inner });
    const copy = driverError(error) as ReplyError;
    expect(copy).toBeInstanceOf(ReplyError);
    expect(copy.message).toBe(error.message);
    expect(copy.code).toBe('WRONGPASS');
    expect(copy.command).toBeUndefined();
    expect((copy.cause as Error).message).toBe('socket closed');
    const printed = inspect(new OffsetStoreError('redis', 'connect failed', { cause: copy }), { depth: null });
    expect(printed).toContain('WRONGPASS');
    expect(printed).not.toMatch(/Pw-1|Pw-2/);
  });

  it("returns dstream's own errors unchanged", () => {
    const own = new DStreamError('x');
    expect(driverError(own)).toBe(own);
  });
});

describe('errors', () => {
  it('redact their messages', () => {
    expect(new DStreamError('connect to redis://:Pw-1@h:1 failed').message).toBe('connect to redis://***@h:1 failed');
  });

  it('ConfigError never echoes a secret option, nor passwords inside a value', () => {
    const secret = new ConfigError('kafkaParams["sasl.password"]', ['Pw-1'], 'must be a string', 'Pass a string.');
    expect(secret.message).toBe('kafkaParams["sasl.password"] must be a string; got ***. Pass a string.');
    expect(secret.value).toBe('***');
    const url = new ConfigError('url', 'http://u:Pw-1@h:1', 'must be a redis:// URL', 'Pass one.');
    expect(url.message).toContain('"http://***@h:1"');
    const options = new ConfigError('redis', { host: 'h', password: 'Pw-1' }, 'must be an ioredis client', 'Pass one.');
    expect(`${options.message} ${inspect(options.value)}`).not.toContain('Pw-1');
    expect(options.message).toContain('"host":"h"');
  });

  it('AuthenticationError names service, address and user, and is never retriable', () => {
    const error = new AuthenticationError('redis', '127.0.0.1:6379', 'app', 'WRONGPASS', 'Check the password.');
    expect(error).toMatchObject({ service: 'redis', address: '127.0.0.1:6379', user: 'app', retriable: false });
    expect(error.message).toBe('redis at 127.0.0.1:6379 refused user "app": WRONGPASS. Check the password.');
  });
});

describe('printable', () => {
  it('escapes control characters, so a name cannot start a fake log line', () => {
    expect(printable('group\r\nINFO all good\u001b[2J')).toBe('group\\r\\nINFO all good\\u001b[2J');
    expect(new StaleOffsetError('redis', 'g\nx', 't', 0, 1, 2).message).toContain('group g\\nx t-0');
  });
});

describe('redactedView', () => {
  it('makes inspect and JSON.stringify show the view, redacted, and stays out of spreads', () => {
    const store = { client: { options: { password: 'Pw-1' } } };
    redactedView(store, 'SomeStore', () => ({ address: 'h:1', url: 'redis://:Pw-1@h:1' }));
    expect(inspect(store)).toBe("SomeStore { address: 'h:1', url: 'redis://***@h:1' }");
    expect(inspect({ store }, { depth: 0 })).toBe('{ store: [SomeStore] }');
    expect(JSON.stringify(store)).toBe('{"address":"h:1","url":"redis://***@h:1"}');
    expect(Object.keys({ ...store })).toEqual(['client']);
  });
});

describe('loggers', () => {
  it('redactingLogger passes messages and fields through the rule', () => {
    const lines: unknown[] = [];
    const sink: Logger = { debug: () => undefined, info: (...args) => lines.push(args), warn: () => undefined, error: () => undefined };
    redactingLogger(sink).info('connect redis://:Pw-1@h:1', { options: { password: 'Pw-2' }, error: new Error('x sasl.password=Pw-3') });
    expect(inspect(lines, { depth: null })).not.toMatch(/Pw-1|Pw-2|Pw-3/);
  });

  it('consoleLogger redacts its lines', () => {
    const spy = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    try {
      consoleLogger.info('connect redis://:Pw-1@h:1', { 'sasl.password': 'Pw-2' });
      expect(spy.mock.calls.join('\n')).not.toMatch(/Pw-1|Pw-2/);
    } finally {
      spy.mockRestore();
    }
  });
});
