"""Data: from image folders to training arrays.

The 25-hyperparameter schema (``schema``, declared once in ``schemas/hyperparameters.json``) and
the label tables built on it (``labels``); the RED layout (``layout``: one folder per GM +
``labels.csv``) and its leave-GMs-out folds (``folds``); image decoding shared by ingest, serving and
the commands (``images``, ``user_images``); the Beam ingest to TFRecords or npz shards
(``ingest``, ``npz_shards``, ``examples``) and the shards' images read per batch for training
(``shard_images``); real images for detection
(``real_images``); synthetic layouts for plumbing tests (``synthetic``).
"""
