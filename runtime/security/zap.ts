/**
 * A ZAP handler (ZeroMQ RFC 27) that admits CURVE clients whose public key is in the allowlist.
 *
 * libzmq asks the handler bound at `inproc://zeromq.zap.01` in the server sockets' context about
 * every CURVE handshake. The server gives its sockets a context of their own, so the handler
 * applies to exactly those sockets. Rejections are reported with a key fingerprint, never the key.
 */
import { type Context, Reply } from "zeromq";
import type { Allowlist } from "./allowlist.js";
import { keyFingerprint } from "./keys.js";

export const ZAP_ENDPOINT = "inproc://zeromq.zap.01";
/** The ZAP domain the server's sockets declare. */
export const ZAP_DOMAIN = "zeroplane";

export interface ZapRejection {
  readonly reason: "not-allowlisted" | "wrong-mechanism" | "malformed";
  /** Short hash of the client key, for correlating log lines without revealing the key. */
  readonly fingerprint: string | null;
  readonly address: string;
}

export class ZapHandler {
  private readonly socket: Reply;
  private loop: Promise<void> | null = null;

  constructor(
    context: Context,
    private readonly allowlist: Allowlist,
    private readonly onReject: (rejection: ZapRejection) => void,
    private readonly onError: (error: Error) => void = () => undefined,
  ) {
    this.socket = new Reply({ context, linger: 0 });
  }

  /** Binds the handler. Must run before the CURVE sockets accept connections. */
  async start(): Promise<void> {
    await this.socket.bind(ZAP_ENDPOINT);
    this.loop = this.serve();
  }

  async close(): Promise<void> {
    this.socket.close();
    await this.loop;
  }

  private async serve(): Promise<void> {
    // With zapEnforceDomain a dead handler would refuse every client, so one bad exchange must
    // not end the loop; only closing the socket does.
    while (!this.socket.closed) {
      try {
        const frames = await this.socket.receive();
        await this.socket.send(this.decide(frames));
      } catch (error) {
        if (this.socket.closed) return;
        this.onError(error as Error);
        // Never spin: a socket in a bad state would fail again at once.
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** Builds the reply: version, request id, status code, status text, user id, metadata. */
  private decide(frames: Buffer[]): (string | Buffer)[] {
    const [version, requestId, , address, , mechanism, credential] = frames;
    const deny = (reason: ZapRejection["reason"], fingerprint: string | null) => {
      this.onReject({ reason, fingerprint, address: address?.toString() ?? "" });
      return ["1.0", requestId ?? Buffer.alloc(0), "400", reason, "", Buffer.alloc(0)];
    };
    if (version?.toString() !== "1.0" || requestId === undefined) return deny("malformed", null);
    if (mechanism?.toString() !== "CURVE" || credential === undefined) return deny("wrong-mechanism", null);
    if (!this.allowlist.has(credential)) return deny("not-allowlisted", keyFingerprint(credential));
    // The user id is a fingerprint: enough to tell clients apart, without echoing the key anywhere.
    return ["1.0", requestId, "200", "OK", keyFingerprint(credential), Buffer.alloc(0)];
  }
}
