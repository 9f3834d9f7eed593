import { randomUUID } from "node:crypto";

/**
 * HubSpot's error bodies: `{status:"error", message, correlationId, category,
 * subCategory?, context?, errors?[]}`. Route handlers throw `HubSpotError`; the server turns it
 * into the response, so every path answers errors the same way.
 */

export interface ErrorDetail {
  message: string;
  code?: string;
  in?: string;
  subCategory?: string;
  context?: Record<string, string[]>;
}

export interface ErrorBody {
  status: "error";
  message: string;
  correlationId: string;
  category: string;
  subCategory?: string;
  context?: Record<string, string[]>;
  errors?: ErrorDetail[];
  links?: Record<string, string>;
}

export class HubSpotError extends Error {
  readonly httpStatus: number;
  readonly category: string;
  readonly subCategory: string | undefined;
  readonly context: Record<string, string[]> | undefined;
  readonly errors: ErrorDetail[] | undefined;
  constructor(
    httpStatus: number,
    category: string,
    message: string,
    extra: { subCategory?: string; context?: Record<string, string[]>; errors?: ErrorDetail[] } = {},
  ) {
    super(message);
    this.httpStatus = httpStatus;
    this.category = category;
    this.subCategory = extra.subCategory;
    this.context = extra.context;
    this.errors = extra.errors;
  }

  body(correlationId: string): ErrorBody {
    const out: ErrorBody = { status: "error", message: this.message, correlationId, category: this.category };
    if (this.subCategory) out.subCategory = this.subCategory;
    if (this.context) out.context = this.context;
    if (this.errors) out.errors = this.errors;
    return out;
  }
}

export const newCorrelationId = (): string => randomUUID();

export const validationError = (message: string, extra: ConstructorParameters<typeof HubSpotError>[3] = {}): HubSpotError =>
  new HubSpotError(400, "VALIDATION_ERROR", message, extra);

export const notFound = (message = "resource not found", context?: Record<string, string[]>): HubSpotError =>
  new HubSpotError(404, "OBJECT_NOT_FOUND", message, context ? { context } : {});

export const conflict = (message: string): HubSpotError => new HubSpotError(409, "CONFLICT", message);
