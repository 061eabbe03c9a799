"""Dev accuracy of a benchmark's runs per seed as a Markdown table with mean and standard deviation
(bench/run_seeds_bench.sh, bench/run_objectives_bench.sh).
Usage: seed_table.py WORK "SEEDS" ROW=LABEL...  (run directories WORK/ROW-seedSEED)"""
import json
import statistics
import sys


def accuracy(run):
    return json.load(open(f"{run}/eval_results.json"))["dev"]["accuracy"]


def main():
    work, seeds, rows = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
    print("| student | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | std |")
    print("|---|" + "---|" * (len(seeds) + 2))
    for spec in rows:
        row, label = spec.split("=", 1)
        v = [accuracy(f"{work}/{row}-seed{s}") for s in seeds]
        spread = statistics.stdev(v) if len(v) > 1 else 0
        print(f"| {label} | " + " | ".join(f"{x:.4f}" for x in v) +
              f" | {statistics.mean(v):.4f} | {spread:.4f} |")


if __name__ == "__main__":
    main()
