"""Serving: using a trained model on new images.

``inference`` (the parser of a model directory), ``forensic_inference`` (detector / attributor),
``parse_output`` (tables and JSON of ``reparse parse``), ``saved_model`` (the TF Serving SavedModel
with ``serving_default`` and ``serve_bytes`` signatures, and push), ``artifacts`` (version folders),
``default_models`` (the packaged parse / detect / attribute models), ``model_card`` (what a model was measured at).
"""
