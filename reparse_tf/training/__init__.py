"""Training: presets, the parser's training loop and the forensic classifiers'.

``presets`` (sizes, epochs, dtype), ``parser_training`` (FEN + PN on one fold: fit GMs, validation GMs
carved from the training side, checkpoints, history), ``diagnostics`` (per-epoch metrics on fit and
validation GMs, loss terms, fingerprint RMS), ``readout`` (linear heads fitted on the frozen
embedding, folded into Dense layers), ``forensic_training`` (detection / attribution),
``hardware`` (the machine's vector units and peak; the dtype / XLA setting measured per machine),
``throughput`` (FLOPs counted from the layers, images/s of a step).
"""
