"""The one declaration of the 25 hyperparameters (``hyperparameters.json``) and the RED116 tables
(installed as ``reparse_tf.schemas``; read through ``reparse_tf.data.schema``)."""
