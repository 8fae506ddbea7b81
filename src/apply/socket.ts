// One command over an HAProxy UNIX socket (master CLI or runtime API) in non-interactive mode:
// HAProxy answers and closes the connection.
import { createConnection } from 'node:net';

export function sendSocketCommand(path: string, command: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = createConnection(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from ${path} to "${command}" within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.end(`${command}\n`));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/**
 * A command with a payload (`set ssl cert <file> <<` + PEM): the payload follows the command line
 * and ends with an empty line. Errors name the command only, never the payload (a private key).
 */
export async function sendSocketPayload(path: string, command: string, payload: string, timeoutMs = 5_000): Promise<string> {
  const body = payload.replace(/\r/g, '').split('\n').filter((line) => line.trim() !== '').join('\n');
  try {
    return await sendSocketCommand(path, `${command} <<\n${body}\n`, timeoutMs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${command}: ${code ? `${code} on ${path}` : `no answer from ${path} within ${timeoutMs} ms`}`);
  }
}
