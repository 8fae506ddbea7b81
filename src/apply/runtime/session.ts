// One interactive connection to HAProxy's runtime API (`prompt` mode): many commands over one
// socket, each answer delimited by the "\n> " prompt. Much cheaper than a connection per command
// when a burst of changes means thousands of commands.
import { createConnection, type Socket } from 'node:net';

const PROMPT = '\n> ';

export class RuntimeSession {
  private buffer = '';
  private waiting: { resolve: (answer: string) => void; reject: (err: Error) => void } | undefined;
  private failure: Error | undefined;

  private constructor(private readonly socket: Socket, private readonly timeoutMs: number) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.deliver();
    });
    const fail = (err: Error) => {
      this.failure = err;
      this.waiting?.reject(err);
      this.waiting = undefined;
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the runtime API closed the connection')));
  }

  static async open(path: string, timeoutMs = 5_000): Promise<RuntimeSession> {
    const socket = createConnection(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const session = new RuntimeSession(socket, timeoutMs);
    await session.send('prompt');
    return session;
  }

  /** Sends one command and resolves with its answer (trailing newline removed). */
  send(command: string): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    if (/[\n;]/.test(command)) return Promise.reject(new Error(`refusing a runtime command with a newline or ';': ${JSON.stringify(command)}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`no answer from the runtime API to "${command}" within ${this.timeoutMs} ms`));
        this.socket.destroy();
      }, this.timeoutMs);
      this.waiting = {
        resolve: (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.socket.write(`${command}\n`);
    });
  }

  close(): void {
    if (!this.socket.destroyed) this.socket.end('quit\n');
  }

  private deliver(): void {
    const at = this.buffer.indexOf(PROMPT);
    if (at < 0 || !this.waiting) return;
    const answer = this.buffer.slice(0, at).replace(/\n$/, '');
    this.buffer = this.buffer.slice(at + PROMPT.length);
    const { resolve } = this.waiting;
    this.waiting = undefined;
    resolve(answer);
  }
}
