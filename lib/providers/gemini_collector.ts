// The non-streamed answer's sink: the assembler's writes gathered into content blocks.
import type { ResponseBlock, WebSearchResult } from "../anthropic.ts";
import { textBlock, toolUseBlock, webSearchBlocks } from "../answer_shape.ts";
import type { Sink } from "./gemini_answer.ts";

export class Collector implements Sink {
  blocks: ResponseBlock[] = [];
  openBlock: "text" | "thinking" | "tool" | null = null;
  searches = 0;

  /** Put first, where Anthropic puts a search: before the text written from its results. */
  webSearch(id: string, query: string, results: WebSearchResult[]): void {
    this.blocks.splice(this.searches * 2, 0, ...webSearchBlocks(id, query, results));
    this.searches++;
  }

  text(delta: string): void {
    if (!delta) return;
    const last = this.blocks[this.blocks.length - 1];
    if (this.openBlock === "text" && last?.type === "text") last.text += delta;
    else {
      this.blocks.push(textBlock(delta));
      this.openBlock = "text";
    }
  }

  thinking(delta: string): void {
    if (!delta) return;
    const last = this.blocks[this.blocks.length - 1];
    if (this.openBlock === "thinking" && last?.type === "thinking") last.thinking += delta;
    else {
      this.blocks.push({ type: "thinking", thinking: delta, signature: "" });
      this.openBlock = "thinking";
    }
  }

  signature(signature: string): void {
    const last = this.blocks[this.blocks.length - 1];
    if (this.openBlock === "thinking" && last?.type === "thinking") last.signature = signature;
    else {
      this.blocks.push({ type: "thinking", thinking: "", signature });
      this.openBlock = "thinking";
    }
  }

  tool(id: string, name: string, input: unknown): void {
    this.blocks.push(toolUseBlock(id, name, input));
    this.openBlock = null;
  }

  closeBlock(): void {
    this.openBlock = null;
  }
}
