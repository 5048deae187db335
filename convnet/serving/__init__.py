"""A trained model put to use: loaded for inference, classifying files, exported.

  loaded_model  InferenceConfig, `load` and InferenceModel (a checkpoint ready to classify)
  images        image files decoded and brought to the dataset's shape
  predict       classify image files (python -m convnet.predict)
  export        ExportConfig and `export` (python -m convnet.export)
  formats       SavedModel, TFLite, ONNX and npz writers, and running a .tflite file
"""
