/**
 * `zeroplane init <env>`: writes a new `Pulumi.<env>.yaml` with working, commented defaults that the
 * stacks' loader accepts; never replaces an existing file.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { VERSION } from "../../version.js";
import { writeFileWithMode } from "../../security/keys.js";
import { checkZ85Key } from "../../client/index.js";
import { action, CliError, collectRepeatable, EXIT_CODES, printJson } from "../shared.js";

/** A client public key from its file; a secret key file is refused (it must never reach Git). */
function readClientKey(path: string): string {
  if (path.endsWith("_secret")) {
    throw new CliError(
      `--client-key-file ${path} looks like a secret key; the stack file is committed. Fix: give the public key file (client.key).`,
      EXIT_CODES.usage,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new CliError(
      `cannot read --client-key-file ${path}: ${(error as Error).message}`,
      EXIT_CODES.usage,
    );
  }
  return checkZ85Key(text, `--client-key-file ${path}`);
}

/**
 * The kit's environment spec, loaded here because only this command needs it. The container image
 * bundles runtime/ alone (runtime/image/bundle.ts leaves the kit out), so there it is missing.
 */
async function loadKit() {
  try {
    const [{ environmentTemplate }, { EnvironmentConfigError }] = await Promise.all([
      import("../../../stacks/environment/template.js"),
      import("../../../stacks/environment/load.js"),
    ]);
    return { environmentTemplate, EnvironmentConfigError };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND") throw error;
    throw new CliError(
      "zeroplane init needs the Zeroplane kit (stacks/ and constructs/), which this installation (the runtime image) does not include. Fix: run it in a checkout of the kit: npm run zeroplane -- init <env>",
      EXIT_CODES.usage,
    );
  }
}

export function register(program: Command): void {
  program
    .command("init")
    .description("write a new Pulumi.<env>.yaml with commented defaults (never replaces a file)")
    .argument("<env>", "environment (stack) name: lowercase letters, digits and '-', e.g. staging")
    .option("-d, --dir <dir>", "where to write it (the Pulumi project folder)", ".")
    .option(
      "--client-key-file <path>",
      "a client public key file (client.key) to allowlist, repeatable (default: the allowlist is a Secret you create)",
      collectRepeatable,
    )
    .option("--json", "print the written path as JSON")
    .action(
      action(
        async (environment: string, flags: { dir: string; clientKeyFile?: string[]; json?: boolean }) => {
          const path = join(resolve(flags.dir), `Pulumi.${environment}.yaml`);
          if (existsSync(path)) {
            throw new CliError(
              `${path} already exists; refusing to replace it. Fix: edit it, or choose another environment name.`,
              EXIT_CODES.localFile,
            );
          }
          const { environmentTemplate, EnvironmentConfigError } = await loadKit();
          let text: string;
          try {
            text = environmentTemplate(environment, VERSION, (flags.clientKeyFile ?? []).map(readClientKey));
          } catch (error) {
            if (error instanceof EnvironmentConfigError) throw new CliError(error.message, EXIT_CODES.usage);
            throw error;
          }
          try {
            writeFileWithMode(path, text, 0o644);
          } catch (error) {
            throw new CliError(`cannot write ${path}: ${(error as Error).message}`, EXIT_CODES.localFile);
          }
          if (flags.json) return printJson({ environment, path });
          process.stdout.write(
            `wrote ${path}\nnext: replace image.repository, add client keys to allowlist.publicKeys, then: pulumi stack select --create ${environment} && pulumi up\n`,
          );
        },
      ),
    );
}
