# make-pickle-fixtures.py: writes the pickles that the restricted decoder's
# tests read, with the real pickle modules of Python 2 and 3 and real numpy.
#
# The decoder (Sources/SwiftNet/Data/RestrictedPickleDecoder*.swift) must read
# what real files contain, so its fixtures are not built by hand: each is
# written by one interpreter with one numpy at one protocol, and named for
# them: <kind>-py<python>-np<numpy>-p<protocol>.pkl.gz.  The committed files in
# Tests/Fixtures/Pickles/ were made on 2026-12-02 by
#
#   PYTHONPATH=/tmp/py2np ~/.pyenv/versions/2.7.18/bin/python \
#       scripts/make-pickle-fixtures.py Tests/Fixtures/Pickles
#       (Python 2.7.18, cPickle, numpy 1.16.6 from `pip install --target
#       /tmp/py2np numpy==1.16.6`; protocols 0, 1 and 2)
#   /tmp/np1venv/bin/python scripts/make-pickle-fixtures.py Tests/...
#       (Python 3.11.7, numpy 1.26.4 in a venv; protocols 0 to 5)
#   python3 scripts/make-pickle-fixtures.py Tests/...
#       (Python 3.11.7, numpy 2.4.6; protocols 0 to 5)
#
# Kinds (the Swift tests, PickleFixtureTests.swift, compute the same values):
#   mnist:  ((x, y), (x, y), (x, y)) as network3's mnist.pkl.gz, with 2, 1 and
#           1 images of 784 float32 pixels; pixel i of image n of split s is
#           ((s + 3n + i) % 256) / 256, its label (s + n) % 10 as int64.
#   params: one pickle of [(w1, b1), (w2, b2)]: w1 float32 (2, 1, 3, 3),
#           b1 float32 (2,), w2 float64 (4, 3), b2 float64 (3,); element i of
#           each is ((37 i) % 101 - 50) / 16, except w1's first three, whose bit
#           patterns hold the bytes ' \ newline " CR 0x1a 0x80 0xff that
#           protocol 0 must escape, and w2's first, likewise as a float64.
#   seed:   network3's own format, one pickle of each array in turn, for
#           `cnn import-network3 --layers 'conv 2 5x5, pool 2, softmax 10'`: w
#           (2, 1, 5, 5), b (2,), w (288, 10), b (10,), float32, element i of
#           each ((i % 17) - 8) / 64.  Python 3 only (protocols 4 and 5).
#
# Each file is gzipped with a zero time stamp, so rerunning the script gives
# the same bytes.  It runs under Python 2 and 3 alike.  The folder lies
# outside Tests/SwiftNetTests so that SwiftPM, which warns about any file in a
# target it is not told of, never sees the fixtures; the tests find them
# from their own #filePath.

import gzip
import io
import sys

import numpy as np

if sys.version_info[0] == 2:
    import cPickle as pickle
    protocols = [0, 1, 2]
else:
    import pickle
    protocols = list(range(0, pickle.HIGHEST_PROTOCOL + 1))


def mnist():
    splits = []
    for s, count in enumerate([2, 1, 1]):
        x = np.array([[((s + 3 * n + i) % 256) / 256.0 for i in range(784)] for n in range(count)], dtype=np.float32)
        y = np.array([(s + n) % 10 for n in range(count)], dtype=np.int64)
        splits.append((x, y))
    return tuple(splits)


def values(count, dtype):
    return np.array([((37 * i) % 101 - 50) / 16.0 for i in range(count)], dtype=dtype)


def params():
    w1 = values(18, np.float32)
    w1[:3] = np.array([0x220a5c27, 0x1a0d0080, 0xff7f5c0a], dtype=np.uint32).view(np.float32)
    w2 = values(12, np.float64)
    w2[:1] = np.array([0x0a5c27220d1a80ff], dtype=np.uint64).view(np.float64)
    return [(w1.reshape(2, 1, 3, 3), values(2, np.float32)), (w2.reshape(4, 3), values(3, np.float64))]


def seed():
    shapes = [(2, 1, 5, 5), (2,), (288, 10), (10,)]
    return [np.array([((i % 17) - 8) / 64.0 for i in range(int(np.prod(shape)))], dtype=np.float32).reshape(shape)
            for shape in shapes]


def write(path, data):
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as f:
        f.write(data)
    with open(path, "wb") as f:
        f.write(buffer.getvalue())


def main(folder):
    tag = "py%d.%d-np%s" % (sys.version_info[0], sys.version_info[1], np.__version__)
    for protocol in protocols:
        write("%s/mnist-%s-p%d.pkl.gz" % (folder, tag, protocol), pickle.dumps(mnist(), protocol))
        write("%s/params-%s-p%d.pkl.gz" % (folder, tag, protocol), pickle.dumps(params(), protocol))
        if sys.version_info[0] == 3 and protocol >= 4:
            write("%s/seed-%s-p%d.pkl.gz" % (folder, tag, protocol),
                  b"".join(pickle.dumps(array, protocol) for array in seed()))


if __name__ == "__main__":
    main(sys.argv[1])
