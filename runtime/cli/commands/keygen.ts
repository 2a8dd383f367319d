/**
 * `zeroplane keygen`: writes a CURVE keypair. `--name server` (the default) writes the files the
 * server and the constructs expect; `--name client` writes a client keypair whose public key goes
 * on the server's allowlist. Secret files are mode 0600; existing files are kept unless --force.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { CURVE_SECRET_KEYS } from "../../config/index.js";
import {
  generateKeypair,
  writeFileWithMode,
  writeKeypair,
  type WrittenKeypair,
} from "../../security/keys.js";
import { CliError, EXIT_CODES, action, printJson } from "../shared.js";

interface KeygenFlags {
  readonly dir: string;
  readonly name: string;
  readonly force?: boolean;
  readonly json?: boolean;
}

/** Writes `<name>.key` and `<name>.key_secret` (the server's names for "server"). */
export function writeNamedKeypair(dir: string, name: string, overwrite: boolean): WrittenKeypair {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new CliError(`--name "${name}" must use only letters, digits, '-' and '_'.`, EXIT_CODES.usage);
  }
  const publicKeyFile = join(dir, name === "server" ? CURVE_SECRET_KEYS.publicKey : `${name}.key`);
  const secretKeyFile = join(dir, name === "server" ? CURVE_SECRET_KEYS.secretKey : `${name}.key_secret`);
  for (const file of [publicKeyFile, secretKeyFile]) {
    if (!overwrite && existsSync(file)) {
      throw new CliError(
        `${file} already exists; refusing to replace a key. Fix: use another --dir or --name, or pass --force to replace it.`,
        EXIT_CODES.localFile,
      );
    }
  }
  try {
    if (name === "server") return writeKeypair(dir, { overwrite });
    const keypair = generateKeypair();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileWithMode(publicKeyFile, `${keypair.publicKey}\n`, 0o644);
    writeFileWithMode(secretKeyFile, `${keypair.secretKey}\n`, 0o600);
    return { ...keypair, publicKeyFile, secretKeyFile };
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(
      `cannot write the keypair in ${dir}: ${(error as Error).message}`,
      EXIT_CODES.localFile,
    );
  }
}

export function register(program: Command): void {
  program
    .command("keygen")
    .description("write a new CURVE keypair (secret file mode 0600)")
    .option("-d, --dir <dir>", "directory for the key files", ".")
    .option(
      "--name <name>",
      "server (server.key, server.key_secret) or e.g. client (client.key, client.key_secret)",
      "server",
    )
    .option("-f, --force", "replace existing key files")
    .option("--json", "print JSON (public key and file paths; never the secret key)")
    .action(
      action(async (flags: KeygenFlags) => {
        const written = writeNamedKeypair(resolve(flags.dir), flags.name, Boolean(flags.force));
        const summary = {
          publicKey: written.publicKey,
          publicKeyFile: written.publicKeyFile,
          secretKeyFile: written.secretKeyFile,
        };
        if (flags.json) return printJson(summary);
        process.stdout.write(
          `public key:  ${written.publicKey}\npublic file: ${written.publicKeyFile}\nsecret file: ${written.secretKeyFile} (mode 0600; keep it secret)\n`,
        );
        process.stderr.write(
          flags.name === "server"
            ? `next: start the server with --secret-key-file ${written.secretKeyFile}; clients use --server-key-file ${written.publicKeyFile}\n`
            : `next: add the public key to the server's allowlist; use --client-key-file ${written.secretKeyFile}\n`,
        );
      }),
    );
}
