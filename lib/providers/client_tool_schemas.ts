// Anthropic-defined client tools (bash, the text editor, memory, computer use) come as a type and a
// name without a schema: Claude knows them by heart, other models do not. The client runs them, so a
// translated upstream can offer them as plain functions once it is told what each one takes.
import { isObject } from "../json_value.ts";

/** A client tool in the shape of a custom one. */
export interface ClientToolSpec {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
}

type Obj = Record<string, unknown>;

const text = (description: string): Obj => ({ type: "string", description });
const integer = (description: string): Obj => ({ type: "integer", description });
const integers = (count: number, description: string): Obj => ({
  type: "array",
  items: { type: "integer" },
  minItems: count,
  maxItems: count,
  description,
});
const oneOf = (values: readonly string[], description: string): Obj => ({
  type: "string",
  enum: values,
  description,
});

function bash(name: string): ClientToolSpec {
  return {
    name,
    description: "Runs a command in a bash shell on the user's machine and returns its output. " +
      "The shell persists between calls (working directory, environment, running processes).",
    input_schema: {
      type: "object",
      properties: {
        command: text("The command to run. Needed unless restart is true."),
        restart: { type: "boolean", description: "true restarts the shell; leave out otherwise." },
      },
    },
  };
}

const EDITOR_COMMANDS = ["view", "create", "str_replace", "insert"] as const;

function textEditor(name: string, undo: boolean): ClientToolSpec {
  const commands = undo ? [...EDITOR_COMMANDS, "undo_edit"] : EDITOR_COMMANDS;
  return {
    name,
    description: "Views, creates and edits text files on the user's machine. view shows a file " +
      "with line numbers, or lists a directory; create writes a new file; str_replace replaces " +
      "the one exact occurrence of old_str with new_str; insert puts new_str after line " +
      `insert_line${undo ? "; undo_edit reverts the last edit of the file" : ""}.`,
    input_schema: {
      type: "object",
      properties: {
        command: oneOf(commands, "What to do."),
        path: text("Absolute path of the file or directory."),
        view_range: integers(
          2,
          "view of a file only: first and last line to show, from 1; -1 as the last means to the end.",
        ),
        file_text: text("create: the content of the new file."),
        old_str: text("str_replace: the text to replace, exactly as in the file, whitespace too."),
        new_str: text("str_replace: the text that replaces old_str. insert: the text to insert."),
        insert_line: integer("insert: the line after which to insert (0 for the file's start)."),
      },
      required: ["command", "path"],
    },
  };
}

function memory(name: string): ClientToolSpec {
  return {
    name,
    description: "Reads and writes files in the /memories directory, which outlasts this " +
      "conversation. view shows a file or lists a directory; create writes a file; str_replace " +
      "replaces old_str by new_str; insert puts insert_text after line insert_line; delete " +
      "removes a file or directory; rename moves old_path to new_path.",
    input_schema: {
      type: "object",
      properties: {
        command: oneOf(
          ["view", "create", "str_replace", "insert", "delete", "rename"],
          "What to do.",
        ),
        path: text("Path under /memories (every command but rename)."),
        view_range: integers(2, "view of a file only: first and last line to show."),
        file_text: text("create: the content of the file."),
        old_str: text("str_replace: the exact text to replace."),
        new_str: text("str_replace: the text that replaces old_str."),
        insert_line: integer("insert: the line after which to insert."),
        insert_text: text("insert: the text to insert."),
        old_path: text("rename: the current path."),
        new_path: text("rename: the new path."),
      },
      required: ["command"],
    },
  };
}

const COMPUTER_2024 = [
  "key",
  "type",
  "mouse_move",
  "left_click",
  "left_click_drag",
  "right_click",
  "middle_click",
  "double_click",
  "screenshot",
  "cursor_position",
];
const COMPUTER_2025 = [
  ...COMPUTER_2024,
  "hold_key",
  "left_mouse_down",
  "left_mouse_up",
  "triple_click",
  "scroll",
  "wait",
];

function computer(tool: Obj, name: string, version: 2024 | 2025 | 2026): ClientToolSpec {
  const zoom = version === 2026 && tool.enable_zoom === true;
  const actions = version === 2024
    ? COMPUTER_2024
    : zoom
    ? [...COMPUTER_2025, "zoom"]
    : COMPUTER_2025;
  const { display_width_px: w, display_height_px: h, display_number: n } = tool;
  const screen = typeof w === "number" && typeof h === "number" ? ` of ${w}x${h} pixels` : "";
  const display = typeof n === "number" ? ` (X11 display :${n})` : "";
  const properties: Obj = {
    action: oneOf(actions, "What to do."),
    coordinate: integers(
      2,
      "[x, y] in pixels from the top left: where to move, click or scroll" +
        (version === 2024 ? ", or where a drag ends." : "; where a drag ends."),
    ),
    text: text(
      "type: the text to type. key" + (version === 2024 ? "" : ", hold_key") +
        ': the key or combination, in xdotool syntax ("Return", "ctrl+s").' +
        (version === 2024 ? "" : " Clicks and scroll: modifier keys to hold down."),
    ),
  };
  if (version !== 2024) {
    properties.start_coordinate = integers(2, "left_click_drag: [x, y] where the drag starts.");
    properties.scroll_direction = oneOf(["up", "down", "left", "right"], "scroll: which way.");
    properties.scroll_amount = integer("scroll: how many steps.");
    properties.duration = { type: "number", description: "hold_key and wait: seconds." };
  }
  if (zoom) {
    properties.region = integers(4, "zoom: [x1, y1, x2, y2], the corners of the area to view.");
  }
  return {
    name,
    description: `Uses the user's computer screen${screen}${display} through the mouse and ` +
      "keyboard, and takes screenshots to see it.",
    input_schema: { type: "object", properties, required: ["action"] },
  };
}

/** Versioned types: the tool's kind, then the date of its version (`text_editor_20250728`). */
const VERSIONED = /^([a-z_]+)_(\d{8})$/;

/**
 * The client tool a typed tool stands for; undefined for server tools and unknown types. A later
 * version of a known kind reads as the latest one known.
 */
export function clientToolSpec(tool: unknown): ClientToolSpec | undefined {
  if (!isObject(tool) || typeof tool.type !== "string") return undefined;
  const [, kind, date] = VERSIONED.exec(tool.type) ?? [];
  const named = (fallback: string) =>
    typeof tool.name === "string" && tool.name ? tool.name : fallback;
  switch (kind) {
    case "bash":
      return bash(named("bash"));
    case "text_editor":
      return date < "20250429"
        ? textEditor(named("str_replace_editor"), true)
        : textEditor(named("str_replace_based_edit_tool"), false);
    case "memory":
      return memory(named("memory"));
    case "computer":
      return computer(
        tool,
        named("computer"),
        date < "20250124" ? 2024 : date < "20251124" ? 2025 : 2026,
      );
    default:
      return undefined;
  }
}

/**
 * What a translated upstream is offered for a tool: a custom tool as it came, a client tool as its
 * spec; undefined for a server tool, which only Anthropic runs.
 */
export function functionToolOf(tool: unknown): Obj | undefined {
  if (!isObject(tool)) return undefined;
  return tool.type && tool.type !== "custom" ? clientToolSpec(tool) as Obj | undefined : tool;
}
