#!/usr/bin/env python3
"""Packs a model2vec model (tokenizer.json + model.safetensors with one
F32 "embeddings" matrix) into the compact form cass embeds in its binary:

    magic    8 bytes  b"CASSM2V1"
    rows     u32 LE   vocabulary size
    dims     u32 LE   vector width
    median   u32 LE   median token length in characters (model2vec cuts
                      inputs at max_tokens x median before tokenizing)
    scales   rows x f32 LE   per-row scale: max |x| / 127
    values   rows x dims x i8  round(x / scale)

Per-row int8 keeps every token vector within 0.4 % of its f32 form (a
quarter of the f32 size), which moves a sentence vector's cosine to the
f32 one by less than 1e-4.

Usage: pack-static-model.py MODEL_DIR OUT_DIR
(standard library only, so it runs on any Python 3).
"""
import array
import json
import os
import shutil
import statistics
import struct
import sys


def main(src, out):
    with open(os.path.join(src, "model.safetensors"), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        meta = header["embeddings"]
        if meta["dtype"] != "F32":
            sys.exit(f"expected F32 embeddings, found {meta['dtype']}")
        rows, dims = meta["shape"]
        start, end = meta["data_offsets"]
        f.seek(8 + n + start)
        data = array.array("f")
        data.frombytes(f.read(end - start))
    if sys.byteorder != "little":
        data.byteswap()
    tok = json.load(open(os.path.join(src, "tokenizer.json"), encoding="utf-8"))
    vocab = tok["model"]["vocab"]
    if len(vocab) != rows:
        sys.exit(f"tokenizer has {len(vocab)} tokens, matrix {rows} rows")
    # model2vec's median over the vocabulary's token strings, as written.
    median = int(statistics.median(len(t) for t in vocab))

    scales = array.array("f")
    values = bytearray(rows * dims)
    for r in range(rows):
        row = data[r * dims:(r + 1) * dims]
        m = max(abs(x) for x in row)
        s = m / 127.0 if m > 0 else 1.0
        scales.append(s)
        for c, x in enumerate(row):
            q = max(-127, min(127, round(x / s)))
            values[r * dims + c] = q & 0xFF
    if sys.byteorder != "little":
        scales.byteswap()
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "embeddings.i8"), "wb") as f:
        f.write(b"CASSM2V1")
        f.write(struct.pack("<III", rows, dims, median))
        f.write(scales.tobytes())
        f.write(bytes(values))
    shutil.copyfile(os.path.join(src, "tokenizer.json"), os.path.join(out, "tokenizer.json"))
    print(f"{rows} x {dims}, median token length {median}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
