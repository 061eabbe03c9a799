#!/usr/bin/env python3
"""The "seed's loop": throughput reference of the GPU benchmark, in HuggingFace + PyTorch eager.

What it measures (default mode): optimizer steps per second of the seed repository's Patient
Knowledge Distillation loop (Sun et al. 2019, github.com/intersun/PKD-for-BERT-Model-Compression),
re-expressed with today's stock tools and no torch.compile:

- teacher: `transformers.BertForSequenceClassification`, 12 layers (BERT-base shape: hidden 768,
  12 heads, intermediate 3072, vocab 30522); from --teacher DIR (HF layout), else random with
  torch seed 0 (HF's own init). Run ONLINE: a forward pass under no_grad, in eval mode, every step.
- student: the same class with --student-layers (6) layers, initialised from the teacher's
  embeddings, first 6 layers, pooler and classifier (tools/bert_reference.py copies the classifier
  too); train mode (dropout on).
- loss, exactly tools/bert_reference.py's distill_bench (the seed's loss):
      L = (1 - alpha) * CE + alpha * KD + beta * PT
      KD = KL(softmax(t/T) || softmax(s/T)), reduction "batchmean", times T^2
           (= soft cross-entropy up to the teacher's entropy, a constant for the student)
      PT = mean squared distance of the L2-normalised [CLS] vectors of student layers 1..k-1 and
           teacher layers skip = [L//k * j for j in 1..k-1] (PKD-Skip: 12 -> 6 gives 2,4,6,8,10),
           averaged over layers, hidden units and examples (F.mse_loss of the stacks)
  alpha 0.5, beta 100, T 10; computed in float32 from the (autocast) model outputs.
- optimizer: torch.optim.AdamW (lr 5e-5, eps 1e-8, default foreach implementation) over HF's
  decay groups (weight decay 0.01, none on biases and LayerNorm), gradient clipping at 1.0 and a
  linear warmup (10 %) / decay schedule over warmup+steps, as bert_reference.py.
- data: batches of --batch (32) examples of a pkd token split (the HDF5 shards of `pkd tokenize`),
  in a shuffled order (a permutation of the split seeded by --seed, wrapping around), every batch
  PADDED TO --max-len (128, the seed's max_seq_length) with an attention mask, collated on the CPU
  inside the timed step (the seed's DataLoader, num_workers 0) and copied to the device.
- precision: --precision bf16 runs the forward passes under torch.autocast(<device>, bfloat16)
  (the seed used apex fp16; bf16 needs no loss scaling); fp32 runs without autocast.
- timing: --warmup untimed steps, then --steps timed steps between two torch.cuda.synchronize().
  The loss is summed on the device and read once at the end (no per-step host sync).

--cache-bench measures instead the seed-style way of caching a teacher (the reference of
`pkd cache-teacher`): the teacher only, eval, no_grad, bf16 autocast (per --precision), batches of
--batch (default 128 here) in file order, each padded to --max-len, output_hidden_states=True and
the logits and every layer's [CLS] vector copied back to the host; reports sequences/s over one
pass of the split (or the first --steps batches), after --warmup untimed batches.

Output: one human line on stdout, and with --out FILE.json
  {"examples_per_s", "seconds_per_step", "steps", "batch", "precision", "device", "torch",
   "transformers", "gpu", ...}.
Smoke test: --device cpu --precision fp32 --steps 1 --warmup 0.

The data reading, batching, loss and JSON parts import neither transformers nor (at import time)
torch, so they can be tested on a machine without transformers.
"""
import argparse
import json
import os
import platform
import sys
import time

BERT_BASE = dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2)


# ----------------------------------------------------------------------------- data (no torch)

def read_split(tokens_dir):
    """All examples of a pkd token split as (ids, token types, label) in file order, and the
    split's max_seq_length: tools/bert_reference.py's read_split, plus the manifest."""
    import h5py
    with open(os.path.join(tokens_dir, "manifest.json")) as fh:
        manifest = json.load(fh)
    if manifest.get("format") not in (None, "pkd.token_manifest"):
        raise SystemExit(f"{tokens_dir}: not a pkd token split (format {manifest.get('format')!r})")
    examples = []
    for shard in manifest["shards"]:
        with h5py.File(os.path.join(tokens_dir, shard["file"]), "r") as f:
            ids, tts, off, labels = (f[k][:] for k in ("input_ids", "token_type_ids", "offsets", "labels"))
        examples += [(ids[off[k]:off[k + 1]], tts[off[k]:off[k + 1]], labels[k]) for k in range(len(off) - 1)]
    return examples, manifest["settings"]["max_seq_length"], manifest


def check_split(examples, manifest, max_len, need_labels):
    if not examples:
        raise SystemExit("the token split has no examples")
    longest = max(len(e[0]) for e in examples)
    if longest > max_len:
        raise SystemExit(f"the split has an example of {longest} tokens, more than --max-len {max_len}")
    if need_labels:
        if manifest.get("regression"):
            raise SystemExit("the seed loop here is for classification splits (this one is regression)")
        if any(int(e[2]) < 0 for e in examples):
            raise SystemExit("the split has unlabeled examples (a test split?): use a train/dev split")


def collate(chunk, pad_to):
    """numpy [B, pad_to] int64 input ids, token types, attention mask, and [B] labels; every row
    right-padded with 0 to pad_to (the seed's fixed-length features)."""
    import numpy as np
    n = len(chunk)
    ids, tts, mask = (np.zeros((n, pad_to), dtype=np.int64) for _ in range(3))
    for j, (i, t, _) in enumerate(chunk):
        ids[j, :len(i)], tts[j, :len(i)], mask[j, :len(i)] = i, t, 1
    labels = np.array([int(c[2]) for c in chunk], dtype=np.int64)
    return ids, tts, mask, labels


def train_batches(n_examples, batch, seed):
    """The shuffled order: batch s holds order[(s*batch + j) % n] (bert_reference.py's wrap-around)."""
    import numpy as np
    order = np.random.default_rng(seed).permutation(n_examples)

    def rows(step):
        return [int(order[(step * batch + j) % n_examples]) for j in range(batch)]
    return rows


def skip_map(teacher_layers, student_layers):
    """PKD-Skip: the teacher layer matched to student layers 1..k-1 (12 -> 6: 2,4,6,8,10)."""
    return [teacher_layers // student_layers * (j + 1) for j in range(student_layers - 1)]


def write_json(path, obj):
    if not path:
        return
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- loss (torch only)

def pkd_loss(s_logits, t_logits, labels, s_hidden, t_hidden, skip, alpha=0.5, beta=100.0, T=10.0):
    """The seed loop's loss (bert_reference.py distill_bench), in float32.
    s_hidden / t_hidden: HF's hidden_states tuples (row 0 = embeddings, row l = layer l),
    each [B, seq, H]. Returns (total, ce, kd, pt)."""
    import torch
    import torch.nn.functional as F
    s_logits, t_logits = s_logits.float(), t_logits.float()
    k = len(skip) + 1
    ce = F.cross_entropy(s_logits, labels)
    kd = F.kl_div(F.log_softmax(s_logits / T, -1), F.softmax(t_logits / T, -1), reduction="batchmean") * T * T
    s_cls = torch.stack([s_hidden[j][:, 0] for j in range(1, k)]).float()   # [k-1, B, H]
    t_cls = torch.stack([t_hidden[j][:, 0] for j in skip]).float()
    pt = (F.normalize(s_cls, dim=-1) - F.normalize(t_cls, dim=-1)).pow(2).mean(-1).mean(0).mean()
    return (1 - alpha) * ce + alpha * kd + beta * pt, ce, kd, pt


# ----------------------------------------------------------------------------- models (transformers)

def build_teacher(teacher_dir, num_labels, attn=None):
    """The teacher: from_pretrained(DIR), or a random BERT-base (torch seed 0, HF's init)."""
    import torch
    import transformers
    kw = {"attn_implementation": attn} if attn else {}
    if teacher_dir:
        model = transformers.BertForSequenceClassification.from_pretrained(teacher_dir, **kw).float()
        if model.config.num_labels != num_labels:
            raise SystemExit(f"the teacher has {model.config.num_labels} outputs, the split {num_labels} labels")
        return model, os.path.abspath(teacher_dir)
    torch.manual_seed(0)
    cfg = transformers.BertConfig(**BERT_BASE, num_labels=num_labels, **kw)
    return transformers.BertForSequenceClassification(cfg), "random BERT-base (torch seed 0)"


def build_student(teacher, k):
    """The teacher's first k layers (+ embeddings, pooler, classifier), HF names, strict load."""
    import copy
    import transformers
    cfg = copy.deepcopy(teacher.config)
    cfg.num_hidden_layers = k
    student = transformers.BertForSequenceClassification(cfg)
    keep = {n: v for n, v in teacher.state_dict().items()
            if not n.startswith("bert.encoder.layer.") or int(n.split(".")[3]) < k}
    student.load_state_dict(keep, strict=True)
    return student


def check_hidden(out, layers):
    """HF returns hidden_states = (embeddings, layer 1, ..., layer L): the layer map relies on it."""
    n = len(out.hidden_states) if out.hidden_states is not None else 0
    if n != layers + 1:
        raise SystemExit(f"hidden_states has {n} entries, expected {layers + 1} (embeddings + {layers} layers)")


def versions():
    import torch
    try:
        import transformers
        tv = transformers.__version__
    except ImportError:
        tv = None
    return torch.__version__, tv


def device_name(device):
    import torch
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def sync(device):
    import torch
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ----------------------------------------------------------------------------- benches

def distill_bench(a):
    import torch
    device = torch.device(a.device)
    examples, split_len, manifest = read_split(a.tokens)
    check_split(examples, manifest, a.max_len, need_labels=True)
    num_labels = len(manifest["label_names"])
    teacher, teacher_src = build_teacher(a.teacher, num_labels, a.attn)
    L = teacher.config.num_hidden_layers
    k = a.student_layers
    if not 1 < k <= L:
        raise SystemExit(f"--student-layers must be in 2..{L}")
    skip = skip_map(L, k)
    student = build_student(teacher, k)
    teacher.to(device).eval()
    student.to(device).train()

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from bert_reference import seed_optimizer  # the same optimizer as the CPU seed loop
    total = a.warmup + a.steps
    opt, sched = seed_optimizer(student, total)
    rows = train_batches(len(examples), a.batch, a.seed)
    torch.manual_seed(a.seed)  # dropout
    amp = dict(device_type=device.type, dtype=torch.bfloat16, enabled=a.precision == "bf16")
    loss_sum = torch.zeros((), device=device)
    t0 = None
    for step in range(total):
        if step == a.warmup:
            sync(device)
            t0 = time.perf_counter()
        ids, tts, mask, labels = (torch.from_numpy(x).to(device)
                                  for x in collate([examples[r] for r in rows(step)], a.max_len))
        with torch.autocast(**amp):
            with torch.no_grad():
                t_out = teacher(input_ids=ids, token_type_ids=tts, attention_mask=mask, output_hidden_states=True)
            s_out = student(input_ids=ids, token_type_ids=tts, attention_mask=mask, output_hidden_states=True)
        check_hidden(t_out, L)
        check_hidden(s_out, k)
        loss, _, _, _ = pkd_loss(s_out.logits, t_out.logits, labels, s_out.hidden_states, t_out.hidden_states,
                                 skip, a.alpha, a.beta, a.temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        sched.step()
        if step >= a.warmup:
            loss_sum += loss.detach()
    sync(device)
    seconds = time.perf_counter() - t0
    tv, hv = versions()
    return {
        "bench": "seed_loop",
        "impl": "HF BertForSequenceClassification, PyTorch eager, online teacher, padded to %d" % a.max_len,
        "examples_per_s": a.batch * a.steps / seconds,
        "seconds_per_step": seconds / a.steps,
        "steps": a.steps, "warmup": a.warmup, "batch": a.batch, "max_len": a.max_len,
        "precision": a.precision, "device": str(device), "torch": tv, "transformers": hv,
        "gpu": device_name(device) if device.type == "cuda" else None, "cpu": platform.processor() or platform.machine(),
        "teacher": teacher_src, "teacher_layers": L, "student_layers": k, "layer_map": skip,
        "alpha": a.alpha, "beta": a.beta, "temperature": a.temperature,
        "attn_implementation": getattr(teacher.config, "_attn_implementation", None),
        "tokens": os.path.abspath(a.tokens), "split_examples": len(examples),
        "split_max_seq_length": split_len, "mean_loss_timed": loss_sum.item() / a.steps,
    }


def cache_bench(a):
    import torch
    device = torch.device(a.device)
    examples, split_len, manifest = read_split(a.tokens)
    check_split(examples, manifest, a.max_len, need_labels=False)
    teacher, teacher_src = build_teacher(a.teacher, max(1, len(manifest["label_names"])), a.attn)
    teacher.to(device).eval()
    starts = list(range(0, len(examples), a.batch))
    timed = starts if a.steps is None else [starts[s % len(starts)] for s in range(a.steps)]
    warm = [starts[s % len(starts)] for s in range(a.warmup)]
    amp = dict(device_type=device.type, dtype=torch.bfloat16, enabled=a.precision == "bf16")
    n_timed = 0
    t0 = None
    for phase, batch_starts in (("warmup", warm), ("timed", timed)):
        if phase == "timed":
            sync(device)
            t0 = time.perf_counter()
        for b in batch_starts:
            chunk = examples[b:b + a.batch]
            ids, tts, mask, _ = (torch.from_numpy(x).to(device) for x in collate(chunk, a.max_len))
            with torch.no_grad(), torch.autocast(**amp):
                out = teacher(input_ids=ids, token_type_ids=tts, attention_mask=mask, output_hidden_states=True)
            check_hidden(out, teacher.config.num_hidden_layers)
            # what a cache keeps: the logits and every layer's [CLS] vector, on the host
            host = (out.logits.float().cpu(), torch.stack([h[:, 0] for h in out.hidden_states]).float().cpu())
            del host
            if phase == "timed":
                n_timed += len(chunk)
    sync(device)
    seconds = time.perf_counter() - t0
    tv, hv = versions()
    return {
        "bench": "seed_cache_teacher",
        "impl": "HF BertForSequenceClassification teacher forward, PyTorch eager, no_grad, padded to %d" % a.max_len,
        "sequences_per_s": n_timed / seconds, "examples_per_s": n_timed / seconds,
        "seconds_per_step": seconds / len(timed), "steps": len(timed), "sequences": n_timed,
        "warmup": a.warmup, "batch": a.batch, "max_len": a.max_len,
        "precision": a.precision, "device": str(device), "torch": tv, "transformers": hv,
        "gpu": device_name(device) if device.type == "cuda" else None, "cpu": platform.processor() or platform.machine(),
        "teacher": teacher_src, "teacher_layers": teacher.config.num_hidden_layers,
        "attn_implementation": getattr(teacher.config, "_attn_implementation", None),
        "tokens": os.path.abspath(a.tokens), "split_examples": len(examples),
        "split_max_seq_length": split_len,
    }


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", required=True, metavar="DIR", help="a pkd token split directory (manifest.json + shards)")
    p.add_argument("--teacher", metavar="DIR", help="HF model directory; default: random BERT-base, torch seed 0")
    p.add_argument("--cache-bench", action="store_true", help="teacher forward only (the seed-style cache-teacher)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps (batches) first (default 5)")
    p.add_argument("--steps", type=int, default=None,
                   help="timed steps (default 30; with --cache-bench: one pass over the split)")
    p.add_argument("--batch", type=int, default=None, help="examples per step (default 32; --cache-bench: 128)")
    p.add_argument("--max-len", type=int, default=128, help="every batch is padded to this length (default 128)")
    p.add_argument("--precision", choices=("bf16", "fp32"), default="bf16")
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    p.add_argument("--student-layers", type=int, default=6)
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--beta", type=float, default=100.0)
    p.add_argument("--temperature", "-T", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=42, help="data order and dropout")
    p.add_argument("--attn", default=None, help="attn_implementation (eager|sdpa); default: the library's")
    p.add_argument("--out", metavar="FILE.json")
    a = p.parse_args(argv)
    if a.batch is None:
        a.batch = 128 if a.cache_bench else 32
    if a.steps is None and not a.cache_bench:
        a.steps = 30
    if (a.steps is not None and a.steps < 1) or a.warmup < 0 or a.batch < 1:
        p.error("--steps and --batch must be at least 1, --warmup at least 0")
    return a


def main(argv=None):
    a = parse_args(argv)
    import torch
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available (use --device cpu for a smoke test)")
    r = cache_bench(a) if a.cache_bench else distill_bench(a)
    write_json(a.out, r)
    where = r["gpu"] or r["cpu"] or r["device"]
    if a.cache_bench:
        print(f"seed-style cache-teacher: {r['sequences_per_s']:.1f} sequences/s "
              f"({r['sequences']} sequences, batch {r['batch']} padded to {r['max_len']}, {r['precision']}, "
              f"{where}, torch {r['torch']}, transformers {r['transformers']})", flush=True)
    else:
        print(f"seed loop: {r['examples_per_s']:.1f} examples/s, {r['seconds_per_step'] * 1e3:.1f} ms/step "
              f"({r['steps']} steps of {r['batch']} padded to {r['max_len']}, {r['teacher_layers']}->"
              f"{r['student_layers']} layers, {r['precision']}, {where}, torch {r['torch']}, "
              f"transformers {r['transformers']}; loss {r['mean_loss_timed']:.4f})", flush=True)
    return r


if __name__ == "__main__":
    main()
