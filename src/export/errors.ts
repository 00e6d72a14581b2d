// the error an export throws: a layer with no ONNX form, or a model that
// cannot be written. `layer` is the layer's path in the model ("3",
// "layer1.0.conv1"; "" for the model itself).
export class ExportError extends Error {
  readonly code = 'ERR_EXPORT';
  constructor(readonly layer: string, message: string) {
    super(message);
    this.name = 'ExportError';
  }
}
