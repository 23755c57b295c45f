"""torch_relu_bn.py: the README's ReLU + batch-norm network in PyTorch, for accuracy beside SwiftNet's.

SwiftNet's `--layers "conv 20 5x5 relu, batchnorm, pool 2, fc 100 relu, softmax 10"`
written layer for layer: a valid 5x5 convolution with ReLU, batch norm over
each channel (momentum 0.1, epsilon 1e-5, as SwiftNet's defaults), 2x2 max
pooling, a dense ReLU layer of 100 and a softmax output, trained by plain
SGD on the mean negative log-likelihood, mini-batches in data order as the
seed takes them.  It reads any pickle in network3's layout (../shared/peers
use the same) and prints one JSON line per epoch and a last line with the
best validation accuracy and the test accuracy at that epoch (ties go to
the later epoch, as the seed's >= does).  PyTorch's initialisation is its
own, so accuracies agree only as far as initialisation allows.

Usage: python torch_relu_bn.py --data data/digits.pkl.gz --epochs 30 --eta 0.03 --threads 2
"""
import argparse
import gzip
import json
import pickle
import time

import numpy as np
import torch


def load(path):
    with gzip.open(path, "rb") as f:
        splits = pickle.load(f, encoding="latin1")
    return [(torch.from_numpy(np.asarray(x, dtype=np.float32)).view(-1, 1, 28, 28),
             torch.from_numpy(np.asarray(y, dtype=np.int64))) for x, y in splits]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--eta", type=float, default=0.03)
    ap.add_argument("--mb", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    (tx, ty), (vx, vy), (sx, sy) = load(a.data)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 20, 5), torch.nn.ReLU(), torch.nn.BatchNorm2d(20, eps=1e-5, momentum=0.1),
        torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(20 * 12 * 12, 100), torch.nn.ReLU(),
        torch.nn.Linear(100, 10))
    optimiser = torch.optim.SGD(net.parameters(), lr=a.eta)
    best = (-1.0, -1, 0.0)

    def accuracy(x, y):
        net.eval()
        with torch.no_grad():
            return (net(x).argmax(1) == y).float().mean().item()

    for epoch in range(a.epochs):
        net.train()
        started = time.perf_counter()
        for start in range(0, len(tx) - a.mb + 1, a.mb):
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(tx[start:start + a.mb]), ty[start:start + a.mb])
            loss.backward()
            optimiser.step()
        seconds = time.perf_counter() - started
        validation = accuracy(vx, vy)
        if validation >= best[0]:
            best = (validation, epoch, accuracy(sx, sy))
        print(json.dumps({"epoch": epoch, "val_acc": round(validation, 4), "epoch_s": round(seconds, 3)}))
    print(json.dumps({"best_val_acc": round(best[0], 4), "best_epoch": best[1], "test_acc_at_best": round(best[2], 4),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
