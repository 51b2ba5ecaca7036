"""KFP v2 components of the reparse pipeline (installed as ``reparse_tf.components``).

One folder per step: ``component.py`` is the KFP spec (inputs, outputs, parameters; imports only kfp),
``executor.py`` the thin executor that calls one ``reparse_tf`` entry point through ``_common.call``
(one header line, the time taken, one clear error naming the step).
"""
