// A structured output the upstream will not hold the answer to (DeepSeek's JSON mode without
// schemas, Gemini 2.x beside function calling, an Anthropic-compatible server that refuses
// `output_config`) goes to the model in words: left out unsaid, the client that parses the answer
// as JSON gets prose.
import { type MessagesRequest, outputFormat } from "../anthropic.ts";
import { flat } from "../flat_string.ts";

/** The schema of the structured output the client asks for, if it asks for one. */
export function outputSchema(body: MessagesRequest): unknown {
  const format = outputFormat(body);
  return format?.type === "json_schema" && format.schema ? format.schema : undefined;
}

/** Added to the system prompt; JSON mode also needs it ("json" in the prompt). */
export function structuredOutputNotice(schema: unknown): string {
  return flat(
    "Answer with a single JSON object and nothing else. It must follow this JSON schema:\n",
    JSON.stringify(schema),
  );
}
