/** `zeroplane context list|use|show`: the named client contexts in $XDG_CONFIG_HOME/zeroplane/config.yaml. */
import type { Command } from "commander";
import { contextsPath, getContext, readContexts, useContext } from "../contexts.js";
import { action, formatDetails, formatTable, printJson } from "../shared.js";

export function register(program: Command): void {
  const context = program
    .command("context")
    .description(
      "named client contexts (endpoints and key files), like kubeconfig: $XDG_CONFIG_HOME/zeroplane/config.yaml",
    );

  context
    .command("list")
    .description("list the contexts; * marks the current one")
    .option("--json", "print JSON")
    .action(
      action(async (flags: { json?: boolean }) => {
        const path = contextsPath();
        const file = readContexts(path);
        const rows = Object.entries(file.contexts).map(([name, c]) => ({
          name,
          ...c,
          current: name === file.current,
        }));
        if (flags.json) return printJson({ file: path, current: file.current ?? null, contexts: rows });
        process.stdout.write(
          formatTable(rows, [
            { header: "CURRENT", value: (r) => (r.current ? "*" : "") },
            { header: "NAME", value: (r) => r.name },
            { header: "ENDPOINTS", value: (r) => r.endpoints.join(",") },
            { header: "CURVE", value: (r) => (r.serverPublicKeyFile ? "on" : "off") },
          ]),
        );
      }),
    );

  context
    .command("use")
    .description("make a context the current one")
    .argument("<name>", "the context")
    .action(
      action(async (name: string) => {
        useContext(contextsPath(), name);
        process.stdout.write(`current context: ${name}\n`);
      }),
    );

  context
    .command("show")
    .description("show a context (default: the current one)")
    .argument("[name]", "the context")
    .option("--json", "print JSON")
    .action(
      action(async (name: string | undefined, flags: { json?: boolean }) => {
        const path = contextsPath();
        const file = readContexts(path);
        const chosen = name ?? file.current ?? undefined;
        if (chosen === undefined) {
          process.stdout.write(
            `no current context in ${path} (zeroplane up writes one; zeroplane context use <name>)\n`,
          );
          return;
        }
        const c = getContext(file, chosen, path);
        if (flags.json) return printJson({ name: chosen, current: chosen === file.current, ...c });
        process.stdout.write(
          formatDetails([
            ["name", chosen],
            ["current", chosen === file.current ? "yes" : "no"],
            ["endpoints", c.endpoints.join(", ")],
            ["publish endpoints", c.publishEndpoints?.join(", ")],
            ["server key file", c.serverPublicKeyFile],
            ["client key file", c.clientSecretKeyFile],
            ["nats", c.natsUrls?.join(", ")],
            ["up dir", c.upDir],
            ["file", path],
          ]),
        );
      }),
    );
}
