// The shape a Messages request must have before it is worth sending upstream. Shallow on purpose:
// content blocks are checked by the translators, and deep validation would cost on every request.
import { z } from "zod";
import { isObject } from "./json_value.ts";

const message = z.looseObject({
  role: z.enum(["user", "assistant", "system"], {
    message: "role must be user, assistant or system",
  }),
  // Blocks are checked by the translators; checking each here again costs on every request.
  content: z.union([z.string(), z.array(z.unknown())], {
    message: "content must be a string or an array of content blocks",
  }),
});

const common = {
  model: z.string({ message: "model: a string is required" }).min(1, "model must not be empty"),
  messages: z.array(message, { message: "messages: an array is required" }),
  system: z.union([z.string(), z.array(z.looseObject({ type: z.string(), text: z.string() }))], {
    message: "system must be a string or an array of text blocks",
  }).optional(),
  tools: z.array(
    z.looseObject({ name: z.string().optional(), type: z.string().optional() })
      .refine(namedOrToolset, "each tool needs a name (a toolset, its type)")
      .refine(schemaIfCustom, "a tool of the client's own needs an input_schema object"),
  ).optional(),
  tool_choice: z.looseObject({ type: z.enum(["auto", "any", "tool", "none"]) }).refine(
    namedIfTool,
    "a tool_choice of type tool names the tool",
  ).optional(),
  thinking: z.looseObject({
    type: z.string(),
    budget_tokens: z.number().int("must be a whole number").min(0).optional(),
  }).optional(),
};

export const MessagesRequestSchema = z.looseObject({
  ...common,
  max_tokens: z.number({ message: "max_tokens: a number is required" })
    .int("max_tokens must be a whole number").min(0, "max_tokens must be 0 or more"),
  stream: z.boolean().optional(),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
});

export const CountTokensRequestSchema = z.looseObject(common);

/** Toolsets (`mcp_toolset`, `computer_toolset_…`) stand for many tools and carry no name. */
function namedOrToolset(t: { name?: unknown; type?: unknown }): boolean {
  return (typeof t.name === "string" && t.name.length > 0) ||
    (typeof t.type === "string" && t.type.includes("toolset"));
}

/** A tool of the client's own (no type, or `custom`) says what it takes; Anthropic's do not. */
function schemaIfCustom(t: { type?: unknown; input_schema?: unknown }): boolean {
  return (t.type !== undefined && t.type !== "custom") || isObject(t.input_schema);
}

function namedIfTool(c: { type?: unknown; name?: unknown }): boolean {
  return c.type !== "tool" || (typeof c.name === "string" && c.name.length > 0);
}

const ROLES = new Set(["user", "assistant", "system"]);
const TOOL_CHOICES = new Set(["auto", "any", "tool", "none"]);

function optional(v: unknown, check: (v: unknown) => boolean): boolean {
  return v === undefined || check(v);
}

const isString = (v: unknown) => typeof v === "string";
const inRange = (min: number, max: number) => (v: unknown) =>
  typeof v === "number" && v >= min && v <= max;
const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * The schema's rules written out, for the valid requests that make nearly all traffic: zod copies
 * every object it checks, which cost more than the rest of a small request's translation. It
 * accepts only what the schema accepts; anything else goes to zod, whose issues are the answer.
 */
export function plainlyValid(body: Record<string, unknown>, withMaxTokens: boolean): boolean {
  if (typeof body.model !== "string" || body.model.length === 0) return false;
  const messages = body.messages;
  if (!Array.isArray(messages)) return false;
  for (const m of messages) {
    if (!isObject(m) || !ROLES.has(m.role as string)) return false;
    if (typeof m.content !== "string" && !Array.isArray(m.content)) return false;
  }
  const system = body.system;
  if (system !== undefined && typeof system !== "string") {
    if (!Array.isArray(system)) return false;
    for (const b of system) {
      if (!isObject(b) || typeof b.type !== "string" || typeof b.text !== "string") return false;
    }
  }
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) return false;
    for (const t of body.tools) {
      if (!isObject(t) || !optional(t.name, isString) || !optional(t.type, isString)) return false;
      if (!namedOrToolset(t) || !schemaIfCustom(t)) return false;
    }
  }
  const choice = body.tool_choice;
  if (
    choice !== undefined &&
    !(isObject(choice) && TOOL_CHOICES.has(choice.type as string) && namedIfTool(choice))
  ) {
    return false;
  }
  const thinking = body.thinking;
  if (
    thinking !== undefined &&
    !(isObject(thinking) && typeof thinking.type === "string" &&
      optional(thinking.budget_tokens, isCount))
  ) {
    return false;
  }
  if (!withMaxTokens) return true;
  return isCount(body.max_tokens) &&
    optional(body.stream, (v) => typeof v === "boolean") &&
    optional(body.stop_sequences, (v) => Array.isArray(v) && v.every(isString)) &&
    optional(body.temperature, inRange(0, 2)) &&
    optional(body.top_p, inRange(0, 1)) &&
    optional(body.top_k, isCount);
}

/** Zod issues as one readable sentence for an invalid_request_error. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.slice(0, 5).map((i) => {
    const path = i.path.join(".");
    return path && !i.message.startsWith(path) ? `${path}: ${i.message}` : i.message;
  }).join("; ");
}

/** Every content block is an object with a `type`; returns a problem, or undefined. */
export function contentBlockProblem(messages: Array<{ content: unknown }>): string | undefined {
  for (let i = 0; i < messages.length; i++) {
    const content = messages[i].content;
    if (!Array.isArray(content)) continue;
    for (let j = 0; j < content.length; j++) {
      const b = content[j];
      if (!b || typeof b !== "object" || typeof (b as { type?: unknown }).type !== "string") {
        return `messages.${i}.content.${j}: a content block must be an object with a type`;
      }
    }
  }
  return undefined;
}
