"""What every part of convnet stands on: config fields that are also flags (options), the
compute settings (devices, precision), errors, console lines, output directories, wall-time
phases, the mains' quiet start and guarded run, PNG figures.

  options        a config field with its flag's default, help, choices and bounds
  compute        ComputeConfig: --strategy, --precision, --xla
  distribute     tf.distribute strategies; who is chief, where each worker writes
  precision      compute dtypes, the dynamic loss scale
  onednn         TensorFlow's oneDNN kernels on every x86 CPU (set before TensorFlow loads)
  errors         the exceptions convnet raises (each names the problem and the way out)
  console        timestamped log lines and progress
  paths          output directories checked up front
  timing         wall time from process start, split into phases
  quiet_start    the mains' stderr without TensorFlow's start-up lines
  cli            run an absl main: user errors as one line and an exit code
  closed_stdout  a main goes on when its stdout is closed early
  plots          line plots and the confusion-matrix figure as PNG (matplotlib, optional)
  converter_output  the TFLite/ONNX converters' noise held back in a main
  version        convnet's version
"""
