"""The ratios of the bench's figures, their targets, and the table it prints.

Ratios: (3)/(2) input over compute (target >= 0.95: the input pipeline is off the critical
path); (2)/(4) and (3)/(4) ours over Keras `model.fit` (target >= 1.2); (2)/(6) ours over
PyTorch's step (target >= 1.3 in bfloat16, 1.2 otherwise); and the fraction of the matmul peak
the step reaches, (2) x training FLOPs per example / (5), twice: against the peak's maximum
(the ceiling: figure 5's fastest round), and paired (5'): the median over the step's rounds of
each round's FLOP/s over the peak round that followed it, seconds apart, which a shared
machine's slow and fast spells move alike (targets 0.7 in bfloat16, 0.75 otherwise). Ratios of
rates are of their medians. The table shows rates in their unit (examples/sec, images/sec),
FLOP/s as GFLOP/s.
"""

import statistics

from convnet.benchmarking.flops import TRAINING_FLOPS_PER_FORWARD
from convnet.benchmarking.op_table import OpRow, format_op_table
from convnet.benchmarking.round_timing import Figure

# The targets: input off the critical path (issue 4), ahead of Keras and PyTorch and near the
# peak (issue 29); bfloat16 has its own where they differ.
TARGETS = {"input_over_compute": 0.95, "ours_over_keras": 1.2, "fed_over_keras": 1.2,
           "ours_over_torch": 1.2, "fraction_of_peak": 0.75, "fraction_of_peak_paired": 0.75}
BFLOAT16_TARGETS = {"ours_over_torch": 1.3, "fraction_of_peak": 0.7,
                    "fraction_of_peak_paired": 0.7}

FIGURE_ROWS = (("input", "1 input pipeline"), ("step", "2 step, in-memory batch"),
               ("step_with_input", "3 step + input pipeline"), ("keras_fit", "4 keras model.fit"),
               ("peak", "5 matmul peak"), ("peak_paired", "5' peak beside (2)"),
               ("torch", "6 pytorch step"))
RATIO_ROWS = (("input_over_compute", "(3)/(2) input off the critical path"),
              ("ours_over_keras", "(2)/(4) ours vs keras model.fit"),
              ("fed_over_keras", "(3)/(4) same, both fed by the pipeline"),
              ("ours_over_torch", "(2)/(6) ours vs pytorch"),
              ("fraction_of_peak", "(2)/max(5) fraction of peak"),
              ("fraction_of_peak_paired", "(2)/(5') same, round by round"))


def targets(precision: str) -> dict[str, float]:
    """The ratios' targets for a resolved --precision."""
    return {**TARGETS, **(BFLOAT16_TARGETS if precision == "mixed_bfloat16" else {})}


def ratios(figures: dict[str, Figure | None], training_flops_per_example: int
           ) -> dict[str, float | None]:
    """The ratios (see the module; None where a figure is missing)."""
    step, fed, peer = figures["step"], figures["step_with_input"], figures.get("keras_fit")
    torch, paired = figures.get("torch"), figures.get("peak_paired")
    flops = training_flops_per_example
    return {
        "input_over_compute": fed.median / step.median,
        "ours_over_keras": step.median / peer.median if peer else None,
        "fed_over_keras": fed.median / peer.median if peer else None,
        "ours_over_torch": step.median / torch.median if torch else None,
        "fraction_of_peak": step.median * flops / max(figures["peak"].values),
        "fraction_of_peak_paired": statistics.median(
            rate * flops / peak for rate, peak in zip(step.values, paired.values, strict=True)
        ) if paired else None,
    }


def met(result_ratios: dict[str, float | None], result_targets: dict[str, float] | None = None
        ) -> dict[str, bool | None]:
    """Whether each ratio reaches its target (None where the ratio is missing)."""
    result_targets = result_targets or TARGETS
    return {key: None if value is None else value >= result_targets[key]
            for key, value in result_ratios.items()}


def _rate(value: float, unit: str) -> str:
    return f"{value / 1e9:,.1f}" if unit == "FLOP/s" else f"{value:,.1f}"


def _load(machine: dict) -> str:
    """'1.0 before, 2.5 after' (1-minute load averages), or '?' when not recorded."""
    if "load_average_before" not in machine:
        return "?"
    return (f"{machine['load_average_before'][0]:.1f} before, "
            f"{machine['load_average_after'][0]:.1f} after")


def _flags(machine: dict) -> str:
    """' [amx_bf16 avx2 ...], oneDNN on': the CPU flags and kernels a timing depends on ('' for
    what was not recorded)."""
    flags = f" [{' '.join(machine['cpu_flags'])}]" if machine.get("cpu_flags") else ""
    if "onednn" in machine:
        flags += f", oneDNN {'on' if machine['onednn'] else 'off'}"
    return flags


def format_table(result: dict) -> str:
    """The figures (median, min-max, IQR) and the ratios against their targets."""
    config, flops = result["config"], result["flops"]
    lines = [f"model {config['model']}, batch {config['batch_size']}, {config['data_source']} "
             f"{config['dataset']}, {config['precision']}{', xla' if config['xla'] else ''}, "
             f"strategy {config['strategy']} ({config['replicas']} replica(s)), "
             f"{config['optimizer']}; {config['repeats']} x {config['steps']} steps",
             f"{result['machine']['device']}{_flags(result['machine'])}; load average "
             f"{_load(result['machine'])}",
             f"{'figure':<26}{'median':>12}{'min - max':>22}{'IQR':>22}  unit"]
    for key, label in FIGURE_ROWS:
        figure = result["figures"].get(key)
        if figure is None:
            lines.append(f"{label:<26}{'n/a':>12}{'':>22}{'':>22}  (not measured)")
            continue
        unit = figure["unit"]
        spread = f"{_rate(figure['min'], unit)} - {_rate(figure['max'], unit)}"
        iqr = f"{_rate(figure['q1'], unit)} - {_rate(figure['q3'], unit)}"
        shown_unit = "GFLOP/s" if unit == "FLOP/s" else unit
        lines.append(f"{label:<26}{_rate(figure['median'], unit):>12}{spread:>22}{iqr:>22}"
                     f"  {shown_unit}")
    lines.append(f"model FLOPs: {flops['training_per_example'] / 1e6:,.1f} M a training example "
                 f"({TRAINING_FLOPS_PER_FORWARD} x {flops['forward_per_example'] / 1e6:,.1f} M "
                 f"forward); step (2) = "
                 f"{flops['step_flops_per_sec'] / 1e9:,.1f} GFLOP/s")
    lines.append(f"{'ratio':<40}{'value':>8}{'target':>10}")
    for key, label in RATIO_ROWS:
        value = result["ratios"][key]
        shown = "n/a" if value is None else f"{value:.3f}"
        verdict = {True: "met", False: "below", None: ""}[result["met"][key]]
        target = result.get("targets", TARGETS)[key]
        lines.append(f"{label:<40}{shown:>8}{'>= ' + str(target):>10}  {verdict}")
    for framework, rows in result.get("op_tables", {}).items():
        lines.append(format_op_table([OpRow(*row) for row in rows],
                                     f"op table of the {framework} step, ms a step summed over "
                                     f"threads:"))
    return "\n".join(lines)
