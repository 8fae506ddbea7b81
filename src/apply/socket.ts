// THE client of HAProxy's UNIX sockets (master CLI and runtime API), in its two modes:
// - sendSocketCommand(): one command in non-interactive mode; HAProxy answers and closes.
// - RuntimeSession: one interactive connection (`prompt` mode), many commands, each answer
//   delimited by the "\n> " prompt. Much cheaper than a connection per command when a burst of
//   changes means thousands of commands.
import { createConnection, type Socket } from 'node:net';
import { HaproxyUnreachableError, RuntimeRefusedError } from '../errors.js';

function noAnswer(path: string, command: string, timeoutMs: number): Error {
  return new HaproxyUnreachableError(`no answer from ${path} to "${command}" within ${timeoutMs} ms`);
}

/** A connected socket, or the connection error (its `code`, e.g. ENOENT, kept for callers). */
function connectSocket(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new HaproxyUnreachableError(`cannot connect to ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export async function sendSocketCommand(path: string, command: string, timeoutMs = 5_000): Promise<string> {
  const socket = await connectSocket(path, timeoutMs);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(noAnswer(path, command, timeoutMs));
    }, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    socket.end(`${command}\n`);
  });
}

/**
 * One command whose answer is handed over chunk by chunk as it arrives (a `show stat` of 10 000
 * apps is 11 MB): the event loop gets a turn after every chunk, so consuming a large answer never
 * blocks the process. `timeoutMs` is the longest silence, not a bound on the whole answer.
 */
export async function streamSocketCommand(path: string, command: string, onChunk: (chunk: string) => void, timeoutMs = 5_000): Promise<void> {
  const socket = await connectSocket(path, timeoutMs);
  socket.setEncoding('utf8');
  socket.setTimeout(timeoutMs, () => socket.destroy(noAnswer(path, command, timeoutMs)));
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: string) => {
      try {
        onChunk(chunk);
      } catch (err) {
        socket.destroy(err as Error);
        return;
      }
      // One chunk per turn: what is already buffered waits for the next turn of the event loop.
      socket.pause();
      setImmediate(() => socket.resume());
    });
    socket.on('error', reject);
    socket.on('end', () => {
      socket.destroy();
      resolve();
    });
    socket.end(`${command}\n`);
  });
}

/**
 * A command with a payload (`set ssl cert <file> <<` + PEM): the payload follows the command line
 * and ends with an empty line. Errors name the command only, never the payload (a private key).
 */
export async function sendSocketPayload(path: string, command: string, payload: string, timeoutMs = 5_000): Promise<string> {
  const body = payload
    .replace(/\r/g, '')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .join('\n');
  try {
    return await sendSocketCommand(path, `${command} <<\n${body}\n`, timeoutMs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new HaproxyUnreachableError(`${command}: ${code ? `${code} on ${path}` : `no answer from ${path} within ${timeoutMs} ms`}`);
  }
}

const PROMPT = '\n> ';

export class RuntimeSession {
  private buffer = '';
  private waiting: { resolve: (answer: string) => void; reject: (err: Error) => void } | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
    private readonly path: string,
  ) {
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
    socket.on('close', () => fail(new HaproxyUnreachableError('the runtime API closed the connection')));
  }

  static async open(path: string, timeoutMs = 5_000): Promise<RuntimeSession> {
    const socket = await connectSocket(path, timeoutMs);
    const session = new RuntimeSession(socket, timeoutMs, path);
    await session.send('prompt');
    return session;
  }

  /** Sends one command and resolves with its answer (trailing newline removed). */
  send(command: string): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    if (/[\n;]/.test(command)) return Promise.reject(new RuntimeRefusedError(`refusing a runtime command with a newline or ';': ${JSON.stringify(command)}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(noAnswer(this.path, command, this.timeoutMs));
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
