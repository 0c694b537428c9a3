/**
 * One HTTP POST with the receiver's settings: auth header, extra headers, TLS options,
 * a timeout that also covers a receiver that accepts the connection and never answers.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HttpSettings } from './config.js';

export interface PostResult {
  /** HTTP status, 0 when no answer (network error, timeout). */
  readonly status: number;
  readonly body: string;
  readonly error: string;
}

const USER_AGENT = 'kubepulse-notifier/0.1';

/** Posts `body`; never rejects. The response body is read up to 4 KiB for error messages. */
export function postJSON(
  url: string,
  body: string,
  http: HttpSettings,
  extraHeaders: Readonly<Record<string, string>> = {},
): Promise<PostResult> {
  return new Promise((resolve) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      resolve({ status: 0, body: '', error: `invalid URL ${url}` });
      return;
    }
    const headers: Record<string, string> = {
      ...http.headers,
      ...extraHeaders,
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'content-length': String(Buffer.byteLength(body)),
    };
    if (http.authorization) headers.authorization = http.authorization;
    const isHttps = u.protocol === 'https:';
    const opts = {
      method: 'POST',
      headers,
      ...(isHttps
        ? {
            ca: http.tls.ca,
            cert: http.tls.cert,
            key: http.tls.key,
            rejectUnauthorized: http.tls.rejectUnauthorized,
            servername: http.tls.servername,
          }
        : {}),
    };
    let done = false;
    const finish = (r: PostResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = (isHttps ? httpsRequest : httpRequest)(u, opts, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 4096) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8').slice(0, 4096);
        const status = res.statusCode ?? 0;
        finish({ status, body: text, error: status >= 200 && status < 300 ? '' : `unexpected status code ${status}: ${text.trim().slice(0, 200)}` });
      });
      res.on('error', (err) => finish({ status: 0, body: '', error: err.message }));
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`timeout after ${http.timeoutMs}ms`));
    }, http.timeoutMs);
    timer.unref();
    req.on('error', (err) => finish({ status: 0, body: '', error: err.message }));
    req.end(body);
  });
}
