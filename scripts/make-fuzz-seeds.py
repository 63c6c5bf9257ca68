#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus (Fuzz/Corpus/TARGET/*): small valid inputs of every reader,
written here independently of the Swift code, so the fuzzer starts from inputs that parse."""
import os
import struct

root = os.path.join(os.path.dirname(__file__), "..", "Fuzz", "Corpus")


def put(target, name, data):
    os.makedirs(os.path.join(root, target), exist_ok=True)
    with open(os.path.join(root, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def npy(descr, shape, payload, version=1):
    text = "(%s,)" % shape[0] if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, text)
    prefix = 10 if version == 1 else 12
    header += " " * ((64 - (prefix + len(header) + 1) % 64) % 64) + "\n"
    length = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header.encode() + payload


put("npy", "f4-2x3", npy("<f4", (2, 3), struct.pack("<6f", 1, 2, 3, -4, 0.5, 1e4)))
put("npy", "f8be-3", npy(">f8", (3,), struct.pack(">3d", 0.25, -1, 7)))
put("npy", "i8-4", npy("<i8", (4,), struct.pack("<4q", 0, 1, 2, -100)))
put("npy", "u1-2x1-v2", npy("|u1", (2, 1), bytes([3, 4]), version=2))

put("text", "matrix.csv", "# logits\n1,2,3\n-4.5,0,1e3\n")
put("text", "spaces.txt", "x y\n1 2\n3\t4\n")
put("text", "labels-crlf.txt", "\ufeff0\r\n1\r\n-100\r\n")

put("shapes", "default", "4096x1000,1024x32000,256x128000,65536x10")
put("shapes", "one", "1X1")

put("dataset-csv", "iris-like", bytes([1]) + b"a,b,species\n5.1,3.5,setosa\n4.9,3,setosa\n6.3,2.9,virginica\n")
put("dataset-csv", "integers", bytes([17]) + b"0.5,1,0\n0.25,2,1\n1,1,2\n0,0,0\n")


def fnv(words):
    h = 14695981039346656037
    for w in words:
        h = ((h ^ w) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return (h ^ (h >> 32)) & 0xFFFFFFFF


def record(key, time, step, epoch, value, flags):
    k = key.encode()
    size = (48 + len(k) + 7) & ~7
    body = struct.pack("<dqqdII", time, step, epoch, value, flags, len(k)) + k
    body += b"\0" * (size - 8 - len(body))
    words = struct.unpack("<%dQ" % ((size - 8) // 8), body)
    return struct.pack("<II", size, fnv(words)) + body


journal = record("step_loss", 1.7959e9, 1, 0, 2.3, 7) + record("val_acc", 1.7959e9, 10, 1, 0.9, 6)
journal += record("finished\n", 1.7959e9, 0, 0, 0, 8) + b"\0" * 64
put("journal", "rows-and-end", journal)
put("journal", "torn", journal[:70])
