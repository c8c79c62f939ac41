/** The query of a request URL, `?` included, or ""; without parsing the URL on every request. */
export function queryOf(url: string): string {
  const at = url.indexOf("?");
  return at === -1 ? "" : url.slice(at);
}

/** `url` with `query` (`?a=b`, or "") joined to the query it may already have. */
export function withQuery(url: string, query: string): string {
  if (!query) return url;
  return url.includes("?") ? `${url}&${query.slice(1)}` : url + query;
}

/**
 * A base URL's path and its query (`?key=…` for some gateways), apart: paths go on the path, and
 * the query stays at the end.
 */
export function splitQuery(url: string): { path: string; query: string } {
  const at = url.indexOf("?");
  return at === -1 ? { path: url, query: "" } : { path: url.slice(0, at), query: url.slice(at) };
}

/** A name as a URL path segment; a lone surrogate (which encodeURIComponent throws on) as U+FFFD. */
export function pathSegment(name: string): string {
  return encodeURIComponent(name.toWellFormed());
}
