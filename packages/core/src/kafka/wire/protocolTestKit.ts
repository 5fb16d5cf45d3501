/**
 * Big-endian Kafka protocol fields for tests: the broker's side of the encoding (response bodies)
 * and of the decoding (request bodies), shared by the fake broker and the protocol tests.
 */

/** Appends big-endian protocol fields. */
export class ProtocolWriter {
  private readonly parts: Buffer[] = [];

  int8(value: number): this {
    return this.push(1, (b) => b.writeInt8(value));
  }
  int16(value: number): this {
    return this.push(2, (b) => b.writeInt16BE(value));
  }
  int32(value: number): this {
    return this.push(4, (b) => b.writeInt32BE(value));
  }
  int64(value: number): this {
    return this.push(8, (b) => b.writeBigInt64BE(BigInt(value)));
  }
  string(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    this.int16(bytes.length);
    this.parts.push(bytes);
    return this;
  }
  bytes(value: Buffer): this {
    return this.nullableBytes(value);
  }
  nullableBytes(value: Buffer | null): this {
    this.int32(value === null ? -1 : value.length);
    if (value !== null) this.parts.push(value);
    return this;
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }
  private push(size: number, write: (buffer: Buffer) => void): this {
    const buffer = Buffer.alloc(size);
    write(buffer);
    this.parts.push(buffer);
    return this;
  }
}

/** Reads big-endian protocol fields in order. */
export class ProtocolReader {
  at = 0;

  constructor(private readonly buffer: Buffer) {}

  int8(): number {
    return this.buffer.readInt8((this.at += 1) - 1);
  }
  int16(): number {
    return this.buffer.readInt16BE((this.at += 2) - 2);
  }
  int32(): number {
    return this.buffer.readInt32BE((this.at += 4) - 4);
  }
  int64(): number {
    return Number(this.buffer.readBigInt64BE((this.at += 8) - 8));
  }
  string(): string {
    const length = this.int16();
    return this.buffer.toString('utf8', this.at, (this.at += length));
  }
  get isAtEnd(): boolean {
    return this.at === this.buffer.length;
  }
}
