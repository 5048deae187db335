"""Prints the bench table of docs/results/engine/README.md from a folder of bench JSON files:
python docs/results/engine/summarize.py docs/results/engine/bench_e7bd5c2"""

import json
import os
import sys

NETWORKS = ("resnet20", "resnet56", "resnet18", "vgg16", "densenet100_12", "fast94_muon")


def row(result: dict, network: str, precision: str) -> str:
    figures, ratios = result["figures"], result["ratios"]
    keras = figures["keras_fit"]
    keras_rate = "n/a" if keras is None else f"{keras['median']:,.1f}"
    keras_ratio = "n/a" if keras is None else f"{ratios['ours_over_keras']:.2f}"
    return (f"| {network} (batch {result['config']['batch_size']}) | {precision} | "
            f"{figures['step']['median']:,.1f} | {figures['torch']['median']:,.1f} | "
            f"{ratios['ours_over_torch']:.2f} | {keras_rate} | {keras_ratio} | "
            f"{ratios['fraction_of_peak']:.3f} / {ratios['fraction_of_peak_paired']:.3f} | "
            f"{figures['peak']['max'] / 1e9:,.0f} |")


def main(folder: str) -> None:
    print("| network | precision | convnet step | PyTorch step | ours/PyTorch | Keras fit | "
          "ours/Keras | fraction of peak (max / paired) | peak max GFLOP/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for network in NETWORKS:
        for precision in ("mixed_bfloat16", "float32"):
            path = os.path.join(folder, f"{network}_{precision}.json")
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    print(row(json.load(f), network, precision))


if __name__ == "__main__":
    main(sys.argv[1])
