// Anthropic's server tools (web search and fetch, code execution, tool search, the MCP connector)
// leave blocks in a conversation that only Anthropic reads. An upstream that cannot take them back
// gets what they said as text, so its model still knows what an earlier turn found or ran.
import { searchResultText } from "../anthropic.ts";
import { flat } from "../flat_string.ts";
import { isObject } from "../json_value.ts";
import { sliceWhole } from "../whole_chars.ts";

type Obj = Record<string, unknown>;

/** Characters kept of one text a tool gave (a fetched page, a program's output). */
export const MAX_TOOL_TEXT = 16_000;

const str = (v: unknown): string => typeof v === "string" ? v : "";

/** The non-empty strings under `key` of the objects in `list`, which may be no list at all. */
function stringsOf(list: unknown, key: string): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((item) => isObject(item) ? str(item[key]) : "").filter(Boolean);
}

/** At most MAX_TOOL_TEXT characters, cut between characters, saying what was left out. */
function capped(text: string): string {
  if (text.length <= MAX_TOOL_TEXT) return text;
  const kept = sliceWhole(text, MAX_TOOL_TEXT);
  return flat(kept, "\n[… ", String(text.length - kept.length), " more characters left out]");
}

/** A note the model reads as a record, not as words of its own to imitate. */
function note(...parts: string[]): string {
  return flat("[", ...parts, "]");
}

function errorNote(what: string, content: Obj): string {
  const message = str(content.error_message);
  return note(what, " failed: ", str(content.error_code) || "error", message ? ": " : "", message);
}

function inputText(input: unknown): string {
  return capped(typeof input === "string" ? input : JSON.stringify(input ?? {}));
}

function toolUseText(b: Obj): string {
  const name = str(b.name);
  const input = isObject(b.input) ? b.input : {};
  switch (name) {
    case "web_search":
      return note("Searched the web for ", JSON.stringify(str(input.query)));
    case "web_fetch":
      return note("Fetched ", str(input.url));
    case "code_execution":
      if (typeof input.code === "string") return note("Ran code:\n", capped(input.code));
      break;
    case "bash_code_execution":
      if (typeof input.command === "string") {
        return note("Ran in the sandbox shell: ", capped(input.command));
      }
      break;
  }
  if (name.startsWith("tool_search_tool_") && typeof input.query === "string") {
    return note("Searched the available tools for ", JSON.stringify(input.query));
  }
  return note("Used the ", name || "server", " tool: ", inputText(b.input));
}

function webSearchText(content: unknown): string {
  if (!Array.isArray(content)) {
    return isObject(content) ? errorNote("Web search", content) : note("Web search: no results");
  }
  const lines: string[] = [];
  for (const r of content) {
    if (!isObject(r)) continue;
    const url = str(r.url);
    const title = str(r.title);
    const age = str(r.page_age);
    lines.push(
      flat("- ", title && title !== url ? `${title} — ` : "", url, age ? ` (${age})` : ""),
    );
  }
  return lines.length
    ? note("Web search results:\n", lines.join("\n"))
    : note("Web search: no results");
}

/** A document's text; a PDF's bytes say nothing to a model reading text. */
function documentText(doc: Obj): string {
  const src = isObject(doc.source) ? doc.source : {};
  if (src.type === "text") return str(src.data);
  if (src.type === "content") {
    if (typeof src.content === "string") return src.content;
    if (Array.isArray(src.content)) return stringsOf(src.content, "text").join("\n");
  }
  if (src.type === "base64") {
    return `(a file of type ${str(src.media_type) || "unknown"}, not shown)`;
  }
  if (src.type === "url") return str(src.url);
  return "";
}

function webFetchText(content: unknown): string {
  if (!isObject(content)) return note("Fetched page: nothing");
  if (content.type !== "web_fetch_result") return errorNote("Fetching the page", content);
  const doc = isObject(content.content) ? content.content : {};
  const title = str(doc.title);
  return note(
    "Fetched page ",
    str(content.url),
    title ? ` "${title}"` : "",
    ":\n",
    capped(documentText(doc)),
  );
}

function files(content: unknown): string {
  const ids = stringsOf(content, "file_id");
  return ids.length ? `\nfiles written: ${ids.join(", ")}` : "";
}

function runText(content: unknown, what: string): string {
  if (!isObject(content)) return note(what, ": no output");
  const type = str(content.type);
  if (type.endsWith("_error")) return errorNote(what, content);
  const stdout = type === "encrypted_code_execution_result"
    ? "(output encrypted, not shown)"
    : str(content.stdout);
  const stderr = str(content.stderr);
  return note(
    what,
    typeof content.return_code === "number" ? ` (exit code ${content.return_code})` : "",
    ":\n",
    capped(stdout) || "(no output)",
    stderr ? "\nstderr:\n" : "",
    capped(stderr),
    files(content.content),
  );
}

function textEditorText(content: unknown): string {
  if (!isObject(content)) return note("Text editor: no result");
  switch (content.type) {
    case "text_editor_code_execution_view_result":
      return note("File content:\n", capped(str(content.content)));
    case "text_editor_code_execution_create_result":
      return note(content.is_file_update === true ? "File overwritten" : "File created");
    case "text_editor_code_execution_str_replace_result": {
      const lines = Array.isArray(content.lines) ? content.lines.filter((l) => str(l)) : [];
      return note("File edited", lines.length ? ":\n" : "", capped(lines.join("\n")));
    }
  }
  return errorNote("Text editor", content);
}

function toolSearchText(content: unknown): string {
  if (!isObject(content)) return note("Tool search: nothing found");
  if (content.type !== "tool_search_tool_search_result") return errorNote("Tool search", content);
  const names = stringsOf(content.tool_references, "tool_name");
  return names.length
    ? note("Tools found: ", names.join(", "))
    : note("Tool search: nothing found");
}

function mcpResultText(b: Obj): string {
  const content = b.content;
  const text = typeof content === "string" ? content : stringsOf(content, "text").join("\n");
  return note(b.is_error === true ? "MCP tool error:\n" : "MCP tool result:\n", capped(text));
}

/**
 * The text a server-tool block stands for; undefined for any other block, which the caller
 * translates as it does.
 */
export function serverToolText(b: Obj): string | undefined {
  switch (b.type) {
    case "server_tool_use":
      return toolUseText(b);
    case "web_search_tool_result":
      return webSearchText(b.content);
    case "web_fetch_tool_result":
      return webFetchText(b.content);
    case "code_execution_tool_result":
      return runText(b.content, "Code output");
    case "bash_code_execution_tool_result":
      return runText(b.content, "Shell output");
    case "text_editor_code_execution_tool_result":
      return textEditorText(b.content);
    case "tool_search_tool_result":
      return toolSearchText(b.content);
    case "tool_reference":
      // A client's own tool search loaded this tool: it is now among the functions offered.
      return note("Tool loaded: ", str(b.tool_name));
    case "search_result":
      return searchResultText(b);
    case "container_upload":
      return note("File ", str(b.file_id), " uploaded to the code execution container");
    case "mcp_tool_use":
      return note(
        "Called ",
        str(b.name),
        " on MCP server ",
        str(b.server_name),
        ": ",
        inputText(b.input),
      );
    case "mcp_tool_result":
      return mcpResultText(b);
  }
  return undefined;
}
