/**
 * What follow() keeps of an agent's PUB output events until it yields them: pieces of one stream
 * by absolute offset, bounded in bytes. A piece that continues exactly where the reader is saves an
 * `output` request (the bytes already crossed the network once); anything else (a gap after events
 * the PUB socket dropped or sent before the subscription took, or pieces refused at the bound) is
 * left to a read by offset, so nothing is missed or repeated either way.
 */
export interface OutputPiece {
  readonly offset: number;
  readonly data: Uint8Array;
}

export class FollowBuffer {
  private pieces: OutputPiece[] = [];
  private bytes = 0;

  constructor(private readonly maxBytes: number) {
    if (!Number.isInteger(maxBytes) || maxBytes < 0) {
      throw new RangeError(`FollowBuffer maxBytes must be an integer of at least 0, got ${maxBytes}`);
    }
  }

  /** Keeps `piece` unless that would pass the bound; false when refused. */
  push(piece: OutputPiece): boolean {
    if (this.bytes + piece.data.byteLength > this.maxBytes) return false;
    this.pieces.push(piece);
    this.bytes += piece.data.byteLength;
    return true;
  }

  /** Bytes held. */
  get size(): number {
    return this.bytes;
  }

  /** True when the first held piece starts at or before `offset` (take() will not say "gap"). */
  continuesAt(offset: number): boolean {
    const first = this.pieces[0];
    return first !== undefined && first.offset <= offset;
  }

  /**
   * The held bytes that continue at `offset` (the first piece covering it, trimmed to start there),
   * dropping every piece that ends at or before it; "gap" when the next held piece starts after
   * `offset`; null when nothing is held.
   */
  take(offset: number): OutputPiece | "gap" | null {
    while (this.pieces.length > 0) {
      const piece = this.pieces[0]!;
      const end = piece.offset + piece.data.byteLength;
      if (piece.offset > offset) return "gap";
      this.pieces.shift();
      this.bytes -= piece.data.byteLength;
      if (end <= offset) continue;
      return piece.offset === offset ? piece : { offset, data: piece.data.subarray(offset - piece.offset) };
    }
    return null;
  }
}
