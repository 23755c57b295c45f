#!/usr/bin/env python3
"""bench/ort_infer.py: ONNX Runtime classifying MNIST's 10,000 test images with a SwiftNet export.

bench/compare runs it on the models `cnn export-onnx` writes for networks A
and B, so that ONNX Runtime is timed on the same model, the same images and
the same thread count as `cnn bench`'s evaluation.  The images go in as the
model's doc string says (pixel = byte / 256).  Each batch size in --batches
is timed --reps times (whole passes over the test set, forward + argmax,
after one warm-up pass); it prints one JSON line per batch size with the
median, and a summary line with the fastest batch size's median, which is
the figure bench/compare reports (the best we found for the peer).  It also
prints the model's test accuracy, so a wrong export cannot look fast.

    ort_infer.py --model A.onnx --data data/mnist.pkl.gz --threads 2
"""
import argparse
import gzip
import json
import pickle
import statistics
import time

import numpy as np
import onnxruntime as ort


def test_images(path):
    with gzip.open(path, "rb") as handle:
        _, _, (images, labels) = pickle.load(handle, encoding="latin1")
    # The pickle's floats are already byte / 256.
    return np.asarray(images, dtype=np.float32).reshape(-1, 1, 28, 28), np.asarray(labels)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--batches", default="100,1000,10000")
    args = parser.parse_args()

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    images, labels = test_images(args.data)

    def classify(batch):
        return np.concatenate([session.run(None, {"input": images[i:i + batch]})[0].argmax(axis=1)
                               for i in range(0, len(images), batch)])

    results = []
    for batch in map(int, args.batches.split(",")):
        predicted = classify(batch)  # warm-up, and the accuracy
        walls = []
        for _ in range(args.reps):
            start = time.perf_counter()
            classify(batch)
            walls.append(time.perf_counter() - start)
        median = statistics.median(walls)
        result = dict(batch=batch, median_s=round(median, 5), img_per_s=round(len(images) / median, 1),
                      all_s=[round(w, 5) for w in walls], accuracy=float((predicted == labels).mean()))
        results.append(result)
        print(json.dumps(result), flush=True)
    best = min(results, key=lambda r: r["median_s"])
    print(json.dumps(dict(summary=True, onnxruntime=ort.__version__, threads=args.threads, **best)))


if __name__ == "__main__":
    main()
