"""The ratios of the bench's figures, their targets, and the table it prints.

Ratios of medians: (3)/(2) input over compute (target >= 0.95: the input
pipeline is off the critical path), (2)/(4) and (3)/(4) ours over Keras (target
>= 1: no slower than model.fit), and (2) x training FLOPs per example / (5), the
fraction of the matmul peak the step reaches (target >= 0.6). The table shows
rates in their unit (examples/sec, images/sec), FLOP/s as GFLOP/s.
"""


from convnet.benchmarking.flops import TRAINING_FLOPS_PER_FORWARD
from convnet.benchmarking.timing import Figure

# Targets of issue 4: input off the critical path, no slower than Keras, most of the peak.
TARGETS = {"input_over_compute": 0.95, "ours_over_keras": 1.0, "fed_over_keras": 1.0,
           "fraction_of_peak": 0.6}

FIGURE_ROWS = (("input", "1 input pipeline"), ("step", "2 step, in-memory batch"),
               ("step_with_input", "3 step + input pipeline"), ("keras_fit", "4 keras model.fit"),
               ("peak", "5 matmul peak"))
RATIO_ROWS = (("input_over_compute", "(3)/(2) input off the critical path"),
              ("ours_over_keras", "(2)/(4) ours vs keras model.fit"),
              ("fed_over_keras", "(3)/(4) same, both fed by the pipeline"),
              ("fraction_of_peak", "(2)/(5) fraction of peak"))


def ratios(figures: dict[str, Figure | None], training_flops_per_example: int
           ) -> dict[str, float | None]:
    """The ratios of the figures' medians (None where a figure is missing)."""
    step, fed, peer = figures["step"], figures["step_with_input"], figures.get("keras_fit")
    peak = figures["peak"]
    return {
        "input_over_compute": fed.median / step.median,
        "ours_over_keras": step.median / peer.median if peer else None,
        "fed_over_keras": fed.median / peer.median if peer else None,
        "fraction_of_peak": step.median * training_flops_per_example / peak.median,
    }


def met(result_ratios: dict[str, float | None]) -> dict[str, bool | None]:
    """Whether each ratio reaches its target (None where the ratio is missing)."""
    return {key: None if value is None else value >= TARGETS[key]
            for key, value in result_ratios.items()}


def _rate(value: float, unit: str) -> str:
    return f"{value / 1e9:,.1f}" if unit == "FLOP/s" else f"{value:,.1f}"


def _load(machine: dict) -> str:
    """'1.0 before, 2.5 after' (1-minute load averages), or '?' when not recorded."""
    if "load_average_before" not in machine:
        return "?"
    return (f"{machine['load_average_before'][0]:.1f} before, "
            f"{machine['load_average_after'][0]:.1f} after")


def format_table(result: dict) -> str:
    """The figures (median, min-max, IQR) and the ratios against their targets."""
    config, flops = result["config"], result["flops"]
    lines = [f"model {config['model']}, batch {config['batch_size']}, {config['data_source']} "
             f"{config['dataset']}, {config['precision']}{', xla' if config['xla'] else ''}, "
             f"strategy {config['strategy']} ({config['replicas']} replica(s)), "
             f"{config['optimizer']}; {config['repeats']} x {config['steps']} steps",
             f"{result['machine']['device']}; load average {_load(result['machine'])}",
             f"{'figure':<26}{'median':>12}{'min - max':>22}{'IQR':>22}  unit"]
    for key, label in FIGURE_ROWS:
        figure = result["figures"][key]
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
        lines.append(f"{label:<40}{shown:>8}{'>= ' + str(TARGETS[key]):>10}  {verdict}")
    return "\n".join(lines)
