// The shape a Messages request must have before it is worth sending upstream. Shallow on purpose:
// content blocks are checked by the translators, and deep validation would cost on every request.
import { z } from "zod";

const contentBlock = z.looseObject({ type: z.string() });

const message = z.looseObject({
  role: z.enum(["user", "assistant", "system"], {
    message: "role must be user, assistant or system",
  }),
  content: z.union([z.string(), z.array(contentBlock)], {
    message: "content must be a string or an array of content blocks",
  }),
});

const common = {
  model: z.string({ message: "model: a string is required" }).min(1, "model must not be empty"),
  messages: z.array(message, { message: "messages: an array is required" }),
  system: z.union([z.string(), z.array(z.looseObject({ type: z.string(), text: z.string() }))])
    .optional(),
  tools: z.array(z.looseObject({ name: z.string() })).optional(),
  tool_choice: z.looseObject({ type: z.enum(["auto", "any", "tool", "none"]) }).optional(),
  thinking: z.looseObject({ type: z.string() }).optional(),
};

export const MessagesRequestSchema = z.looseObject({
  ...common,
  max_tokens: z.number({ message: "max_tokens: a number is required" }).int().min(0),
  stream: z.boolean().optional(),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
});

export const CountTokensRequestSchema = z.looseObject(common);

/** Zod issues as one readable sentence for an invalid_request_error. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.slice(0, 5).map((i) => {
    const path = i.path.join(".");
    return path && !i.message.startsWith(path) ? `${path}: ${i.message}` : i.message;
  }).join("; ");
}
