// Helpers the Node-side tests share for talking to a program the way a client or an operator does:
// raw HTTP bytes on a socket (requests no fetch() can build) and a child process with its output.
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { ROOT } from "./npm-start.ts";

export interface RawResponse {
  status: number;
  head: string;
  body: string;
}

/** Writes `lines` (CRLF-joined) and `body` to a fresh connection to `baseUrl`, reads until the server closes. */
export function rawRequest(baseUrl: string, lines: string[], body = ""): Promise<RawResponse> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1");
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("error", reject);
    socket.on("end", () => {
      const [head = "", rest = ""] = text.split("\r\n\r\n", 2);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body: rest });
    });
    socket.write([...lines, "Connection: close", "", ""].join("\r\n") + body);
  });
}

export interface ProcessRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command` in the checkout with `env` over this process's environment (undefined unsets), stdin closed as in CI. */
export function runProcess(command: string, args: string[], env: Record<string, string | undefined>): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
