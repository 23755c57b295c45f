"""export-digits.py: scikit-learn's 8x8 digits in network3's pickle layout.

Reads digits.csv.gz (64 values 0..16 then the label, per line), shuffles the
1,797 images with random.Random(0), splits them 1,197 / 300 / 300, and
writes ((train_x, train_y), (val_x, val_y), (test_x, test_y)) as network3's
mnist.pkl.gz holds MNIST: float32 rows of 784 values in [0, 1) that are
whole 256ths, int64 labels, pickle protocol 2, gzipped.  Each 8x8 grid is
scaled to a 20x20 box by linear interpolation between pixel centres (edges
held) and centred in 28x28, the size and margin of MNIST's digits.

Usage: export-digits.py DIGITS_CSV_GZ OUT_PKL_GZ
"""
import gzip
import pickle
import random
import sys

import numpy as np


def upscale(grid):
    """8x8 values in [0, 1] to a 20x20 box centred in 28x28."""
    out = np.zeros((28, 28), dtype=np.float64)
    scale = 8 / 20
    for y in range(20):
        sy = min(max((y + 0.5) * scale - 0.5, 0), 7)
        y0 = int(sy); fy = sy - y0; y1 = min(y0 + 1, 7)
        for x in range(20):
            sx = min(max((x + 0.5) * scale - 0.5, 0), 7)
            x0 = int(sx); fx = sx - x0; x1 = min(x0 + 1, 7)
            top = grid[y0][x0] * (1 - fx) + grid[y0][x1] * fx
            bottom = grid[y1][x0] * (1 - fx) + grid[y1][x1] * fx
            out[4 + y, 4 + x] = top * (1 - fy) + bottom * fy
    # Whole 256ths below 1, as the seed's pickle holds its pixels.
    return np.minimum(np.round(out * 255), 255).astype(np.float32) / 256


def main():
    rows = [line.split(",") for line in gzip.open(sys.argv[1], "rt").read().splitlines() if line]
    images = [[[int(v) / 16 for v in row[r * 8:(r + 1) * 8]] for r in range(8)] for row in rows]
    labels = [int(row[64]) for row in rows]
    order = list(range(len(rows)))
    random.Random(0).shuffle(order)
    splits = []
    for part in (order[:1197], order[1197:1497], order[1497:]):
        x = np.stack([upscale(images[i]).reshape(784) for i in part]).astype(np.float32)
        y = np.array([labels[i] for i in part], dtype=np.int64)
        splits.append((x, y))
    with gzip.open(sys.argv[2], "wb") as f:
        pickle.dump(tuple(splits), f, protocol=2)


if __name__ == "__main__":
    main()
