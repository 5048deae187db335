"""How the weights move: optimizers, learning-rate schedules, averages, per-variable groups.

  config           OptimConfig: the optimisation flags and the objects they make
  optimizers       SGD (momentum, Nesterov), Adam, Adadelta; the decoupled form
  muon             Muon: momentum orthogonalized by Newton-Schulz (conv filters)
  grouped          one optimizer per variable group, in one step
  schedules        learning rate by step; Epochs, the one conversion of epochs to steps
  ema              the exponential moving average of the weights (evaluation's weights)
  lookahead        lookahead averaging
  variable_groups  per-variable learning-rate and decay scales, freezing after N epochs
"""
