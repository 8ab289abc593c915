/** The client manifest (clients.yaml): exec and module bindings, defaults, paths against the manifest's directory, errors. */
import { dirname, join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { loadManifest } from '../../harness/scenario/load.ts';
import type { ClientManifest } from '../../harness/scenario/model.ts';
import { errorText, yamlFile } from './files.ts';

it('the loader returns the model type (checked by tsc)', () => {
  expectTypeOf(loadManifest).returns.toEqualTypeOf<ClientManifest>();
});

describe('bindings', () => {
  it('exec and module, relative paths resolved against the manifest directory, defaults filled in', () => {
    const path = yamlFile(
      `# yaml-language-server: $schema=../schema/clients.schema.json
version: 1
clients:
  kiosk-sign:
    exec:
      command: ./bin/kiosk
      args: [sign, --reader, '{reader}', --pin-file, '{workDir}/pin']
      env: { LANG: ja_JP.UTF-8, TOKEN: '{env.TOKEN}' }
      cwd: work
      timeout: 30s
      tty: true
  read-auth-cert:
    exec: { command: pkcs15-tool, args: [--read-certificate, '01'] }
  verify-auth:
    module: { path: ../examples/kiosk.ts, export: driver, timeout: 500ms }
  sign-auth:
    module: { path: /opt/k.ts }
`,
      'suite/clients.yaml',
    );
    const dir = dirname(path);
    expect(loadManifest(path)).toEqual({
      file: path,
      clients: {
        'kiosk-sign': {
          kind: 'exec',
          command: join(dir, 'bin/kiosk'),
          args: ['sign', '--reader', '{reader}', '--pin-file', '{workDir}/pin'],
          env: { LANG: 'ja_JP.UTF-8', TOKEN: '{env.TOKEN}' },
          cwd: join(dir, 'work'),
          timeoutMs: 30_000,
          tty: true,
          where: `${path}:5:5`,
        },
        'read-auth-cert': { kind: 'exec', command: 'pkcs15-tool', args: ['--read-certificate', '01'], env: {}, timeoutMs: 60_000, where: `${path}:13:5` },
        'verify-auth': { kind: 'module', module: join(dir, '../examples/kiosk.ts'), export: 'driver', timeoutMs: 500, where: `${path}:15:5` },
        'sign-auth': { kind: 'module', module: '/opt/k.ts', export: 'run', timeoutMs: 60_000, where: `${path}:17:5` },
      },
    });
  });

  it('a working directory starting with a template is left for the runner', () => {
    const path = yamlFile("version: 1\nclients:\n  c: { exec: { command: x, cwd: '{workDir}/a' } }\n");
    expect(loadManifest(path).clients.c).toMatchObject({ cwd: '{workDir}/a' });
  });
});

describe('errors', () => {
  const manifestError = (text: string) => {
    const path = yamlFile(text);
    return errorText(() => loadManifest(path), path);
  };

  it('a binding with neither exec nor module', () => {
    expect(manifestError('version: 1\nclients:\n  kiosk-sign:\n    command: kiosk\n')).toBe(
      ["FILE:4:5 clients.kiosk-sign.command: unknown client binding 'command'; expected one of: exec, module", '  4 |     command: kiosk', '    |     ^'].join(
        '\n',
      ),
    );
  });

  it('an empty binding', () => {
    expect(manifestError('version: 1\nclients:\n  kiosk-sign: {}\n')).toBe(
      ['FILE:3:15 clients.kiosk-sign: missing: expected one of the keys exec, module', '  3 |   kiosk-sign: {}', '    |               ^'].join('\n'),
    );
  });

  it('an unknown field of exec, an unquoted argument that YAML reads as a number, an unknown template', () => {
    expect(manifestError("version: 1\nclients:\n  c:\n    exec: { command: x, args: [--pin, 0123], stdin: y, cwd: '{home}' }\n")).toBe(
      [
        "FILE:4:39 clients.c.exec.args[1]: expected a string, not a number; quote it: '0123'",
        "  4 |     exec: { command: x, args: [--pin, 0123], stdin: y, cwd: '{home}' }",
        '    |                                       ^',
        "FILE:4:46 clients.c.exec.stdin: unknown field 'stdin'; allowed: command, args, env, cwd, timeout, tty",
        "  4 |     exec: { command: x, args: [--pin, 0123], stdin: y, cwd: '{home}' }",
        '    |                                              ^',
        `FILE:4:61 clients.c.exec.cwd: unknown template variable {home}; known: {pins.<pin>}, {pins.wrong.<pin>} (pin: sign, auth, juki, kenmen, common), {reader}, {challengeFile}, {workDir}, {args.<name>}, {env.<NAME>}`,
        "  4 |     exec: { command: x, args: [--pin, 0123], stdin: y, cwd: '{home}' }",
        '    |                                                             ^',
      ].join('\n'),
    );
  });

  it('a capability name that is not lower-case words, and a missing version', () => {
    expect(manifestError('version: 1\nclients:\n  Kiosk_Sign: { module: { path: k.ts } }\n')).toBe(
      [
        'FILE:3:3 clients.Kiosk_Sign: must be a capability name: lower-case words joined by -',
        '  3 |   Kiosk_Sign: { module: { path: k.ts } }',
        '    |   ^',
      ].join('\n'),
    );
    expect(manifestError('clients: {}\n')).toBe(['FILE:1:1 version: missing; add `version: 1` as the first line', '  1 | clients: {}', '    | ^'].join('\n'));
  });
});
