/**
 * A typed fetch wrapper for the welfare-grants API, used the way a portal would: log in, list
 * the calls open for submissions, read an application, save a change to a draft and show the
 * rules it broke next to the form fields.
 *
 * Every path, parameter, header, request body and response body below comes from `./schema`,
 * generated from openapi/openapi.json: when the API changes in a way that breaks this code
 * (a renamed field, a removed operation, a new required parameter, another media type),
 * `tsc` fails here instead of the portal failing in production.
 *
 * No runtime dependency: only the global `fetch` of browsers and of Node 18 and later.
 */
import type { components, paths } from "./schema";

// --- the schemas this example relies on, by their names in the OpenAPI document

type Schemas = components["schemas"];
export type LoginRequest = Schemas["LoginRequest"];
export type TokenResponse = Schemas["TokenResponse"];
export type CallList = Schemas["CallList"];
export type CallView = Schemas["CallView"];
export type ApplicationView = Schemas["ApplicationView"];
export type ApplicationContent = Schemas["ApplicationContent"];
/** The body of every error: `application/problem+json` (RFC 9457). */
export type Problem = Schemas["Problem"];
export type ProblemViolation = Schemas["ProblemViolation"];

// --- from a path and a method to what its operation takes and answers

export type Method = "get" | "put" | "post" | "patch" | "delete";

/** The paths that have an operation for the method `M`. */
export type PathsWith<M extends Method> = {
  [P in keyof paths]: [NonNullable<paths[P][M]>] extends [never] ? never : P;
}[keyof paths];

/** The operation at `path` for `method`, e.g. `Operation<"/api/v1/auth/login", "post">`. */
export type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;

type OpParameters<Op> = Op extends { parameters: infer X } ? X : never;
type Defined<T> = [T] extends [never] ? false : [T] extends [undefined] ? false : true;

/** `path` is required when the operation has path parameters; `query` is always optional. */
type PathOption<Op> =
  OpParameters<Op> extends { path: infer X } ? { path: X } : { path?: never };
type QueryOption<Op> =
  OpParameters<Op> extends { query?: infer X }
    ? Defined<X> extends true
      ? { query?: Exclude<X, undefined> }
      : { query?: never }
    : { query?: never };
/** Required headers (`If-Match`) make `header` required; optional ones (`Idempotency-Key`) not. */
type HeaderOption<Op> =
  OpParameters<Op> extends { header: infer X }
    ? { header: X }
    : OpParameters<Op> extends { header?: infer X }
      ? Defined<X> extends true
        ? { header?: Exclude<X, undefined> }
        : { header?: never }
      : { header?: never };

/** The request body by media type; `contentType` may be left out for `application/json`. */
type RequestContent<Op> = Op extends { requestBody?: infer B }
  ? B extends { content: infer C }
    ? C
    : never
  : never;
type BodyOption<Op> = [RequestContent<Op>] extends [never]
  ? { body?: never; contentType?: never }
  : {
      [K in keyof RequestContent<Op> & string]: K extends "application/json"
        ? { body: RequestContent<Op>[K]; contentType?: K }
        : { body: RequestContent<Op>[K]; contentType: K };
    }[keyof RequestContent<Op> & string];

export type RequestOptions<Op> = PathOption<Op> &
  QueryOption<Op> &
  HeaderOption<Op> &
  BodyOption<Op> & { signal?: AbortSignal };

type Responses<Op> = Op extends { responses: infer R } ? R : never;
type SuccessStatus = 200 | 201 | 202 | 204;
type Body<Resp, Media extends string> = Resp extends { content: infer C }
  ? Media extends keyof C
    ? C[Media]
    : never
  : undefined;

/** What a 2xx answer carries (`undefined` for a 204). */
export type SuccessBody<Op> = {
  [S in keyof Responses<Op>]: S extends SuccessStatus
    ? Body<Responses<Op>[S], "application/json">
    : never;
}[keyof Responses<Op>];

/** A problem document of an answer; nothing for one without a body (a 304). */
type ProblemOf<Resp> = Resp extends { content: infer C }
  ? "application/problem+json" extends keyof C
    ? C["application/problem+json"]
    : never
  : never;

/** The problem documents the operation declares for its errors. */
export type ProblemBody<Op> = {
  [S in keyof Responses<Op>]: S extends SuccessStatus ? never : ProblemOf<Responses<Op>[S]>;
}[keyof Responses<Op>];

/**
 * The outcome of a call. `problem` is `null` when the error came without a problem document
 * (a 401 without a token, a 413 or a 503 from a proxy).
 */
export type ApiResult<T, E> =
  | { ok: true; status: number; headers: Headers; data: T }
  | { ok: false; status: number; headers: Headers; problem: E | null };

type OptionsArgument<O> = {} extends O ? [options?: O] : [options: O];

export interface ClientConfig {
  /** Where the API is served, e.g. `""` (same origin, behind the portal's proxy). */
  baseUrl: string;
  /** An access token from `POST /api/v1/auth/login`. */
  accessToken?: string;
  /** The language of `detail` and of violation messages. */
  language?: "it" | "en";
}

/** The shape the implementation sees; callers only ever pass a `RequestOptions<Op>`. */
interface LooseOptions {
  path?: Record<string, string | number>;
  query?: Record<string, string | number | boolean | null | undefined>;
  header?: Record<string, string | null | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

/** One typed call of the API: `request(config, "get", "/api/v1/calls/{call_id}", { path: { call_id } })`. */
export async function request<M extends Method, P extends PathsWith<M>>(
  config: ClientConfig,
  method: M,
  path: P,
  ...[options]: OptionsArgument<RequestOptions<Operation<P, M>>>
): Promise<ApiResult<SuccessBody<Operation<P, M>>, ProblemBody<Operation<P, M>>>> {
  const opts = (options ?? {}) as LooseOptions;

  const resolved = path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = opts.path?.[name];
    if (value === undefined) throw new Error(`missing path parameter ${name} of ${path}`);
    return encodeURIComponent(String(value));
  });
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(opts.query ?? {})) {
    if (value !== undefined && value !== null) query.set(name, String(value));
  }
  const search = query.toString();
  const url = config.baseUrl + resolved + (search ? `?${search}` : "");

  const headers = new Headers({ Accept: "application/json, application/problem+json" });
  if (config.accessToken) headers.set("Authorization", `Bearer ${config.accessToken}`);
  if (config.language) headers.set("Accept-Language", config.language);
  for (const [name, value] of Object.entries(opts.header ?? {})) {
    if (value !== undefined && value !== null) headers.set(name, value);
  }
  const init: RequestInit = { method: method.toUpperCase(), headers };
  if (opts.body !== undefined && opts.contentType === "multipart/form-data") {
    // The browser writes the Content-Type with the form's boundary.
    init.body = toFormData(opts.body as Record<string, unknown>);
  } else if (opts.body !== undefined) {
    headers.set("Content-Type", opts.contentType ?? "application/json");
    init.body = JSON.stringify(opts.body);
  }
  if (opts.signal) init.signal = opts.signal;

  const response = await fetch(url, init);
  const mediaType = (response.headers.get("Content-Type") ?? "").split(";")[0]?.trim();
  const parsed: unknown =
    mediaType === "application/json" || mediaType === "application/problem+json"
      ? await response.json()
      : undefined;

  type Result = ApiResult<SuccessBody<Operation<P, M>>, ProblemBody<Operation<P, M>>>;
  if (response.ok) {
    return { ok: true, status: response.status, headers: response.headers, data: parsed } as Result;
  }
  const problem = mediaType === "application/problem+json" ? parsed : null;
  return { ok: false, status: response.status, headers: response.headers, problem } as Result;
}

/** A form of the API: files (`Blob`, `File`) as they are, anything else as a JSON part. */
function toFormData(body: Record<string, unknown>): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(body)) {
    if (value instanceof Blob) {
      form.append(name, value, value instanceof File ? value.name : name);
    } else {
      form.append(name, new Blob([JSON.stringify(value)], { type: "application/json" }));
    }
  }
  return form;
}

// --- errors: the problem document, with its violations by form field

export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | null,
  ) {
    super(problem ? `${problem.status} ${problem.code}: ${problem.detail}` : `HTTP ${status}`);
    this.name = "ApiProblem";
  }

  /** The stable code to branch on (`validation_failed`, `stale_version`, ...). */
  get code(): string | null {
    return this.problem?.code ?? null;
  }
}

/**
 * Violated rules by field path, ready to show under each form field: a problem's `violations`
 * (none when the problem is not a validation failure), named from the root of the request body
 * (`content.budget.requested_grant` for a new application, `budget.requested_grant` for a
 * PATCH of its content, `rules.scoring.criteria[2].max` for a call), or a draft's `blocking`
 * list, named from the root of the application as read (`content.budget.requested_grant`).
 * What is not in the body keeps its name (`documents`, `partnership`, `submitted_at`).
 */
export function messagesByField(
  violations: readonly ProblemViolation[] | null | undefined,
): Map<string, string[]> {
  const byField = new Map<string, string[]>();
  for (const violation of violations ?? []) {
    const messages = byField.get(violation.field) ?? [];
    messages.push(`${violation.message} (${violation.code})`);
    byField.set(violation.field, messages);
  }
  return byField;
}

// --- what a portal does

/** POST /api/v1/auth/login: a client config that carries the access token. */
export async function logIn(
  config: ClientConfig,
  credentials: LoginRequest,
): Promise<{ client: ClientConfig; tokens: TokenResponse }> {
  const result = await request(config, "post", "/api/v1/auth/login", { body: credentials });
  if (!result.ok) {
    // 401: wrong user name or password, or a disabled account; 422: an empty field.
    throw new ApiProblem(result.status, result.problem);
  }
  const tokens: TokenResponse = result.data;
  return { client: { ...config, accessToken: tokens.access_token }, tokens };
}

/** GET /api/v1/calls, every page: the published calls whose window is open now. */
export async function listOpenCalls(client: ClientConfig): Promise<CallView[]> {
  const open: CallView[] = [];
  for (let page = 1; ; page += 1) {
    const result = await request(client, "get", "/api/v1/calls", {
      query: { status: "published", page, per_page: 100 },
    });
    if (!result.ok) throw new ApiProblem(result.status, result.problem);
    const list: CallList = result.data;
    open.push(...list.items.filter((call) => call.window_state === "open"));
    if (page * list.per_page >= list.total) return open;
  }
}

/**
 * GET /api/v1/applications/{application_id}: the application and its ETag (needed to change
 * it), or `null` when it does not exist or the caller may not see it.
 */
export async function readApplication(
  client: ClientConfig,
  applicationId: string,
): Promise<{ application: ApplicationView; etag: string } | null> {
  const result = await request(client, "get", "/api/v1/applications/{application_id}", {
    path: { application_id: applicationId },
  });
  if (!result.ok) {
    if (result.status === 404) return null;
    throw new ApiProblem(result.status, result.problem);
  }
  const etag = result.headers.get("ETag");
  if (etag === null) throw new Error("the application was served without an ETag");
  return { application: result.data, etag };
}

export type SaveOutcome =
  | { saved: true; application: ApplicationView; etag: string }
  | { saved: false; reason: "changed_meanwhile" | "not_a_draft" }
  | { saved: false; reason: "invalid"; messages: Map<string, string[]> };

/**
 * PATCH /api/v1/applications/{application_id}: a JSON Merge Patch of the draft's content,
 * guarded by the ETag it was read with. Validation failures come back as messages by field.
 */
export async function saveDraft(
  client: ClientConfig,
  applicationId: string,
  etag: string,
  change: ApplicationContent,
): Promise<SaveOutcome> {
  const result = await request(client, "patch", "/api/v1/applications/{application_id}", {
    path: { application_id: applicationId },
    header: { "If-Match": etag },
    contentType: "application/merge-patch+json",
    body: change,
  });
  if (result.ok) {
    return {
      saved: true,
      application: result.data,
      etag: result.headers.get("ETag") ?? etag,
    };
  }
  const problem: Problem | null = result.problem;
  switch (result.status) {
    case 412:
      return { saved: false, reason: "changed_meanwhile" };
    case 409:
      return { saved: false, reason: "not_a_draft" };
    case 400:
    case 422:
      return { saved: false, reason: "invalid", messages: messagesByField(problem?.violations) };
    default:
      throw new ApiProblem(result.status, problem);
  }
}

export type DocumentView = Schemas["DocumentView"];
export type UploadMetadata = Schemas["UploadMetadata"];

/**
 * POST /api/v1/applications/{application_id}/documents: upload an annex of a draft (e.g. the
 * partnership agreement the user picked in an `<input type="file">`). The service reads the
 * file's type from its bytes: a 415 says the file is not a PDF, `.p7m`, PNG or JPEG (or that
 * its name says another type), a 413 that it is larger than its kind allows.
 */
export async function uploadAnnex(
  client: ClientConfig,
  applicationId: string,
  metadata: UploadMetadata,
  file: File,
): Promise<DocumentView> {
  const result = await request(client, "post", "/api/v1/applications/{application_id}/documents", {
    path: { application_id: applicationId },
    contentType: "multipart/form-data",
    // The generated types write a binary part as a string; the form sends the File itself.
    body: { metadata, file: file as unknown as string },
  });
  if (!result.ok) throw new ApiProblem(result.status, result.problem);
  return result.data;
}

/** The whole flow, as a page of the portal would run it. */
export async function demo(baseUrl: string, applicationId: string): Promise<void> {
  const { client } = await logIn(
    { baseUrl, language: "en" },
    { username: "richiedente1@demo.welfare-grants.test", password: "demo-applicant-password" },
  );

  for (const call of await listOpenCalls(client)) {
    console.log(`${call.code} ${call.title}: open until ${call.closes_at_local}`);
  }

  const read = await readApplication(client, applicationId);
  if (read === null) {
    console.log(`no application ${applicationId}`);
    return;
  }
  const { application, etag } = read;
  console.log(`${application.content.title ?? "(untitled)"}: ${application.status}`);
  // A draft lists what still blocks its submission, in the same shape as a problem's violations.
  for (const [field, messages] of messagesByField(application.blocking)) {
    console.log(`  to fix before submitting, ${field}: ${messages.join("; ")}`);
  }

  if (application.status === "draft" && application.can_manage) {
    const agreement = new File(["%PDF-1.4\n% Accordo di partenariato\n%%EOF\n"], "accordo.pdf", {
      type: "application/pdf",
    });
    const annex = await uploadAnnex(client, applicationId, { kind: "partnership_agreement" }, agreement);
    console.log(`  kept ${annex.file_name} (${annex.media_type}, SHA-256 ${annex.sha256})`);
    const outcome = await saveDraft(client, applicationId, etag, { summary: "Updated summary" });
    if (!outcome.saved && outcome.reason === "invalid") {
      for (const [field, messages] of outcome.messages) console.log(`  ${field}: ${messages.join("; ")}`);
    }
  }
}
