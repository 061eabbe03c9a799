#!/usr/bin/env python3
"""Checks that a model directory exported by pkd is a working HuggingFace model.

What it checks, in order (each failure is listed; the exit status is 1 when any occurs):

1. layout: MODEL_DIR holds config.json, model.safetensors or pytorch_model.bin, and vocab.txt.
2. loading: `transformers.BertForSequenceClassification.from_pretrained(MODEL_DIR,
   output_loading_info=True)` succeeds and reports NO missing_keys, NO unexpected_keys, NO
   mismatched_keys and NO error_msgs (any other non-empty entry of the info dict is reported too).
   Independently, the tensor names of model.safetensors (read from its header) are compared with
   the model's state_dict: names HF silently ignores are reported (not a failure).
3. outputs: the loaded model, in eval mode, float32 (matmul precision "highest", no TF32), on
   --device, is run on the first --n examples (file order) of a pkd token split (--tokens), and
   its logits are compared with pkd's own logits for the same examples (matched by example_ids)
   from a feature shard written by `pkd cache-teacher --model MODEL_DIR --tokens SPLIT`
   (--reference-h5: one feature shard file, or a feature split directory with manifest.json).
   pkd writes logits nowhere else: `pkd predict` writes a GLUE submission TSV of labels, `pkd eval`
   only metrics. cache-teacher logits are always float32; run it with precision float32 (the
   default) so that the reference is a float32 computation too.
   The examples are run twice (--mode both, the default): each example ALONE, unpadded
   (batch 1, attention mask all ones), and in right-padded batches of --batch examples with an
   attention mask. PASS when, in every mode, max |logits_hf - logits_pkd| <= --atol (default 1e-4,
   ABSOLUTE). Also reported: that maximum relative to max |logits_pkd|, the argmax agreement, and
   (information only) the same figures for the [CLS] vectors of every layer (cls_hidden; float16
   storage in the shard unless cache-teacher ran with --dtype float32).

Prints one verdict line (PASS/FAIL) and writes --out FILE.json with every number.
The reading of token and feature shards and the comparison need only h5py/numpy; transformers is
imported in load_hf() only.
"""
import argparse
import hashlib
import json
import os
import sys

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg, flush=True)


# ----------------------------------------------------------------------------- files (no torch)

def read_tokens(tokens_dir, n):
    """The first n examples of a pkd token split, file order: list of (example_id, ids, types)."""
    import h5py
    with open(os.path.join(tokens_dir, "manifest.json")) as fh:
        manifest = json.load(fh)
    out = []
    for shard in manifest["shards"]:
        if len(out) >= n:
            break
        with h5py.File(os.path.join(tokens_dir, shard["file"]), "r") as f:
            ids, tts, off, eids = (f[k][:] for k in ("input_ids", "token_type_ids", "offsets", "example_ids"))
        for k in range(min(len(off) - 1, n - len(out))):
            out.append((int(eids[k]), ids[off[k]:off[k + 1]].astype("int64"), tts[off[k]:off[k + 1]].astype("int64")))
    return out, manifest


def read_features(path):
    """pkd feature shard(s) -> {example_id: (logits [labels], cls [L+1, H])} and a summary."""
    import h5py
    if os.path.isdir(path):
        with open(os.path.join(path, "manifest.json")) as fh:
            files = [os.path.join(path, s["file"]) for s in json.load(fh)["shards"]]
    else:
        files = [path]
    table, attrs = {}, {}
    for file in files:
        with h5py.File(file, "r") as f:
            fmt = f.attrs.get("format")
            fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
            if fmt != "pkd.feature_shard":
                raise SystemExit(f"{file}: not a pkd feature shard (format {fmt!r})")
            logits, cls, eids = f["logits"][:], f["cls_hidden"][:], f["example_ids"][:]
            v = f.attrs.get("token_shard_sha256")
            attrs.setdefault("token_shard_sha256", []).append(v.decode() if isinstance(v, bytes) else v)
            for k in ("dtype", "num_layers", "hidden_size", "num_labels", "tool_version", "teacher_dir",
                      "teacher_weights_sha256"):
                if k in f.attrs:
                    v = f.attrs[k]
                    attrs[k] = v.decode() if isinstance(v, bytes) else (v.item() if hasattr(v, "item") else v)
        for r, e in enumerate(eids):
            table[int(e)] = (logits[r], cls[:, r])
    attrs["files"] = files
    return table, attrs


def safetensors_names(path):
    """Tensor names from a safetensors header (u64 length + JSON), without the safetensors package."""
    with open(path, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(n))
    header.pop("__metadata__", None)
    return set(header)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_layout(model_dir):
    r = {}
    for name in ("config.json", "vocab.txt"):
        if not os.path.isfile(os.path.join(model_dir, name)):
            fail(f"{model_dir} has no {name}")
    st, pt = (os.path.join(model_dir, f) for f in ("model.safetensors", "pytorch_model.bin"))
    r["weights"] = st if os.path.isfile(st) else pt if os.path.isfile(pt) else None
    if r["weights"] is None:
        fail(f"{model_dir} has neither model.safetensors nor pytorch_model.bin")
    return r


def compare(ours, ref):
    """numpy arrays of the same shape -> max abs diff, max |ref|, their ratio."""
    import numpy as np
    ours, ref = np.asarray(ours, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    d = float(np.abs(ours - ref).max()) if ours.size else 0.0
    m = float(np.abs(ref).max()) if ref.size else 0.0
    return {"max_abs_diff": d, "max_abs_ref": m, "max_abs_diff_over_max_abs_ref": d / m if m > 0 else None}


# ----------------------------------------------------------------------------- HF parts

def load_hf(model_dir, attn=None):
    """from_pretrained with output_loading_info; returns (model or None, report dict)."""
    import transformers
    kw = {"attn_implementation": attn} if attn else {}
    try:
        model, info = transformers.BertForSequenceClassification.from_pretrained(
            model_dir, output_loading_info=True, **kw)
    except Exception as e:  # shape mismatches raise here unless ignore_mismatched_sizes
        fail(f"from_pretrained raised {type(e).__name__}: {e}")
        return None, {"exception": f"{type(e).__name__}: {e}"}
    report = {}
    for k, v in (info or {}).items():
        items = sorted(str(x) for x in (v or []))
        report[k] = items
        if items:
            if k in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
                fail(f"from_pretrained reports {k}: {', '.join(items[:10])}" + (" ..." if len(items) > 10 else ""))
            else:
                print(f"note: from_pretrained reports {k}: {', '.join(items[:10])}", flush=True)
    for k in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        report.setdefault(k, [])
    report["loaded_dtype"] = str(next(model.parameters()).dtype)
    return model, report


def run_model(model, examples, device, mode, batch):
    """Logits [n, labels] and [CLS] vectors [n, L+1, H] (float64 numpy) in example order."""
    import numpy as np
    import torch
    layers = model.config.num_hidden_layers

    def check(out):  # HF: hidden_states = (embeddings, layer 1, ..., layer L)
        if out.hidden_states is None or len(out.hidden_states) != layers + 1:
            raise SystemExit(f"hidden_states has {len(out.hidden_states or ())} entries, expected {layers + 1}")
        return out
    logits, cls = [], []
    with torch.inference_mode():
        if mode == "single":
            for _, i, t in examples:
                ids, tts = (torch.from_numpy(x)[None].to(device) for x in (i, t))
                out = check(model(input_ids=ids, token_type_ids=tts, attention_mask=torch.ones_like(ids),
                                  output_hidden_states=True))
                logits.append(out.logits[0].double().cpu().numpy())
                cls.append(torch.stack([h[0, 0] for h in out.hidden_states]).double().cpu().numpy())
        else:
            for b in range(0, len(examples), batch):
                chunk = examples[b:b + batch]
                T = max(len(i) for _, i, _ in chunk)
                ids, tts, mask = (np.zeros((len(chunk), T), dtype=np.int64) for _ in range(3))
                for j, (_, i, t) in enumerate(chunk):
                    ids[j, :len(i)], tts[j, :len(i)], mask[j, :len(i)] = i, t, 1
                ids, tts, mask = (torch.from_numpy(x).to(device) for x in (ids, tts, mask))
                out = check(model(input_ids=ids, token_type_ids=tts, attention_mask=mask, output_hidden_states=True))
                logits += list(out.logits.double().cpu().numpy())
                cls += list(torch.stack([h[:, 0] for h in out.hidden_states], 1).double().cpu().numpy())
    return np.stack(logits), np.stack(cls)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, metavar="DIR", help="the pkd-exported HF directory")
    p.add_argument("--tokens", required=True, metavar="DIR", help="a pkd token split directory")
    p.add_argument("--reference-h5", required=True, metavar="FILE|DIR",
                   help="pkd cache-teacher output for this model and split: a feature shard or split directory")
    p.add_argument("--n", type=int, default=64, help="first N examples of the split (default 64)")
    p.add_argument("--mode", choices=("single", "padded", "both"), default="both",
                   help="each example alone unpadded, right-padded batches with attention mask, or both")
    p.add_argument("--batch", type=int, default=16, help="examples per padded batch (default 16)")
    p.add_argument("--atol", type=float, default=1e-4, help="absolute tolerance on logits (default 1e-4)")
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    p.add_argument("--attn", default=None, help="attn_implementation (eager|sdpa); default: the library's")
    p.add_argument("--out", metavar="FILE.json")
    a = p.parse_args(argv)
    FAILURES.clear()

    result = {"model": os.path.abspath(a.model), "tokens": os.path.abspath(a.tokens),
              "reference": os.path.abspath(a.reference_h5), "atol": a.atol, "mode": a.mode, "failures": FAILURES}
    result.update(check_layout(a.model))
    examples, manifest = read_tokens(a.tokens, a.n)
    table, ref_attrs = read_features(a.reference_h5)
    result["reference_attrs"] = ref_attrs
    result["n"] = len(examples)
    if len(examples) < a.n:
        print(f"note: the split has only {len(examples)} examples", flush=True)
    missing = [e for e, _, _ in examples if e not in table]
    if missing:
        fail(f"{len(missing)} of the {len(examples)} examples are not in the reference (example_ids "
             f"{missing[:5]}...): is it cache-teacher output for this token split?")
    token_shas = {s.get("sha256") for s in manifest["shards"]}
    if not token_shas & set(ref_attrs.get("token_shard_sha256", [])):
        print("note: the reference was not computed from this split's token shards (token_shard_sha256)", flush=True)
    vocab = os.path.join(a.model, "vocab.txt")
    if os.path.isfile(vocab):
        want = manifest.get("settings", {}).get("vocab_sha256")
        result["vocab_matches_tokens"] = (sha256(vocab) == want) if want else None
        if want and not result["vocab_matches_tokens"]:
            print("note: the model's vocab.txt is not the vocabulary the tokens were made with", flush=True)

    import numpy as np
    import torch
    device = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.set_float32_matmul_precision("highest")
    result.update(device=str(device), torch=torch.__version__,
                  gpu=torch.cuda.get_device_name(device) if device.type == "cuda" else None)

    model, load_report = load_hf(a.model, a.attn)
    result["loading_info"] = load_report
    if model is not None:
        import transformers
        result["transformers"] = transformers.__version__
        result["attn_implementation"] = getattr(model.config, "_attn_implementation", None)
        state = set(model.state_dict())
        if result.get("weights", "") and result["weights"].endswith(".safetensors"):
            in_file = safetensors_names(result["weights"])
            result["file_names_not_in_model"] = sorted(in_file - state)
            result["model_names_not_in_file"] = sorted(state - in_file)
            if result["file_names_not_in_model"]:
                print(f"note: tensors in the file that the model has no place for (ignored by HF): "
                      f"{result['file_names_not_in_model']}", flush=True)
        model = model.float().eval().to(device)
        n_labels = model.config.num_labels
        if ref_attrs.get("num_labels") not in (None, n_labels):
            fail(f"the model has {n_labels} outputs, the reference {ref_attrs['num_labels']}")
        kept = [e for e in examples if e[0] in table]
        if not kept:
            fail("no example to compare")
        else:
            ref_logits = np.stack([table[e][0] for e, _, _ in kept]).astype(np.float64)
            ref_cls = np.stack([table[e][1] for e, _, _ in kept]).astype(np.float64)
            modes = ("single", "padded") if a.mode == "both" else (a.mode,)
            outs = {}
            for mode in modes:
                lo, cl = run_model(model, kept, device, mode, a.batch)
                outs[mode] = lo
                r = {"logits": compare(lo, ref_logits) if lo.shape == ref_logits.shape else None,
                     "argmax_agreement": float((lo.argmax(1) == ref_logits.argmax(1)).mean()) if n_labels > 1 else None,
                     "cls_hidden_info": compare(cl, ref_cls) if cl.shape == ref_cls.shape else None}
                result[mode] = r
                if r["logits"] is None:
                    fail(f"{mode}: logits shape {lo.shape} vs reference {ref_logits.shape}")
                    continue
                d, rel = r["logits"]["max_abs_diff"], r["logits"]["max_abs_diff_over_max_abs_ref"]
                c = r["cls_hidden_info"]
                print(f"{mode:7s}: logits max|diff| {d:.3e} (max|logit| {r['logits']['max_abs_ref']:.3f}, "
                      f"ratio {rel if rel is not None else float('nan'):.3e}), argmax agreement "
                      f"{r['argmax_agreement']}, [CLS] max|diff| "
                      f"{c['max_abs_diff'] if c else float('nan'):.3e} (info, {ref_attrs.get('dtype')})", flush=True)
                if not d <= a.atol:
                    fail(f"{mode}: logits differ from pkd's by {d:.3e} > atol {a.atol:g}")
            if len(outs) == 2:
                result["single_vs_padded_logits"] = compare(outs["padded"], outs["single"])

    result["pass"] = not FAILURES
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w") as fh:
            json.dump(result, fh, indent=2, default=str)
            fh.write("\n")
    worst = max((result[m]["logits"]["max_abs_diff"] for m in ("single", "padded")
                 if m in result and result[m].get("logits")), default=None)
    if FAILURES:
        print(f"FAIL: {a.model}: {len(FAILURES)} problem(s): " + "; ".join(FAILURES), flush=True)
        return 1
    print(f"PASS: {a.model} loads as HF BertForSequenceClassification with no missing/unexpected/mismatched "
          f"keys; logits of {result['n']} examples ({a.mode}) match pkd's within {worst:.2e} <= atol {a.atol:g} "
          f"(absolute) on {device}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
