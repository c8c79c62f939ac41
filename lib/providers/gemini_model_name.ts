/** Gemini's listings (and configs copied from them) name a model `models/<id>`. */
export function modelName(model: string): string {
  return model.replace(/^models\//, "");
}
