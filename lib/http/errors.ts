// What the upstream client rejects with, shaped as fetch's rejections so callers handle both alike.

export class HttpError extends TypeError {
  constructor(message: string) {
    super(`upstream HTTP: ${message}`);
  }
}

export function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The signal has been aborted", "AbortError");
}
