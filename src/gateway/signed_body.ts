/**
 * The body the origin gets, and whether the signature can cover it. Hashing needs the whole body
 * before the request leaves, so a body is buffered only while it is known to be small: up to
 * SIGNED_BODY_MAX_BYTES. A larger declared Content-Length is never read here; a body of undeclared
 * length is read until it ends (hashed) or passes the limit, and then the bytes already read are
 * replayed ahead of the rest of the stream, untouched and unsigned. Memory per request is bounded
 * by the limit either way.
 */
export type OutgoingBody =
  | { signed: true; body: Uint8Array<ArrayBuffer> | null; bytes: Uint8Array<ArrayBuffer> }
  | { signed: false; body: ReadableStream<Uint8Array> };

const EMPTY = new Uint8Array(0);

/** `signal` aborts the read (the origin timeout also bounds a slow client's small body). */
export async function captureBody(request: Request, maxBytes: number, signal: AbortSignal): Promise<OutgoingBody> {
  const stream = request.body;
  if (stream === null) return { signed: true, body: null, bytes: EMPTY };
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) return { signed: false, body: stream };

  const reader = stream.getReader();
  const stop = () => void reader.cancel(signal.reason).catch(() => {});
  signal.addEventListener("abort", stop, { once: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
    if (total > maxBytes) {
      signal.removeEventListener("abort", stop);
      return { signed: false, body: replayThenRest(chunks, reader) };
    }
  }
  signal.removeEventListener("abort", stop);
  // A cancelled read ends like a finished one: never sign what may be a truncated body.
  signal.throwIfAborted();
  const bytes = concat(chunks, total);
  return { signed: true, body: bytes, bytes };
}

function concat(chunks: Uint8Array[], total: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function replayThenRest(read: Uint8Array[], reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (next < read.length) return controller.enqueue(read[next++]!);
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
