/**
 * Test certificates, made by the real `openssl` CLI. Every certificate is valid for one day and for
 * `localhost` and `127.0.0.1`, so a server started by a test on loopback passes hostname checks.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** P-256 keys: quick to generate on a slow machine, and accepted by Node, nats-server and openssl. */
const NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
const LOOPBACK_NAMES = "subjectAltName=DNS:localhost,IP:127.0.0.1";

/** Runs openssl, with its stderr in the thrown error when it fails. */
function openssl(...args: string[]): void {
  execFileSync("openssl", args, { stdio: "pipe" });
}

/** Where a certificate and its private key are written (PEM). */
export interface CertificateFiles {
  readonly cert: string;
  readonly key: string;
}

/** Writes a self-signed certificate and its key, creating their folders. */
export function makeSelfSignedCert(files: CertificateFiles, commonName: string): void {
  mkdirSync(dirname(files.cert), { recursive: true });
  mkdirSync(dirname(files.key), { recursive: true });
  openssl(
    "req",
    "-x509",
    ...NEW_KEY,
    "-days",
    "1",
    "-subj",
    `/CN=${commonName}`,
    "-addext",
    LOOPBACK_NAMES,
    "-keyout",
    files.key,
    "-out",
    files.cert,
  );
}

/**
 * Writes the three keys of a kubernetes.io/tls Secret with a CA entry (`tls.crt`, `tls.key`, `ca.crt`)
 * into `dir`, as the kubelet would mount them: a self-signed certificate that is its own CA.
 */
export function makeTlsSecretDir(dir: string, commonName: string): void {
  const files = { cert: join(dir, "tls.crt"), key: join(dir, "tls.key") };
  makeSelfSignedCert(files, commonName);
  copyFileSync(files.cert, join(dir, "ca.crt"));
}

/** A test CA and the certificates it signed, by name. */
export interface TestCa<Name extends string> {
  /** The CA certificate (PEM). */
  readonly ca: string;
  readonly certs: Readonly<Record<Name, CertificateFiles>>;
}

/**
 * Writes a CA (`ca.pem`, `ca.key`) into `dir` and, for each name, `<name>.pem` and `<name>.key` signed
 * by it with common name `<name>`.
 */
export function makeTestCa<Name extends string>(dir: string, names: readonly Name[]): TestCa<Name> {
  mkdirSync(dir, { recursive: true });
  const ca = { cert: join(dir, "ca.pem"), key: join(dir, "ca.key") };
  makeSelfSignedCert(ca, "zeroplane-test-ca");
  const extensions = join(dir, "san.ext");
  writeFileSync(extensions, `${LOOPBACK_NAMES}\n`);
  const certs = {} as Record<Name, CertificateFiles>;
  for (const name of names) {
    const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
    const request = join(dir, `${name}.csr`);
    openssl("req", ...NEW_KEY, "-keyout", files.key, "-out", request, "-subj", `/CN=${name}`);
    openssl(
      "x509",
      "-req",
      "-in",
      request,
      "-CA",
      ca.cert,
      "-CAkey",
      ca.key,
      "-CAcreateserial",
      "-out",
      files.cert,
      "-days",
      "1",
      "-extfile",
      extensions,
    );
    certs[name] = files;
  }
  return { ca: ca.cert, certs };
}
