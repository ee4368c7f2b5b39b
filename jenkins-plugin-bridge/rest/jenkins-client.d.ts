/**
 * Types of the part of the npm `jenkins` client (1.x, untyped JavaScript over `papi`) that
 * `npm-jenkins-api.ts` uses. Requests reject with an Error carrying `res` (the response, with
 * `statusCode` and `headers`) when Jenkins answers outside 2xx, and with the socket's error
 * (`code` such as ECONNREFUSED) when it cannot be reached.
 */
declare module 'jenkins' {
  namespace Jenkins {
    /** What a crumb issuer hands the client for the next POST. */
    interface CrumbData {
      headerName?: string;
      headerValue?: string;
      cookies?: string[];
    }

    /** Options of the client. */
    interface Options {
      baseUrl: string;
      /** true: fetch a crumb before every POST; false: never; a function: its crumb. */
      crumbIssuer?: boolean | ((client: Jenkins) => Promise<CrumbData>);
      headers?: Record<string, string>;
      /** Milliseconds a request may take. */
      timeout?: number;
    }

    /** A raw request of the underlying papi client. */
    interface RawRequest {
      path: string;
      query?: Record<string, string | number>;
      body?: Buffer | Record<string, string>;
      type?: 'form' | 'json';
      headers?: Record<string, string>;
    }

    /** A raw response: the status, headers and (decoded) body. */
    interface RawResponse {
      statusCode: number;
      headers: Record<string, string | string[] | undefined>;
      body?: unknown;
    }
  }

  class Jenkins {
    constructor(options: Jenkins.Options);
    crumbIssuer: { get(): Promise<unknown> };
    job: {
      exists(name: string): Promise<boolean>;
      create(name: string, xml: string): Promise<void>;
      config(name: string): Promise<string>;
      config(name: string, xml: string): Promise<void>;
      build(options: { name: string; parameters?: Record<string, string> }): Promise<number>;
      get(name: string, options?: { tree?: string }): Promise<unknown>;
    };
    build: {
      get(name: string, number: number): Promise<unknown>;
      stop(name: string, number: number): Promise<void>;
    };
    queue: { item(number: number): Promise<unknown> };
    _get(request: Jenkins.RawRequest): Promise<Jenkins.RawResponse>;
    _post(request: Jenkins.RawRequest): Promise<Jenkins.RawResponse>;
  }

  export = Jenkins;
}
