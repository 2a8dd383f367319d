/** What counts as a secret-looking literal, in env values and ConfigMap data. */
import { describe, expect, it } from "vitest";
import { ALLOWLIST_KEY, CURVE_SECRET_KEYS, ENV_VARS } from "../../runtime/config/index.js";
import { secretLiteralReason } from "../../policies/k8s/secret-patterns.js";

const Z85_KEY = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";

describe("secretLiteralReason", () => {
  it.each([
    ["DB_PASSWORD", "hunter2", /name "DB_PASSWORD" says it holds a secret/],
    ["NATS_PASSWORD", '"123456"', /name "NATS_PASSWORD" says it holds a secret/],
    [ENV_VARS["security.secretKey"], Z85_KEY, /says it holds a secret/],
    ["API_KEY", "abc123", /says it holds a secret/],
    ["tls.key", "-----BEGIN EC PRIVATE KEY-----\nMHc...", /PEM private key/],
    ["settings", "id=AKIAIOSFODNN7EXAMPLE", /AWS access key id/],
    ["settings", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", /AWS secret access key/],
    ["curve", Z85_KEY, /Z85/],
    ["nats.conf", "authorization {\n  token: s3cr3t\n}", /assigns a literal to "token"/],
    ["app.json", '{ "password": "letmein" }', /assigns a literal to "password"/],
    [ENV_VARS["nats.urls"], "nats://svc:hunter2@nats:4222", /URL with an embedded password/],
    ["seed", "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY", /nkey seed/],
  ])("flags %s = %s", (name, value, reason) => {
    expect(secretLiteralReason(name, value)).toMatch(reason);
  });

  it.each([
    [ENV_VARS["security.secretKeyFile"], "/var/run/zeroplane/curve/server.key_secret"],
    [ENV_VARS["nats.passwordFile"], "/var/run/zeroplane/nats/password"],
    [ENV_VARS["nats.tokenFile"], "/var/run/zeroplane/nats/token"],
    [CURVE_SECRET_KEYS.publicKey, Z85_KEY],
    ["serverPublicKey", Z85_KEY],
    [ALLOWLIST_KEY, `${Z85_KEY}\n${Z85_KEY}\n`],
    ["NATS_PASSWORD", "$(NATS_PASSWORD_FROM_SECRET)"],
    ["NATS_PASSWORD", '"$(NATS_SECRET_PASSWORD)"'],
    ["nats.conf", "authorization {\n  token: $NATS_TOKEN\n}\njetstream { store_dir: /data }"],
    [ENV_VARS["server.bind"], "tcp://0.0.0.0:5555"],
    ["commit", "3f63d2f2fcff37679304fa0dcb7c2a93a20f4a7e"],
    ["TOKEN_TTL_SECONDS", ""],
  ])("accepts %s = %s", (name, value) => {
    expect(secretLiteralReason(name, value)).toBeUndefined();
  });
});
