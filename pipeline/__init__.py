"""The reparse pipeline (installed as ``reparse_tf.pipeline``): ``pipeline`` wires the components,
``configs`` holds every knob, ``local_runner`` runs it offline with kfp.local and ``kubeflow_runner``
compiles it for Kubeflow Pipelines; only the two runners know where it runs.
"""
