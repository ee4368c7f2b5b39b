/**
 * `nbstage token create|list|revoke`: manage the service's API tokens in `<home>/tokens.json`
 * directly on the file, so they work without a running service (and a running one sees the
 * change at once). Each change is written to `<home>/audit.log` as done by the local user.
 */
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { ExitCode, ValidationError } from '../pipelines/errors';
import { auditLogFile, fileAuditLog } from '../server/auth/audit';
import { ROLES, fileTokenStore, tokensFile } from '../server/auth/tokens';
import type { Principal, Role, TokenRecord } from '../server/auth/tokens';

/** Where the token commands write. */
export interface TokenCommandIo {
  /** The token (create), the list (list). */
  stdout: NodeJS.WritableStream;
  /** Confirmations and ids. */
  stderr: NodeJS.WritableStream;
  /** Environment, for `NBSTAGE_HOME` (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/** Flags of `nbstage token create`. */
export interface TokenCreateFlags {
  role: Role;
  name?: string;
  home?: string;
}

/** Flags of `nbstage token list`. */
export interface TokenListFlags {
  home?: string;
  json?: boolean;
}

/** Flags of `nbstage token revoke`. */
export interface TokenRevokeFlags {
  home?: string;
}

/** nbstage's home: `--home`, else `NBSTAGE_HOME`, else `./.nbstage`, as an absolute path. */
export function resolveHome(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const home = flag ?? env.NBSTAGE_HOME;
  return path.resolve(home === undefined || home === '' ? '.nbstage' : home);
}

/** Who the audit log says made a change from the command line: the local user. */
function localPrincipal(): Principal {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry (some containers): keep "unknown"
  }
  return { id: 'local', name: `cli:${user}`, role: 'admin' };
}

/**
 * `nbstage token create`: prints the new token on stdout (once; it is not stored) and its id on
 * stderr.
 */
export async function tokenCreate(flags: TokenCreateFlags, io: TokenCommandIo): Promise<number> {
  const home = resolveHome(flags.home, io.env);
  const store = fileTokenStore(tokensFile(home));
  const { token, record } = await store.create({
    role: flags.role,
    name: flags.name ?? `${flags.role} token`,
  });
  await fileAuditLog(auditLogFile(home)).record({
    action: 'token.create',
    principal: localPrincipal(),
    target: record.id,
    details: { name: record.name, role: record.role },
  });
  io.stdout.write(`${token}\n`);
  io.stderr.write(
    `nbstage: created token ${record.id} (role ${record.role}, name "${record.name}"); ` +
      'it is shown only this once\n',
  );
  return ExitCode.ok;
}

function publicFields(record: TokenRecord): Omit<TokenRecord, 'hash'> {
  const { hash: _hash, ...rest } = record;
  return rest;
}

/** `nbstage token list`: a table, or a JSON array with `--json`; never tokens or hashes. */
export async function tokenList(flags: TokenListFlags, io: TokenCommandIo): Promise<number> {
  const records = await fileTokenStore(tokensFile(resolveHome(flags.home, io.env))).list();
  if (flags.json === true) {
    io.stdout.write(`${JSON.stringify(records.map(publicFields), null, 2)}\n`);
    return ExitCode.ok;
  }
  const rows = [
    ['ID', 'ROLE', 'CREATED', 'LAST USED', 'NAME'],
    ...records.map((r) => [r.id, r.role, r.createdAt, r.lastUsedAt ?? '-', r.name]),
  ];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  for (const row of rows) {
    const cells = row.map((cell, column) =>
      column === row.length - 1 ? cell : cell.padEnd(widths[column]),
    );
    io.stdout.write(`${cells.join('  ')}\n`);
  }
  return ExitCode.ok;
}

/**
 * `nbstage token revoke <id>`: removes the token; a running service refuses it from its next
 * request on.
 *
 * @throws ValidationError (exit 2) when there is no token with that id
 */
export async function tokenRevoke(
  id: string,
  flags: TokenRevokeFlags,
  io: TokenCommandIo,
): Promise<number> {
  const home = resolveHome(flags.home, io.env);
  const file = tokensFile(home);
  if (!(await fileTokenStore(file).revoke(id))) {
    throw new ValidationError('id', `no token with id "${id}" in ${file}`);
  }
  await fileAuditLog(auditLogFile(home)).record({
    action: 'token.revoke',
    principal: localPrincipal(),
    target: id,
  });
  io.stderr.write(`nbstage: revoked token ${id}\n`);
  return ExitCode.ok;
}

/**
 * Adds `create`, `list` and `revoke` to the `token` command; `setExitCode` receives each one's
 * exit code. Errors are thrown to `main`, which prints them and exits with their code.
 */
export function addTokenCommands(token: Command, setExitCode: (code: number) => void): void {
  const io = (): TokenCommandIo => ({ stdout: process.stdout, stderr: process.stderr });
  const homeOption = (): Option =>
    new Option('--home <dir>', "nbstage's home (default: $NBSTAGE_HOME or ./.nbstage)");

  token
    .command('create')
    .description('make a token; it is printed once on stdout, its id on stderr')
    .addOption(
      new Option('--role <role>', 'what the token may do (admin ⊇ run ⊇ read)')
        .choices(ROLES)
        .makeOptionMandatory(),
    )
    .option('--name <name>', 'a name for people reading lists and the audit log')
    .addOption(homeOption())
    .action(async (flags: TokenCreateFlags) => {
      setExitCode(await tokenCreate(flags, io()));
    });

  token
    .command('list')
    .description('list the tokens (ids, roles, names, times; never the tokens)')
    .addOption(homeOption())
    .option('--json', 'a JSON array')
    .action(async (flags: TokenListFlags) => {
      setExitCode(await tokenList(flags, io()));
    });

  token
    .command('revoke')
    .description('revoke a token by id')
    .argument('<id>', 'the id `nbstage token list` shows')
    .addOption(homeOption())
    .action(async (id: string, flags: TokenRevokeFlags) => {
      setExitCode(await tokenRevoke(id, flags, io()));
    });
}
