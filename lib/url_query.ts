/** The query of a request URL, `?` included, or ""; without parsing the URL on every request. */
export function queryOf(url: string): string {
  const at = url.indexOf("?");
  return at === -1 ? "" : url.slice(at);
}
