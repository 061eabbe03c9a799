"""Checks of tests/e2e/stsb_end_to_end.sh on its work directory (standard library only).

Usage: stsb_checks.py WORK_DIR. Exits non-zero with "FAIL: <file>: <what was expected>".
"""
import csv
import io
import json
import math
import re
import sys
import zipfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

work = Path(sys.argv[1])
runs = work / "runs"
RUNS = {  # run directory -> (report row, alpha, beta)
    "teacher": ("BERT4 (teacher)", None, None),
    "students/ft": ("BERT2-FT", 0.0, 0.0),
    "students/kd": ("BERT2-KD", 0.7, 0.0),
    "students/pkd": ("BERT2-PKD-Skip", 0.5, 10.0),
}
N_DEV = N_TEST = 150


def fail(path, what):
    sys.exit(f"FAIL: {path}: {what}")


def finite(x):
    return isinstance(x, (int, float, Decimal)) and math.isfinite(float(x))


def dev_metrics(path, parse_float=float):
    try:
        results = json.loads(path.read_text(), parse_float=parse_float)
    except (OSError, ValueError) as e:
        fail(path, f"expected a JSON file of dev metrics ({e})")
    dev = results.get("dev")
    if not isinstance(dev, dict):
        fail(path, f"expected a 'dev' object, got {results!r}")
    for key in ("pearson", "spearmanr", "combined_score"):
        if not finite(dev.get(key)):
            fail(path, f"expected a finite dev.{key}, got {dev.get(key)!r} in {dev!r}")
        if not -1 <= float(dev[key]) <= 1:
            fail(path, f"dev.{key} = {dev[key]} is not a correlation in [-1, 1]")
    if "accuracy" in dev:
        fail(path, "a regression task has no accuracy")
    if abs(float(dev["combined_score"]) - (float(dev["pearson"]) + float(dev["spearmanr"])) / 2) > 1e-9:
        fail(path, "combined_score is not the mean of pearson and spearmanr")
    return dev


def submission(path, n):
    """index<TAB>score rows of a GLUE STS-B submission file, checked; returns the scores."""
    if not path.is_file():
        fail(path, "the STS-B submission file is missing")
    lines = path.read_text().split("\n")
    if lines[-1] == "":
        lines.pop()
    if lines[0] != "index\tprediction":
        fail(path, f"expected the header 'index<TAB>prediction', got {lines[0]!r}")
    if len(lines) - 1 != n:
        fail(path, f"expected {n} rows (one per example), got {len(lines) - 1}")
    scores = []
    for i, line in enumerate(lines[1:]):
        fields = line.split("\t")
        if len(fields) != 2 or fields[0] != str(i) or not re.fullmatch(r"-?\d+\.\d{3}", fields[1]):
            fail(path, f"row {i + 1}: expected '{i}<TAB>score with 3 decimals', got {line!r}")
        scores.append(float(fields[1]))
    if not all(math.isfinite(s) for s in scores):
        fail(path, "scores are not all finite")
    return scores


def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def pearson(x, y):
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)


# 1. Every run: finite Pearson/Spearman in eval_results.json and metrics.jsonl, a test submission.
metrics = {}
for run in RUNS:
    metrics[run] = dev_metrics(runs / run / "eval_results.json")
    epochs = [json.loads(line) for line in (runs / run / "metrics.jsonl").read_text().splitlines()]
    if not epochs:
        fail(runs / run / "metrics.jsonl", "expected one line per epoch")
    for e in epochs:
        if not all(finite(e.get("dev", {}).get(k)) for k in ("pearson", "spearmanr")) or not finite(e.get("train_loss")):
            fail(runs / run / "metrics.jsonl", f"epoch {e.get('epoch')}: expected finite dev pearson, spearmanr and train_loss")
    best = max(e["dev"]["pearson"] for e in epochs)
    if abs(metrics[run]["pearson"] - best) > 1e-12:
        fail(runs / run / "eval_results.json", f"pearson {metrics[run]['pearson']} is not the best epoch's ({best})")
    submission(runs / run / "STS-B.tsv", N_TEST)
    print(f"{run}: dev pearson {metrics[run]['pearson']:.4f} spearmanr {metrics[run]['spearmanr']:.4f}")

# 2. Distillation losses: loss = (1-a) ce + a kd + b pt on every progress line; regression KD > 0.
line_re = re.compile(r" loss (\S+) ce (\S+) kd (\S+) pt (\S+) ")
for run, (row, alpha, beta) in RUNS.items():
    if alpha is None:
        continue
    log = work / (run.split("/")[1] + ".log")
    parts = [tuple(float(v) for v in m.groups()) for m in map(line_re.search, log.read_text().splitlines()) if m]
    if len(parts) < 5:
        fail(log, f"expected progress lines 'loss L ce C kd K pt P', found {len(parts)}")
    for loss, ce, kd, pt in parts:
        if not all(math.isfinite(v) for v in (loss, ce, kd, pt)):
            fail(log, f"non-finite loss terms {(loss, ce, kd, pt)}")
        want = (1 - alpha) * ce + alpha * kd + beta * pt
        if abs(loss - want) > 1e-4 * max(1.0, abs(loss)):
            fail(log, f"loss {loss} != (1-{alpha})*{ce} + {alpha}*{kd} + {beta}*{pt} = {want}")
        if (kd > 0) != (alpha > 0):
            fail(log, f"kd = {kd} with alpha = {alpha}: regression KD (squared error to the teacher's "
                      "score) must be > 0 exactly when alpha > 0 (a softmax over one logit gives 0)")
        if (pt > 0) != (beta > 0):
            fail(log, f"pt = {pt} with beta = {beta}: the patient loss must be > 0 exactly when beta > 0")
    last = json.loads((runs / run / "metrics.jsonl").read_text().splitlines()[-1])
    if (last.get("train_kd", 0) > 0) != (alpha > 0) or (last.get("train_pt", 0) > 0) != (beta > 0):
        fail(runs / run / "metrics.jsonl", f"train_kd {last.get('train_kd')}, train_pt {last.get('train_pt')} "
                                           f"do not fit alpha {alpha}, beta {beta}")
    print(f"{run}: {len(parts)} loss lines, kd {parts[0][2]:.4g} .. {parts[-1][2]:.4g}, pt {parts[-1][3]:.4g}")

# 3. The exported PKD student outside training: pkd eval, pkd predict on dev and test (2 ranks).
pkd_dev = metrics["students/pkd"]
again = dev_metrics(work / "eval.json")
for key in ("pearson", "spearmanr"):
    if abs(again[key] - pkd_dev[key]) > 1e-5:
        fail(work / "eval.json", f"pkd eval of the exported model: {key} {again[key]}, training reported {pkd_dev[key]}")
gold = [float(row["score"]) for row in csv.DictReader(open(work / "data" / "dev.tsv", newline=""),
                                                      delimiter="\t", quoting=csv.QUOTE_NONE)]
predicted = submission(work / "dev-predictions.tsv", N_DEV)
if len(gold) != N_DEV:
    fail(work / "data" / "dev.tsv", f"expected {N_DEV} gold scores, got {len(gold)}")
if max(predicted) - min(predicted) < 0.01:
    fail(work / "dev-predictions.tsv", f"the student predicts one score for everything ({min(predicted)}..{max(predicted)})")
# Scores are written with 3 decimals: recomputed correlations agree to rounding.
mine = {"pearson": pearson(predicted, gold), "spearmanr": pearson(ranks(predicted), ranks(gold))}
for key, value in mine.items():
    if abs(value - pkd_dev[key]) > 0.01:
        fail(runs / "students/pkd/eval_results.json",
             f"{key} {pkd_dev[key]:.5f}, but recomputed from pkd predict's dev scores and dev.tsv's gold: {value:.5f}")
print(f"recomputed from predictions: pearson {mine['pearson']:.4f} spearmanr {mine['spearmanr']:.4f}")
test = submission(work / "STS-B.tsv", N_TEST)
during = submission(runs / "students/pkd/STS-B.tsv", N_TEST)
if max(abs(a - b) for a, b in zip(test, during)) > 0.0011:
    fail(work / "STS-B.tsv", "pkd predict's test scores differ from those written by pkd distill --test")

# 4. pkd report: an STS-B column with Pearson/Spearman x100 per row, CSV columns, the zip.
report = work / "report"
md = (report / "results.md").read_text()
table = [l for l in md.splitlines() if l.startswith("| Model |")]
if not table or "STS-B" not in [c.strip() for c in table[0].strip("|").split("|")]:
    fail(report / "results.md", f"expected a results table with an STS-B column, got header {table[:1]}")
if "4 runs" not in md or "4 complete" not in md:
    fail(report / "results.md", "expected '4 runs ...: 4 complete'")
for run, (row, _, _) in RUNS.items():
    exact = dev_metrics(runs / run / "eval_results.json", parse_float=Decimal)
    cell = "/".join(str((exact[k] * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
                    for k in ("pearson", "spearmanr"))
    if f"| {row} | {cell} |" not in md:
        fail(report / "results.md", f"expected the row '| {row} | {cell} |' (Pearson/Spearman x100 of {run})")
with open(report / "results.csv", newline="") as f:
    rows = list(csv.DictReader(f))
if len(rows) != 4:
    fail(report / "results.csv", f"expected 4 runs, got {len(rows)}")
for r in rows:
    if r.get("task") != "STS-B" or r.get("status") != "complete":
        fail(report / "results.csv", f"expected complete STS-B runs, got {r}")
    run = next((k for k in RUNS if r["run"].rstrip("/").endswith(k)), None)
    if run is None:
        fail(report / "results.csv", f"unexpected run {r['run']}")
    for key in ("pearson", "spearmanr"):
        if float(r.get(f"dev.{key}") or "nan") != metrics[run][key]:
            fail(report / "results.csv", f"{r['run']}: dev.{key} {r.get(f'dev.{key}')!r}, eval_results.json {metrics[run][key]!r}")
with zipfile.ZipFile(report / "glue_submission.zip") as z:
    if z.namelist() != ["STS-B.tsv"]:
        fail(report / "glue_submission.zip", f"expected exactly STS-B.tsv, got {z.namelist()}")
    if z.read("STS-B.tsv") != (runs / "students/pkd/STS-B.tsv").read_bytes():
        fail(report / "glue_submission.zip", "STS-B.tsv is not the PKD run's submission file")
print("report: " + next(l for l in md.splitlines() if l.startswith("| BERT2-PKD-Skip |")))
