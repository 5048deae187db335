"""Sources: where uint8 [H, W, C] images and int32 labels come from.

  base          the Source protocol (`info`, `num_examples(split)`, `dataset(split)`)
  spec          SourceSpec (--data_source and friends) and make_source, the factory
  cifar_binary  CIFAR-10/100 binary files       cifar_python  CIFAR python batches
  mnist_idx     MNIST / Fashion-MNIST IDX files  tfds          any tfds image dataset
  synthetic     learnable data with no files     in_memory     arrays already decoded
  held_out      the last K training examples set aside for validation
  any_size      images of differing sizes, seen by the model at one (--image_size)
  folder        images in class folders          shards        TFRecord shards and a manifest
  arrays        numpy arrays of images, labels
  layout        where a dataset's files are      download      fetch, check the MD5, extract
  safe_pickle   an unpickler that refuses anything but plain arrays
"""
