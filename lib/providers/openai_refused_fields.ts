// Optional parameters an OpenAI-compatible server may refuse by name: Groq's models that do not
// reason refuse reasoning_effort, OpenAI's reasoning models (through a "custom" upstream)
// max_tokens and temperature, servers that validate against an older schema what came later.
// Named in a 400, they are left out of that upstream's requests from then on
// (lib/refused_fields.ts learns them); the request is still the one the client sent without them.
import { MAX_FUNCTIONS } from "./deferred_tools.ts";

/**
 * What the proxy adds to ask for a setting, never for the content itself; and the two names of
 * the output limit, a refused one of which goes under the other (OpenAI's reasoning models refuse
 * max_tokens, older servers max_completion_tokens).
 */
const OPTIONAL = [
  "max_tokens",
  "max_completion_tokens",
  "reasoning_effort",
  "top_k",
  "user",
  "stream_options",
  "parallel_tool_calls",
  "temperature",
  "top_p",
  "stop",
  "thinking",
];

const REFUSAL =
  /not supported|unsupported|(?:does not|doesn't) support|unrecognized|unknown|not permitted|not allowed|extra (?:inputs|fields)|invalid (?:parameter|argument)|must be one of/i;

/**
 * A field named as a parameter: quoted (not as a role, "'user' role is not supported"), after
 * "parameter:", or as a path before a colon; by its own name or in camelCase, as xAI names it
 * ("does not support parameter reasoningEffort").
 */
const NAMED = new Map(
  OPTIONAL.map((f) => {
    const name = `(?:${f}|${f.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())})`;
    return [
      f,
      new RegExp(
        `['"\`]${name}['"\`](?! (?:role|message))|(?:parameter|argument|field|property)s?(?: supplied)?:?\\s+${name}\\b|(?:^|[\\s.])${name}: `,
        "i",
      ),
    ];
  }),
);

/**
 * Not a field: a text-only model's refusal of images (llama.cpp without its projector, DeepSeek),
 * after which each image goes as a note, so that a session that once read an image goes on.
 */
export const IMAGES = "(images)";

/**
 * Not a field: structured output by schema, which DeepSeek's API (and hosts of its models in its
 * image) refuses, after which the schema is asked for in JSON mode and said in the prompt.
 */
export const JSON_MODE = "(json mode)";

const JSON_SCHEMA_REFUSED =
  /response_format type is unavailable|unknown variant `?json_schema|json_schema['"`]? (?:is )?not supported/i;

export const IMAGES_REFUSED =
  /image input is not supported|unknown variant `?image_url|(?:does not|doesn't) support (?:image|vision)|images? (?:input )?(?:is|are) not supported/i;

/**
 * Not a field either: more functions than the server takes (OpenAI's 128, and servers in front of
 * its models), after which the tools past that many are left out, and the model told which. Said
 * with the number the server named: `(tool limit 64)`.
 */
export const TOOL_LIMIT = "(tool limit";

const TOOL_LIMIT_REFUSED = /'?tools'?[^.]*array too long|too many tools|maximum of \d+ tools/i;

/** The number of functions a learned refusal allows; undefined when none was learned. */
export function toolLimitOf(refused: readonly string[] | undefined): number | undefined {
  const entry = refused?.find((f) => f.startsWith(TOOL_LIMIT));
  return entry === undefined ? undefined : Number(/\d+/.exec(entry)?.[0] ?? MAX_FUNCTIONS);
}

/** The optional parameters a 400's message says the upstream refuses; undefined if none. */
export function openaiRefusedFields(whole: string): string[] | undefined {
  const message = whole.slice(0, 4096);
  if (IMAGES_REFUSED.test(message)) return [IMAGES];
  if (TOOL_LIMIT_REFUSED.test(message)) {
    const n = Number(/maximum (?:length|of) (\d+)/i.exec(message)?.[1]);
    return [`${TOOL_LIMIT} ${n > 0 && n < MAX_FUNCTIONS ? n : MAX_FUNCTIONS})`];
  }
  // Ollama turns reasoning_effort into its `think`, which a model that cannot think refuses, and
  // one that thinks only on or off refuses as a level ('think value "high" is not supported').
  if (/does not support thinking|\bthink value\b.{0,40}\bnot supported/i.test(message)) {
    return ["reasoning_effort"];
  }
  if (JSON_SCHEMA_REFUSED.test(message)) return [JSON_MODE];
  if (!REFUSAL.test(message)) return undefined;
  // "Use 'max_completion_tokens' instead" names the way out, not a refusal.
  const instead = /\buse ['"`]?(\w+)['"`]? instead/i.exec(message)?.[1];
  const named = OPTIONAL.filter((f) => f !== instead && NAMED.get(f)!.test(message));
  return named.length ? named : undefined;
}
