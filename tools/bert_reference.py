#!/usr/bin/python3
"""HuggingFace BertForSequenceClassification in plain PyTorch eager (Debian's python3-torch,
the same LibTorch version as pkd), for two jobs:

- the reference of bench/run_bert_forward_bench.sh (--bench);
- the reference of bench/run_cache_bench.sh: the seed's way of caching a teacher
  (--cache-bench TOKENS_DIR MODEL_DIR): every batch padded to 128, in file order;
  --save-random DIR writes a random BERT-base teacher (config.json + pytorch_model.bin) for it;
- the reference of bench/run_distill_bench.sh: the seed's distillation loop
  (--distill-bench TOKENS_DIR MODEL_DIR): shuffled batches padded to 128, the teacher run
  online under no_grad every step, a student of the teacher's first --student-layers layers,
  the PKD loss (CE + KD + normalised [CLS] patient loss, PKD-Skip), torch.optim.AdamW with HF's
  decay groups, gradient clipping and a linear schedule;
- an independent check of checkpoints (--check DIR): `transformers` is not available offline,
  so this model mirrors HF's module tree and semantics in plain torch.nn; DIR's weights
  (model.safetensors, else pytorch_model.bin) must load into it *strictly* (HF names and shapes)
  and reproduce DIR/reference.h5 (float64 HF outputs). Exits 1 when they do not, so the tests
  use it to prove that pkd's exported directories are HuggingFace-loadable.

Run it with Debian's interpreter, /usr/bin/python3.

  --check DIR   compare against DIR/reference.h5 (float64 and float32, one
                example at a time and right-padded batch)
  --bench       BERT-base eager throughput, float32, inference_mode
"""
import argparse, json, math, os, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class Embeddings(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"])
        s.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        s.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        s.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        s.dropout = nn.Dropout(c.get("hidden_dropout_prob", 0.1))

    def forward(s, ids, tt):
        pos = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)  # absolute positions 0..T-1
        x = s.word_embeddings(ids) + s.token_type_embeddings(tt) + s.position_embeddings(pos)
        return s.dropout(s.LayerNorm(x))


class SelfAttention(nn.Module):
    def __init__(s, c):
        super().__init__()
        H = c["hidden_size"]
        s.nh, s.hd = c["num_attention_heads"], H // c["num_attention_heads"]
        s.query, s.key, s.value = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)
        s.dropout = nn.Dropout(c.get("attention_probs_dropout_prob", 0.1))

    def forward(s, x, add_mask):
        B, T, H = x.shape
        split = lambda t: t.view(B, T, s.nh, s.hd).transpose(1, 2)      # [B, nh, T, hd]
        q, k, v = split(s.query(x)), split(s.key(x)), split(s.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(s.hd) + add_mask   # mask: [B,1,1,T]
        ctx = s.dropout(scores.softmax(-1)) @ v
        return ctx.transpose(1, 2).reshape(B, T, H)


class DenseLN(nn.Module):
    """HF BertSelfOutput / BertOutput: dense -> dropout -> LayerNorm(x + residual) (post-LN)."""
    def __init__(s, c, d_in):
        super().__init__()
        s.dense = nn.Linear(d_in, c["hidden_size"])
        s.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        s.dropout = nn.Dropout(c.get("hidden_dropout_prob", 0.1))

    def forward(s, h, residual):
        return s.LayerNorm(s.dropout(s.dense(h)) + residual)


class Attention(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.self, s.output = SelfAttention(c), DenseLN(c, c["hidden_size"])

    def forward(s, x, m):
        return s.output(s.self(x, m), x)


class Intermediate(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])

    def forward(s, x):
        return F.gelu(s.dense(x))  # exact erf GELU (HF "gelu")


class Layer(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.attention, s.intermediate = Attention(c), Intermediate(c)
        s.output = DenseLN(c, c["intermediate_size"])

    def forward(s, x, m):
        a = s.attention(x, m)
        return s.output(s.intermediate(a), a)


class Encoder(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.layer = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))


class Pooler(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.dense = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(s, h):
        return torch.tanh(s.dense(h[:, 0]))  # [CLS] token


class BertModel(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.embeddings, s.encoder, s.pooler = Embeddings(c), Encoder(c), Pooler(c)


class BertForSequenceClassification(nn.Module):
    def __init__(s, c):
        super().__init__()
        n_labels = c.get("num_labels") or len(c.get("id2label", {})) or 2
        s.bert = BertModel(c)
        s.dropout = nn.Dropout(c.get("classifier_dropout") or c.get("hidden_dropout_prob", 0.1))
        s.classifier = nn.Linear(c["hidden_size"], n_labels)

    def forward(s, ids, tt=None, attn=None):
        """Returns (logits [B,labels], pooled [B,H], cls [L+1,B,H] with row 0 = embeddings)."""
        tt = torch.zeros_like(ids) if tt is None else tt
        attn = torch.ones_like(ids) if attn is None else attn
        x = s.bert.embeddings(ids, tt)
        # additive mask: 0 for valid keys, finfo(dtype).min for padding; broadcast [B,1,1,T]
        m = (1.0 - attn[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        cls = [x[:, 0]]
        for layer in s.bert.encoder.layer:
            x = layer(x, m)
            cls.append(x[:, 0])
        pooled = s.bert.pooler(x)
        return s.classifier(s.dropout(pooled)), pooled, torch.stack(cls)


def read_safetensors(path):
    """The safetensors layout: u64 header length, JSON header, raw little-endian data."""
    import numpy as np
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    types = {"F32": np.float32, "F64": np.float64, "F16": np.float16}
    sd = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        data = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype=types[e["dtype"]])
        sd[name] = torch.from_numpy(data.copy()).reshape(e["shape"])
    return sd


def load(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    st = os.path.join(d, "model.safetensors")
    sd = read_safetensors(st) if os.path.exists(st) else torch.load(os.path.join(d, "pytorch_model.bin"), map_location="cpu")
    sd.pop("bert.embeddings.position_ids", None)  # optional buffer in some HF checkpoints
    model = BertForSequenceClassification(cfg)
    model.load_state_dict(sd, strict=True)
    return model.eval()


def check(d):
    import h5py
    f = h5py.File(os.path.join(d, "reference.h5"), "r")
    ids, tts, off = (torch.from_numpy(f[k][:]).long() for k in ("input_ids", "token_type_ids", "offsets"))
    ref = [torch.from_numpy(f[k][:]) for k in ("logits", "pooled", "cls_hidden")]
    ref[2] = ref[2].transpose(0, 1)  # -> [n, L+1, H], indexed per example like the others
    n = len(off) - 1
    exs = [(ids[off[k]:off[k + 1]], tts[off[k]:off[k + 1]]) for k in range(n)]
    rel = lambda o, r: ((o.double() - r).norm() / r.norm()).item()
    names = ("logits", "pooled", "cls_hidden")
    tolerance = {torch.float64: 1e-10, torch.float32: 1e-4}
    worst = {}
    model = load(d)
    print(f"{n} examples, lengths {min(len(e[0]) for e in exs)}..{max(len(e[0]) for e in exs)}")
    for dtype in (torch.float64, torch.float32):
        model.to(dtype)
        with torch.inference_mode():
            single = [model(i[None], t[None]) for i, t in exs]          # one example at a time
            single = [(lo[0], po[0], cl[:, 0]) for lo, po, cl in single]
            T = max(len(i) for i, _ in exs)                              # right-padded batch
            bi, bt, ba = (torch.zeros(n, T, dtype=torch.long) for _ in range(3))
            for k, (i, t) in enumerate(exs):
                bi[k, :len(i)], bt[k, :len(i)], ba[k, :len(i)] = i, t, 1
            lo, po, cl = model(bi, bt, ba)
            batched = list(zip(lo, po, cl.transpose(0, 1)))
        for q, name in enumerate(names):
            e_single = max(rel(single[k][q], ref[q][k]) for k in range(n))
            e_batch = max(rel(batched[k][q], ref[q][k]) for k in range(n))
            e_sb = max(rel(batched[k][q], single[k][q].double()) for k in range(n))
            print(f"{str(dtype):14s} {name:10s} single-vs-ref {e_single:.3e}  "
                  f"batched-vs-ref {e_batch:.3e}  batched-vs-single {e_sb:.3e}")
            worst[dtype] = max(worst.get(dtype, 0.0), e_single, e_batch)
    failed = [str(t) for t, e in worst.items() if e > tolerance[t]]
    if failed:
        raise SystemExit(f"FAIL: relative error above tolerance for {', '.join(failed)}")
    print("PASS: strict HF-name load, outputs within tolerance")


BERT_BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                 vocab_size=30522, max_position_embeddings=512, type_vocab_size=2,
                 layer_norm_eps=1e-12, num_labels=2)


def random_model(cfg, seed=0):
    torch.manual_seed(seed)
    model = BertForSequenceClassification(cfg)
    for mod in model.modules():  # HF-style init: N(0, 0.02) weights, zero bias, LN = identity
        if isinstance(mod, (nn.Linear, nn.Embedding)):
            nn.init.normal_(mod.weight, std=0.02)
        if isinstance(mod, nn.Linear):
            nn.init.zeros_(mod.bias)
    return model.eval()


def save_random(d):
    os.makedirs(d, exist_ok=True)
    cfg = dict(BERT_BASE, model_type="bert", hidden_act="gelu", id2label={"0": "0", "1": "1"})
    torch.save(random_model(BERT_BASE).state_dict(), os.path.join(d, "pytorch_model.bin"))
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)


def cache_bench(a, tokens_dir, model_dir):
    """The seed's teacher pass: batches in file order, each padded to max_seq_length."""
    import h5py
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    model = load(model_dir)
    manifest = json.load(open(os.path.join(tokens_dir, "manifest.json")))
    pad_to = manifest["settings"]["max_seq_length"]
    examples = []
    for shard in manifest["shards"]:
        f = h5py.File(os.path.join(tokens_dir, shard["file"]), "r")
        ids, tts, off = f["input_ids"][:], f["token_type_ids"][:], f["offsets"][:]
        examples += [(ids[off[k]:off[k + 1]], tts[off[k]:off[k + 1]]) for k in range(len(off) - 1)]
    logits = []
    start = time.perf_counter()
    with torch.inference_mode():
        for b in range(0, len(examples), a.batch):
            chunk = examples[b:b + a.batch]
            bi, bt, ba = (torch.zeros(len(chunk), pad_to, dtype=torch.long) for _ in range(3))
            for k, (i, t) in enumerate(chunk):
                bi[k, :len(i)], bt[k, :len(i)], ba[k, :len(i)] = torch.from_numpy(i), torch.from_numpy(t), 1
            lo, _, cls = model(bi, bt, ba)
            logits.append(lo)
    seconds = time.perf_counter() - start
    print(json.dumps({"impl": "pytorch-eager padded to %d" % pad_to, "examples": len(examples),
                      "threads": a.threads, "seconds": round(seconds, 3),
                      "seq_per_s": round(len(examples) / seconds, 2)}), flush=True)
    if a.compare:
        # pkd's cached logits, shard by shard in the same order, must agree to float32 rounding.
        ours = []
        for shard in manifest["shards"]:
            ours.append(torch.from_numpy(h5py.File(os.path.join(a.compare, shard["file"]), "r")["logits"][:]))
        ours, ref = torch.cat(ours), torch.cat(logits).float()
        err = ((ours - ref).norm() / ref.norm()).item()
        print(f"pkd's cached logits vs this pass: relative error {err:.2e}")
        if err > 1e-4:
            raise SystemExit("FAIL: the cached logits differ from the reference")


def read_split(tokens_dir):
    """All examples of a pkd token split (ids, token types, label), in file order."""
    import h5py
    manifest = json.load(open(os.path.join(tokens_dir, "manifest.json")))
    examples = []
    for shard in manifest["shards"]:
        f = h5py.File(os.path.join(tokens_dir, shard["file"]), "r")
        ids, tts, off, labels = f["input_ids"][:], f["token_type_ids"][:], f["offsets"][:], f["labels"][:]
        examples += [(ids[off[k]:off[k + 1]], tts[off[k]:off[k + 1]], int(labels[k])) for k in range(len(off) - 1)]
    return examples, manifest["settings"]["max_seq_length"]


def seed_optimizer(model, steps):
    """The seed's optimizer: HF's weight-decay groups (0.01, none on biases and LayerNorm),
    torch.optim.AdamW(lr 5e-5, eps 1e-8), linear warmup over 10% of `steps`, then linear decay."""
    no_decay = lambda n: n.endswith("bias") or "LayerNorm" in n
    groups = [{"params": [p for n, p in model.named_parameters() if not no_decay(n)], "weight_decay": 0.01},
              {"params": [p for n, p in model.named_parameters() if no_decay(n)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=5e-5, eps=1e-8)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / max(1, 0.1 * steps),
                                                                 max(0.0, (steps - s) / (0.9 * steps))))
    return opt, sched


def distill_bench(a, tokens_dir, model_dir):
    """The seed's PKD training loop, timed per optimizer step (after --warmup steps)."""
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)
    teacher = load(model_dir)
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    k = a.student_layers
    student = BertForSequenceClassification(dict(cfg, num_hidden_layers=k))
    student.load_state_dict({n: v for n, v in teacher.state_dict().items()
                             if not n.startswith("bert.encoder.layer.") or int(n.split(".")[3]) < k})
    student.train()
    L = cfg["num_hidden_layers"]
    skip = [L // k * (j + 1) for j in range(k - 1)]  # PKD-Skip: 12 -> 6 gives 2,4,6,8,10
    steps = a.warmup + a.steps
    opt, sched = seed_optimizer(student, steps)
    examples, pad_to = read_split(tokens_dir)
    order = torch.randperm(len(examples)).tolist()
    alpha, beta, T = 0.5, 100.0, 10.0
    times = []
    for step in range(steps):
        t0 = time.perf_counter()
        chunk = [examples[order[(step * a.batch + j) % len(order)]] for j in range(a.batch)]
        bi, bt, ba = (torch.zeros(len(chunk), pad_to, dtype=torch.long) for _ in range(3))
        for j, (i, t, _) in enumerate(chunk):
            bi[j, :len(i)], bt[j, :len(i)], ba[j, :len(i)] = torch.from_numpy(i), torch.from_numpy(t), 1
        labels = torch.tensor([c[2] for c in chunk])
        with torch.no_grad():
            t_logits, _, t_cls = teacher(bi, bt, ba)
        s_logits, _, s_cls = student(bi, bt, ba)
        ce = F.cross_entropy(s_logits, labels)
        kd = F.kl_div(F.log_softmax(s_logits / T, -1), F.softmax(t_logits / T, -1), reduction="batchmean") * T * T
        pt = (F.normalize(s_cls[1:k], dim=-1) - F.normalize(t_cls[skip], dim=-1)).pow(2).mean(-1).mean(0).mean()
        loss = (1 - alpha) * ce + alpha * kd + beta * pt
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        sched.step()
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)
    mean = statistics.mean(times)
    print(json.dumps({"impl": "pytorch-eager seed loop (online teacher, padded to %d)" % pad_to,
                      "teacher_layers": L, "student_layers": k, "batch": a.batch, "threads": a.threads,
                      "steps": len(times), "s_per_step": round(mean, 3),
                      "examples_per_s": round(a.batch / mean, 3), "loss": round(loss.item(), 4)}), flush=True)


def bench(a):
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    cfg = BERT_BASE
    model = random_model(cfg)
    for L in a.lengths:
        ids = torch.randint(0, cfg["vocab_size"], (a.batch, L))
        times = []
        with torch.inference_mode():
            for _ in range(a.warmup):
                model(ids)
            for _ in range(a.iters):
                t0 = time.perf_counter()
                model(ids)
                times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(json.dumps({"impl": "pytorch-eager", "length": L, "batch": a.batch, "threads": a.threads,
                          "seq_per_s": round(a.batch / med, 2), "ms_per_batch": round(med * 1e3, 2)}),
              flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", metavar="DIR")
    p.add_argument("--bench", action="store_true")
    p.add_argument("--save-random", metavar="DIR")
    p.add_argument("--cache-bench", nargs=2, metavar=("TOKENS_DIR", "MODEL_DIR"))
    p.add_argument("--distill-bench", nargs=2, metavar=("TOKENS_DIR", "TEACHER_DIR"))
    p.add_argument("--student-layers", type=int, default=6)
    p.add_argument("--steps", type=int, default=4, help="with --distill-bench: timed optimizer steps")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--compare", metavar="FEATURES_DIR", help="with --cache-bench: check pkd's cached logits")
    p.add_argument("--lengths", default="32,128", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2, help="untimed iterations (optimizer steps) first")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    a = p.parse_args()
    if a.check:
        check(a.check)
    if a.bench:
        bench(a)
    if a.save_random:
        save_random(a.save_random)
    if a.cache_bench:
        cache_bench(a, *a.cache_bench)
    if a.distill_bench:
        distill_bench(a, *a.distill_bench)
    if not (a.check or a.bench or a.save_random or a.cache_bench or a.distill_bench):
        p.print_help()
