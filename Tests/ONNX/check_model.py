#!/usr/bin/env python3
"""check_model.py: an exported SwiftNet model, checked by onnx and run by ONNX Runtime.

Called by Tests/SwiftNetTests/ONNXExportTests.swift with the Python of
.venv-onnx (scripts/install-onnx-python.sh).  It runs onnx.checker with
full_check (shape inference included), then classifies the images in
PIXELS (uint8, N x C x H x W, the network's layout) with ONNX Runtime on
one thread, feeding pixel = byte / 256 as the model's doc string says, and
compares the output with SwiftNet's probabilities in EXPECTED (float32,
little-endian, N x classes).  It prints one JSON line of what it found;
the Swift test makes the assertions.  Exit status 1 means the model was
refused, with onnx's or ONNX Runtime's message on stderr.

    check_model.py MODEL PIXELS EXPECTED
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main():
    model_path, pixels_path, expected_path = sys.argv[1:4]
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    (model_input,), (model_output,) = session.get_inputs(), session.get_outputs()
    channels, height, width = model_input.shape[1:]
    pixels = np.fromfile(pixels_path, dtype=np.uint8).reshape(-1, channels, height, width)
    expected = np.fromfile(expected_path, dtype="<f4").reshape(pixels.shape[0], -1)
    got = session.run(None, {model_input.name: pixels.astype(np.float32) / 256})[0]

    print(json.dumps({
        "opset": model.opset_import[0].version,
        "ir_version": model.ir_version,
        "producer": f"{model.producer_name} {model.producer_version}",
        "doc_string": model.doc_string,
        "metadata": {entry.key: entry.value for entry in model.metadata_props},
        "input": [model_input.name, model_input.shape],
        "output": [model_output.name, model_output.shape],
        "count": int(pixels.shape[0]),
        "output_shape": list(got.shape),
        "max_abs_diff": float(np.abs(got - expected).max()),
        "same_top_class": int((got.argmax(axis=1) == expected.argmax(axis=1)).sum()),
        "row_sum_max_error": float(np.abs(got.sum(axis=1) - 1).max()),
    }))


if __name__ == "__main__":
    main()
