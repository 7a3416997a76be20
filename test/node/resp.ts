// A minimal RESP2 client over node:net for the test bridge. Written by hand on purpose: the bridge
// needs exactly "send arrays of strings, read the replies in order" on one connection, which is about
// a hundred lines of RESP2, while a client package would be another dependency whose reply
// post-processing (buffers vs strings, error objects, auto-pipelining) would sit between the bridge
// and the raw replies it must translate one-to-one into Upstash's JSON.
import { connect, type Socket } from "node:net";

/** A Redis error reply (`-ERR ...`), kept as a value so pipelines and EXEC can carry it per command. */
export class RespError {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

/** Simple strings arrive as `string`, bulk strings as `Buffer` (binary-safe), nil as `null`. */
export type RespValue = string | Buffer | number | null | RespError | RespValue[];

interface Pending {
  resolve: (value: RespValue) => void;
  reject: (err: Error) => void;
}

export interface RespConnection {
  /** Sends every command in one write and resolves with their replies, in order. */
  send(commands: readonly (readonly string[])[]): Promise<RespValue[]>;
  readonly closed: boolean;
  close(): void;
}

export function connectResp(port: number, host = "127.0.0.1"): Promise<RespConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host });
    socket.setNoDelay(true);
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(respConnection(socket));
    });
  });
}

function respConnection(socket: Socket): RespConnection {
  const pending: Pending[] = [];
  let buffer: Buffer = Buffer.alloc(0);
  let closed = false;

  const fail = (err: Error) => {
    closed = true;
    for (const waiter of pending.splice(0)) waiter.reject(err);
  };
  socket.on("error", fail);
  socket.on("close", () => fail(new Error("redis connection closed")));
  socket.on("data", (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    let offset = 0;
    try {
      for (;;) {
        const parsed = parseReply(buffer, offset);
        if (!parsed) break;
        offset = parsed.next;
        pending.shift()?.resolve(parsed.value);
      }
    } catch (err) {
      socket.destroy(err as Error);
      return;
    }
    buffer = buffer.subarray(offset);
  });

  return {
    get closed() {
      return closed;
    },
    send(commands) {
      if (closed) return Promise.reject(new Error("redis connection closed"));
      const replies = commands.map(() => new Promise<RespValue>((resolve, reject) => pending.push({ resolve, reject })));
      socket.write(Buffer.concat(commands.map(encodeCommand)));
      return Promise.all(replies);
    },
    close() {
      closed = true;
      socket.destroy();
    },
  };
}

function encodeCommand(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(arg, "utf8");
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/** Parses one reply at `offset`; undefined when the buffer does not hold all of it yet. */
function parseReply(buf: Buffer, offset: number): { value: RespValue; next: number } | undefined {
  const lineEnd = buf.indexOf("\r\n", offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[offset]!);
  const line = buf.toString("utf8", offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case "+":
      return { value: line, next: afterLine };
    case "-":
      return { value: new RespError(line), next: afterLine };
    case ":":
      return { value: Number(line), next: afterLine };
    case "$": {
      const length = Number(line);
      if (length < 0) return { value: null, next: afterLine };
      if (buf.length < afterLine + length + 2) return undefined;
      return { value: Buffer.from(buf.subarray(afterLine, afterLine + length)), next: afterLine + length + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, next: afterLine };
      const items: RespValue[] = [];
      let next = afterLine;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, next);
        if (!item) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}
