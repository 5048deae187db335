"""The op vocabulary and the layers over it (what models are written in).

  ops         pure functions on tensors, and variables that carry their weight decay
  layers/     tf.Module layers, one module a kind (re-exported by `convnet.nn.layers`)
  losses      cross-entropy with label smoothing
  whitening   patch whitening (airbench's first layer), initialised from data

`convnet.ops` and `convnet.layers` are the same modules under their documented names.
"""
