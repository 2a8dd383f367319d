/** `zeroplane server` with CURVE keys from `zeroplane keygen`, and clients with right and wrong keys. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../../../runtime/cli/shared.js";
import { startCliServer, type CliServer } from "./support/cli-server.js";
import { runCli } from "./support/run-cli.js";

describe("zeroplane CLI with CURVE", () => {
  const dir = mkdtempSync(join(tmpdir(), "zp-cli-curve-"));
  let server: CliServer | undefined;
  afterAll(async () => {
    if (server && server.child.exitCode === null) server.child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  describe("a CURVE server from `zeroplane server` with keys from keygen", () => {
    const keys = join(dir, "curve");
    beforeAll(async () => {
      const written = await Promise.all(
        ["server", "client", "other"].map((name) => runCli(["keygen", "--dir", keys, "--name", name])),
      );
      expect(written.map((r) => r.code)).toEqual([0, 0, 0]);
      const allowlist = join(keys, "allowlist.txt");
      writeFileSync(allowlist, readFileSync(join(keys, "client.key"), "utf8"));
      server = await startCliServer(
        ["--secret-key-file", join(keys, "server.key_secret"), "--allowlist-file", allowlist],
        join(dir, "curve-state"),
      );
    });

    it("serves a client with the server key and an allowlisted client key, from flags, env or config", async () => {
      const [byFlags, byEnv] = await Promise.all([
        runCli([
          "health",
          "--endpoint",
          server!.endpoint,
          "--server-key-file",
          join(keys, "server.key"),
          "--client-key-file",
          join(keys, "client.key_secret"),
        ]),
        runCli(["health"], {
          env: {
            ZEROPLANE_ENDPOINTS: server!.endpoint,
            ZEROPLANE_SERVER_PUBLIC_KEY_FILE: join(keys, "server.key"),
            ZEROPLANE_CLIENT_SECRET_KEY_FILE: join(keys, "client.key_secret"),
          },
        }),
      ]);
      expect(byFlags.code).toBe(0);
      expect(byEnv.code).toBe(0);
      // Key paths in a config file are relative to the file.
      const configFile = join(keys, "zeroplane.yaml");
      writeFileSync(
        configFile,
        `endpoints: ${server!.endpoint}\nserverPublicKeyFile: server.key\nclientSecretKeyFile: client.key_secret\n`,
      );
      expect((await runCli(["health", "--config", configFile])).code).toBe(0);
    });

    it("exits 4 with a clear message for a wrong server key, a stranger's key, or no keys", async () => {
      const common = ["health", "--endpoint", server!.endpoint, "--timeout", "8000"];
      const [wrongServer, stranger, plaintext] = await Promise.all([
        runCli([
          ...common,
          "--server-key-file",
          join(keys, "other.key"),
          "--client-key-file",
          join(keys, "client.key_secret"),
        ]),
        runCli([
          ...common,
          "--server-key-file",
          join(keys, "server.key"),
          "--client-key-file",
          join(keys, "other.key_secret"),
        ]),
        runCli(common),
      ]);
      for (const result of [wrongServer, stranger, plaintext]) {
        expect(result.code).toBe(EXIT_CODES.auth);
        expect(result.stderr).toMatch(
          /CURVE authentication failed.*check the server public key.*allowlisted/,
        );
      }
    });

    it("refuses a server key file that is not a key, naming the file (exit 2)", async () => {
      const result = await runCli([
        "health",
        "--endpoint",
        server!.endpoint,
        "--server-key-file",
        join(keys, "allowlist.txt.nope"),
      ]);
      expect(result.code).toBe(EXIT_CODES.usage);
      expect(result.stderr).toMatch(/cannot read the server public key file .*allowlist.txt.nope/);
    });
  });
});
