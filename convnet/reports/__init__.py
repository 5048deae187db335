"""Reading runs back: TensorBoard events, reports of runs, models compared side by side.

  events         scalars from event files (a damaged record named, not fatal)
  event_tensors  every summary of an event file as arrays (histograms, images, hparams)
  report         plots and summary.md of runs (python -m convnet.report)
  compare        train and evaluate models side by side (python -m convnet.compare)
"""
