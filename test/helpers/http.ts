import { checkHttpAnswer } from './conformance.js';

// A tiny JSON client over fetch for integration tests: real HTTP against the real server. Every
// answer is checked against docs/openapi.json (status, media type, body) before a test sees it.

// `any` by default: tests assert on JSON bodies structurally and would gain nothing from a cast.
export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export class Http {
  constructor(readonly baseUrl: string) {}

  async request<T = any>(
    method: string,
    path: string,
    options: { token?: string | undefined; json?: unknown; body?: string; headers?: Record<string, string> } = {},
  ): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined = options.body;
    if (options.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(options.json);
    }
    const res = await fetch(this.baseUrl + path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    checkHttpAnswer(method, path, res.status, res.headers.get('content-type'), text);
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text.length > 0) parsed = JSON.parse(text);
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get<T = any>(path: string, token?: string) {
    return this.request<T>('GET', path, { token });
  }
  post<T = any>(path: string, json: unknown, token?: string) {
    return this.request<T>('POST', path, { token, json });
  }
  patch<T = any>(path: string, json: unknown, token?: string) {
    return this.request<T>('PATCH', path, { token, json });
  }
  put<T = any>(path: string, json: unknown, token?: string) {
    return this.request<T>('PUT', path, { token, json });
  }
  delete<T = any>(path: string, token?: string) {
    return this.request<T>('DELETE', path, { token });
  }
}
