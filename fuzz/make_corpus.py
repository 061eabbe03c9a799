#!/usr/bin/python3
"""Regenerates the seed corpora fuzz/corpus/<target>/ from the real files (issue #14).

Run from anywhere with Debian's python3 (python3-torch for torch_bin):
    /usr/bin/python3 fuzz/make_corpus.py [--glue DIR]
GLUE TSVs come from --glue (default: /work/shared/data/glue when present, else data/glue); the
tokenizer seeds from tests/data/tokenize/tricky-visible.tsv and GLUE sentences; safetensors and
pytorch_model.bin seeds are small subsets of tests/data/bert/random-4L-64H's real weights;
config seeds are that config.json and configs/**/*.toml. Each seed is a few KB; the harness
prefix bytes (task, split, options...) are documented in each fuzz/fuzz_<target>.cpp.
"""
import argparse, collections, json, os, shutil, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")
MODEL = os.path.join(ROOT, "tests", "data", "bert", "random-4L-64H")
# Order of glue::glue_task_names() (src/glue/tasks.cpp); 9 = custom.
TASKS = ["CoLA", "SST-2", "MRPC", "STS-B", "QQP", "MNLI", "QNLI", "RTE", "WNLI"]
SPLITS = {"train": 0, "dev": 1, "test": 2}


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def head_lines(data, n, limit=3000):
    lines = data.split(b"\n")
    out = b"\n".join(lines[:n])
    if len(lines) > n:
        out += b"\n"
    return out[:limit]


def tsv(glue):
    for task in sorted(os.listdir(glue)):
        if task not in TASKS:
            continue
        for split, s in SPLITS.items():
            path = os.path.join(glue, task, split + ".tsv")
            if not os.path.exists(path):
                continue
            data = open(path, "rb").read()
            pre = bytes([TASKS.index(task), s, 0, 0])
            put("tsv", f"{task}-{split}", pre + head_lines(data, 10))
            put("tsv", f"{task}-{split}-skip", bytes([TASKS.index(task), 0x80 | s, 0, 0]) +
                head_lines(data, 4))
            if task == "CoLA" and split == "dev":  # the file's end: no final newline
                put("tsv", "CoLA-dev-tail", pre + b"\n".join(data.split(b"\n")[-3:]))
            if task == "RTE" and split == "train":  # row 2164 starts with a lone quote
                lines = data.split(b"\n")
                put("tsv", "RTE-train-quote", pre + lines[0] + b"\n" + b"\n".join(lines[2164:2167]))
    # custom tasks: flags bit0 header, bit1 by name, bit2 regression, bit3 allow empty,
    # bit4 text_b, bit5 labels "0","1"; columns: 2 bits each for text_a, text_b, label.
    put("tsv", "custom-headed", bytes([9, 0, 0b110011, 0b00100000 | 0b0000]) +
        b"sentence\tlabel\nhello world\t1\nbad movie\t0\n")
    put("tsv", "custom-index", bytes([9, 0, 0b110000, (1 << 4) | (2 << 2) | 0]) +
        b"first text\t0\tsecond text\nanother\t1\tpair\n")
    put("tsv", "custom-regression", bytes([9, 0, 0b001101, (1 << 4)]) +
        b"a sentence\t3.5\n\t-1e3\n")
    put("tsv", "custom-test", bytes([9, 1, 0b000001, 0]) + b"sentence\nunlabeled\r\n")


def tokenizer(glue):
    rows = open(os.path.join(ROOT, "tests/data/tokenize/tricky-visible.tsv"), "rb").read()
    for i, line in enumerate(rows.split(b"\n")[1:]):
        if not line:
            continue
        # options: lowercase, strip accents default, clean text, chinese chars = 0b11001
        put("tokenizer", f"tricky-{i:02d}", bytes([0b11001, 125, 1]) + line)
        put("tokenizer", f"tricky-{i:02d}-cased-short", bytes([0b01110, 5, i & 1]) + line)
    for task in ("SST-2", "RTE", "MRPC", "QNLI"):
        path = os.path.join(glue, task, "dev.tsv")
        if os.path.exists(path):
            for j, line in enumerate(open(path, "rb").read().split(b"\n")[1:4]):
                cols = line.split(b"\t")
                text = b"\t".join(c for c in cols if len(c) > 12)[:1500]
                put("tokenizer", f"{task}-dev-{j}", bytes([0b11001, 64, 1]) + text)
    vocab = open(os.path.join(ROOT, "data/vocab/vocab.txt"), "rb").read().split(b"\n")
    small = b"\n".join(vocab[:120] + vocab[1996:2100] + [b"##s", b"##ing", b"\xc3\xa9"]) + b"\n"
    put("tokenizer", "vocab-small", b"\x80" + small + b"\0the [CLS] of and a \xc3\xa9t\xc3\xa9")
    put("tokenizer", "vocab-crlf", b"\x80[PAD]\r\n[UNK]\r\n")


def safetensors():
    raw = open(os.path.join(MODEL, "model.safetensors"), "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]

    def write(name, names, metadata=None, dtype_override=None):
        h, blob = {}, b""
        if metadata is not None:
            h["__metadata__"] = metadata
        for t in names:
            e = header[t]
            b, end = e["data_offsets"]
            chunk = data[b:end]
            h[t] = {"dtype": e["dtype"], "shape": e["shape"],
                    "data_offsets": [len(blob), len(blob) + len(chunk)]}
            blob += chunk
        text = json.dumps(h, separators=(",", ":")).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
        put("safetensors", name, struct.pack("<Q", len(text)) + text + blob)

    small = sorted(k for k, v in header.items() if k != "__metadata__" and
                   v["dtype"] and eval("*".join(map(str, v["shape"])) or "1") <= 128)
    write("layernorm", [k for k in small if "LayerNorm" in k][:4], header.get("__metadata__"))
    write("bias", [k for k in small if k.endswith("bias")][:6], {"format": "pt"})
    write("classifier", [k for k in small if "classifier" in k or "pooler" in k][:3])
    write("empty", [])
    put("safetensors", "header-only", struct.pack("<Q", 2) + b"{}")


def torch_bin():
    import torch
    sd = torch.load(os.path.join(MODEL, "pytorch_model.bin"), map_location="cpu")
    small = collections.OrderedDict((k, v) for k, v in sd.items() if v.numel() <= 128)
    keys = list(small)
    d = os.path.join(OUT, "torch_bin")
    os.makedirs(d, exist_ok=True)

    def save(name, state):
        torch.save(state, os.path.join(d, name))

    save("layernorm", collections.OrderedDict(list((k, small[k]) for k in keys if "LayerNorm" in k)[:3]))
    save("bias", collections.OrderedDict(list((k, small[k]) for k in keys if k.endswith("bias"))[:3]))
    base = torch.arange(24, dtype=torch.float32)
    save("views", collections.OrderedDict([("a", base), ("b", base[4:10]),
                                           ("c", base.view(4, 6).t()), ("d", base.view(2, 3, 4)[1])]))
    save("dtypes", collections.OrderedDict([("f64", torch.ones(3, dtype=torch.float64)),
                                            ("f16", torch.ones(2, 2, dtype=torch.float16)),
                                            ("i64", torch.arange(5)), ("b", torch.tensor([True, False])),
                                            ("scalar", torch.tensor(1.5))]))
    save("plain-dict", {"w": torch.zeros(2, 2), "empty": torch.zeros(0, 3)})


def config():
    put("config", "config.json", b"\0" + open(os.path.join(MODEL, "config.json"), "rb").read())
    put("config", "config-regression.json", b"\0" + json.dumps(
        {"hidden_size": 32, "num_attention_heads": 2, "num_hidden_layers": 1,
         "intermediate_size": 37, "num_labels": 1, "problem_type": "regression",
         "hidden_act": "gelu_new", "classifier_dropout": None}).encode())
    for dirpath, _, files in os.walk(os.path.join(ROOT, "configs")):
        for f in sorted(files):
            if f.endswith(".toml"):
                rel = os.path.relpath(os.path.join(dirpath, f), os.path.join(ROOT, "configs"))
                put("config", rel.replace("/", "-"), b"\1" + open(os.path.join(dirpath, f), "rb").read())
    put("config", "set-lines", b"\2" + b"\n".join([
        b"tokenize.task=SST-2", b"tokenize.max_seq_length=64", b"finetune.epochs=2",
        b"optimizer.learning_rate=2e-5", b"distill.loss.layer_map=skip",
        b"tokenize.custom.labels=[\"a\", \"b\"]", b"sweep.tasks=[\"RTE\"]"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = "/work/shared/data/glue"
    ap.add_argument("--glue", default=shared if os.path.isdir(shared) else os.path.join(ROOT, "data/glue"))
    ap.add_argument("targets", nargs="*", default=["tsv", "tokenizer", "safetensors", "torch_bin", "config"])
    args = ap.parse_args()
    for t in args.targets:
        shutil.rmtree(os.path.join(OUT, t), ignore_errors=True)
        {"tsv": lambda: tsv(args.glue), "tokenizer": lambda: tokenizer(args.glue),
         "safetensors": safetensors, "torch_bin": torch_bin, "config": config}[t]()
        files = os.listdir(os.path.join(OUT, t))
        size = sum(os.path.getsize(os.path.join(OUT, t, f)) for f in files)
        print(f"{t}: {len(files)} seeds, {size} bytes")


if __name__ == "__main__":
    main()
